// Links and selection: #L123 and #L10-L20 links, and copying the selected
// lines without their numbers or times.
//
// One of the files joined, in the order src/http/viewer.rs lists, into the
// body of the page's one script function (assets/viewer/README.md): they
// share its declarations.

  // ------------------------------------------------- #L123 and #L10-L20

  function parseHash() {
    const m = /^#L(\d+)(?:-L?(\d+))?$/.exec(location.hash);
    if (!m) return null;
    const a = Number(m[1]);
    const b = m[2] ? Number(m[2]) : a;
    if (a < 1 || b < 1) return null;
    return [Math.min(a, b), Math.max(a, b)];
  }

  function applyHash(jumpThere) {
    selection = parseHash();
    generation++;
    copyBtn.hidden = !selection;
    if (selection) {
      const k = selection[1] - selection[0] + 1;
      copyBtn.title = 'Copy line' + (k === 1 ? ' ' + selection[0] : 's ' + selection[0] + '–' + selection[1]) + ' (without line numbers)';
    }
    if (selection && jumpThere) {
      setFollowing(false);
      pendingJump = true;
      if (selection[0] <= N) {
        pendingJump = false;
        goToLine(selection[0], true);
      }
    }
    scheduleRender();
  }

  window.addEventListener('hashchange', () => applyHash(true));

  // ------------------------------------------------------------------ copy
  // What is copied is the log's text as shown: no line numbers, no
  // timestamps (they are generated content, outside the text), one line
  // per row.

  let copyText = null; // what the next copy event puts on the clipboard

  function selectedText(sel) {
    const range = sel.getRangeAt(0);
    const out = [];
    for (const row of rowsEl.children) {
      if (!range.intersectsNode(row)) continue;
      const tx = row.querySelector('.tx');
      if (!tx) continue;
      const part = document.createRange();
      part.selectNodeContents(tx);
      if (range.compareBoundaryPoints(Range.START_TO_START, part) > 0) part.setStart(range.startContainer, range.startOffset);
      if (range.compareBoundaryPoints(Range.END_TO_END, part) < 0) part.setEnd(range.endContainer, range.endOffset);
      out.push(part.toString());
    }
    return out.join('\n');
  }

  // Lines a..b as text, if the page holds them all; null otherwise.
  function linesInPage(a, b) {
    const out = [];
    for (let l = a; l <= b; l++) {
      const r = rowOfLine(l);
      const src = r < totalRows() && lineOfRow(r) === l ? rowData(r) : null;
      if (!src || src.scr.truncated) return null;
      out.push(src.scr.text[src.i]);
    }
    return out.join('\n');
  }

  // Lines a..b as text, from the server.
  async function fetchLines(a, b) {
    const scr = new Screen(true, a - 1);
    const res = await fetch(logPath + '?lines=' + a + '-' + b, { cache: 'no-store' });
    if (!res.ok) throw new Error(String(res.status));
    scr.write(await res.text());
    return scr.text.slice(0, Math.min(scr.lineCount() - (a - 1), b - a + 1)).join('\n');
  }

  function copiedSays(what) {
    copyBtn.textContent = what;
    setTimeout(() => (copyBtn.textContent = 'Copy lines'), 1500);
  }

  document.addEventListener('copy', (e) => {
    let text = copyText;
    copyText = null;
    const sel = getSelection();
    if (text === null && sel && sel.rangeCount && !sel.isCollapsed && logEl.contains(sel.getRangeAt(0).commonAncestorContainer)) {
      text = selectedText(sel);
    } else if (text === null && selection && (!sel || sel.isCollapsed) && !searchBar.contains(document.activeElement)) {
      const [a, b] = selection;
      text = b - a < COPY_MAX_LINES ? linesInPage(a, b) : null;
      if (text === null) {
        copySelection();
        e.preventDefault();
        return;
      }
    }
    if (text === null) return;
    e.clipboardData.setData('text/plain', text);
    e.preventDefault();
  });

  // Copies the lines of #L10-L20.
  async function copySelection() {
    if (!selection) return;
    const a = selection[0];
    const b = Math.min(selection[1], a + COPY_MAX_LINES - 1);
    let text = linesInPage(a, b);
    if (text !== null) {
      // Synchronously, inside the click: the copy event carries it.
      copyText = text;
      if (document.execCommand('copy')) {
        copiedSays('Copied');
        return;
      }
      copyText = null;
    }
    try {
      if (text === null) text = await fetchLines(a, b);
      await navigator.clipboard.writeText(text);
      copiedSays('Copied');
    } catch {
      copiedSays('Copy failed');
    }
  }

  copyBtn.addEventListener('click', copySelection);

