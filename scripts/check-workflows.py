#!/usr/bin/env python3
"""Checks the GitHub workflows: each parses, has `on:` and jobs with
runs-on and steps, and pins every action to a major version; the release
workflow runs on pushed version tags. Usage: check-workflows.py FILE..."""
import re, sys, yaml
problems = []
for path in sys.argv[1:]:
    before = len(problems)
    with open(path) as f:
        doc = yaml.safe_load(f)  # raises on invalid YAML
    # YAML 1.1 reads the key `on` as True.
    on = doc.get("on", doc.get(True))
    if not on or not isinstance(doc.get("jobs"), dict) or not doc["jobs"]:
        problems.append(f"{path}: needs `on:` and `jobs:`")
        continue
    for name, job in doc["jobs"].items():
        if "runs-on" not in job or not job.get("steps"):
            problems.append(f"{path}: job {name} needs runs-on and steps")
        for step in job.get("steps", []):
            uses = step.get("uses")
            if uses is None:
                continue
            # A major version tag (@v4), or dtolnay/rust-toolchain's toolchain
            # channel refs, which are how that action is meant to be pinned.
            if not (re.fullmatch(r"[\w.-]+/[\w./-]+@v\d+", uses)
                    or re.fullmatch(r"dtolnay/rust-toolchain@(stable|beta|nightly|1\.\d+(\.\d+)?)", uses)):
                problems.append(f"{path}: job {name}: `uses: {uses}` is not pinned to a major version")
    if len(problems) == before:
        print(f"{path}: valid, {len(doc['jobs'])} jobs, actions pinned")
release = yaml.safe_load(open(".github/workflows/release.yml"))
if release.get("on", release.get(True)) != {"push": {"tags": ["v*"]}}:
    problems.append("release.yml: must run on pushed tags v*")
for p in problems:
    print("FAIL:", p)
sys.exit(1 if problems else 0)
