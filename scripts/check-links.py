#!/usr/bin/env python3
"""Every relative link in README.md and docs/*.md resolves.

A link to a file must name one that exists; a link with `#anchor` must
name a heading of its page, as GitHub makes anchors from headings:
lowercase, punctuation dropped but `-` and `_`, each space a `-`, and a
repeated heading numbered `-1`, `-2`, ... Links inside fenced code blocks
and inline code are not links. Absolute URLs (`https:` ...) are not
checked: CI may have no network.

Usage: python3 scripts/check-links.py [FILE.md ...]
(default: README.md and docs/*.md, from the repository's root).
"""

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def prose(text):
    """The lines outside fenced code blocks, inline code removed, with
    their line numbers."""
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.lstrip()
        marker = stripped[:3]
        if marker in ("```", "~~~"):
            if fence is None:
                fence = marker
            elif marker == fence:
                fence = None
            continue
        if fence is None:
            yield number, re.sub(r"`[^`]*`", "", line)


def slug(heading):
    """GitHub's anchor for a heading's text."""
    text = re.sub(r"`([^`]*)`", r"\1", heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path, cache={}):
    """The anchors a Markdown file's headings make."""
    if path not in cache:
        seen = {}
        found = set()
        fence = None
        for line in path.read_text(encoding="utf-8").splitlines():
            marker = line.lstrip()[:3]
            if marker in ("```", "~~~"):
                fence = marker if fence is None else (None if marker == fence else fence)
                continue
            match = HEADING.match(line) if fence is None else None
            if match:
                base = slug(match.group(2))
                count = seen.get(base, 0)
                seen[base] = count + 1
                found.add(base if count == 0 else f"{base}-{count}")
        cache[path] = found
    return cache[path]


def check(page):
    errors = []
    text = page.read_text(encoding="utf-8")
    for number, line in prose(text):
        targets = [m.group(1) for m in LINK.finditer(line)]
        reference = REFERENCE.match(line)
        if reference:
            targets.append(reference.group(1))
        for target in targets:
            if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):
                continue  # https:, mailto: ...
            file_part, _, anchor = target.partition("#")
            where = page if not file_part else (page.parent / file_part).resolve()
            if not where.exists():
                errors.append(f"{page.relative_to(ROOT)}:{number}: {target}: no such file")
                continue
            if anchor and where.suffix == ".md" and anchor not in anchors(where):
                errors.append(f"{page.relative_to(ROOT)}:{number}: {target}: no such heading")
    return errors


def main(argv):
    pages = [pathlib.Path(a).resolve() for a in argv[1:]]
    if not pages:
        pages = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
    errors = [e for page in pages for e in check(page)]
    for error in errors:
        print(error)
    print(f"{len(pages)} pages: {'ok' if not errors else f'{len(errors)} broken links'}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
