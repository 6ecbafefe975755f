// Rendering and scrolling: the rows on screen, built each frame from the
// lines, following the tail, jumps and scrolling; and the view settings
// (wrap, timestamps, follow).
//
// One of the files joined, in the order src/http/viewer.rs lists, into the
// body of the page's one script function (assets/viewer/README.md): they
// share its declarations.

  // --------------------------------------------------------------- render

  function buildRow(r) {
    const l = lineOfRow(r);
    const row = document.createElement('div');
    row.className = 'row';
    row.dataset.line = String(l);
    if (selection && l >= selection[0] && l <= selection[1]) row.classList.add('sel');
    if (isCurrentMatch(r, l)) row.classList.add('cur');
    if (errorLines.has(l)) row.classList.add('err');
    const ln = document.createElement('a');
    ln.className = 'ln';
    ln.href = '#L' + l;
    ln.dataset.n = String(l);
    row.append(ln);
    if (tsMode !== 'off') {
      const ts = document.createElement('span');
      ts.className = 'ts';
      ts.dataset.ts = tsText(l);
      row.append(ts);
    }
    const tx = document.createElement('span');
    tx.className = 'tx';
    const sec = headerAt.get(l);
    const src = rowData(r);
    if (sec && rowOfLine(l) === r) {
      // A section's first line: its name, duration and errors; a click folds it.
      const folded = isFolded(sec);
      row.classList.add('sec');
      if (folded) row.classList.add('folded');
      row.dataset.sec = String(sec.index);
      const tw = document.createElement('button');
      tw.type = 'button';
      tw.className = 'tw';
      tw.setAttribute('aria-expanded', String(!folded));
      tw.setAttribute('aria-label', (folded ? 'Unfold ' : 'Fold ') + sec.name);
      tw.style.setProperty('--depth', String(sec.depth || 0));
      tx.textContent = sec.name;
      const meta = document.createElement('span');
      meta.className = 'meta';
      meta.dataset.dur = sec.open ? 'running' : formatDuration(sec.duration_secs);
      if (sec.start) meta.title = 'Started ' + new Date(sec.start).toLocaleString();
      if (sec.errors) meta.dataset.errs = sec.errors.toLocaleString('en-US') + (sec.errors === 1 ? ' error' : ' errors');
      row.append(tw, tx, meta);
    } else if (src) {
      fillText(tx, src.scr.text[src.i], src.scr.runs[src.i], src.scr.styles, search.re);
      if (src.scr.truncated) row.classList.add('cut');
      row.append(tx);
    } else {
      row.classList.add('pending');
      row.append(tx);
    }
    return row;
  }

  // Appends text t to el as text nodes and styled spans, with search matches
  // in <mark>.
  function fillText(el, t, runs, styles, re) {
    const marks = [];
    if (re && t.length) {
      re.lastIndex = 0;
      let m;
      while ((m = re.exec(t)) !== null) {
        if (m[0].length === 0) {
          re.lastIndex++;
          continue;
        }
        marks.push(m.index, m.index + m[0].length);
      }
    }
    if (!runs && !marks.length) {
      el.textContent = t;
      return;
    }
    const cuts = new Set([0, t.length]);
    if (runs) for (let k = 0; k < runs.length; k += 3) cuts.add(Math.min(runs[k], t.length)).add(Math.min(runs[k + 1], t.length));
    for (const c of marks) cuts.add(c);
    const points = [...cuts].sort((a, b) => a - b);
    let rk = 0;
    let mk = 0;
    for (let p = 0; p + 1 < points.length; p++) {
      const a = points[p];
      const b = points[p + 1];
      if (a === b) continue;
      while (runs && rk < runs.length && runs[rk + 1] <= a) rk += 3;
      while (mk < marks.length && marks[mk + 1] <= a) mk += 2;
      let node = document.createTextNode(t.slice(a, b));
      if (runs && rk < runs.length && runs[rk] <= a) {
        const style = styles[runs[rk + 2]];
        const span = document.createElement('span');
        if (style.cls) span.className = style.cls;
        if (style.fg) span.style.color = style.fg;
        if (style.bg) span.style.backgroundColor = style.bg;
        span.append(node);
        node = span;
      }
      if (mk < marks.length && marks[mk] <= a) {
        const mark = document.createElement('mark');
        mark.append(node);
        node = mark;
      }
      el.append(node);
    }
  }

  function render() {
    renderScheduled = false;
    if (pendingJump && selection && (selection[0] <= N || ended())) {
      pendingJump = false;
      goToLine(Math.max(1, Math.min(selection[0], N)), true);
    }
    if (labelsDirty || String(N) !== root.dataset.lines) {
      updateLabels();
      labelsDirty = false;
    }
    const key = currentHiddenKey();
    if (key !== hiddenKey) {
      // What is hidden may change the rows above the one at the top: that
      // one stays where it is.
      const keep = pendingAnchor || (!jump && !following && hiddenKey ? topAnchor() : null);
      const moved = pendingAnchor !== null;
      pendingAnchor = null;
      const starts = hidStart;
      const ends = hidEnd;
      computeHidden();
      hiddenKey = currentHiddenKey();
      const changed = !sameHidden(starts, ends);
      if (keep && !jump && !following && (moved || changed)) jump = { line: keep.line, off: keep.off };
      if (changed) generation++;
    }
    const n = dispCount();
    const vh = logEl.clientHeight;
    const full = n * ROW_H * (wrap ? wrapFactor : 1);
    const h = Math.min(full, MAX_PX);
    if (h !== spacerH) {
      spacer.style.height = h + 'px';
      spacerH = h;
    }
    scale = !wrap && full > h && h > vh ? (full - vh) / (h - vh) : 1;
    const digits = String(Math.max(N, 1)).length;
    if (digits !== shownDigits) {
      rowsEl.style.setProperty('--digits', String(digits));
      shownDigits = digits;
      generation++;
    }

    if (jump && jumpWaits(jump)) {
      // Its window is on its way: stay here a moment rather than paint a
      // screen of empty rows, then the line.
      return;
    }
    if (jump) {
      scrollToJump(jump, n, vh);
      jump = null;
    } else if (following) {
      setScrollTop(h);
    }

    const dirtyFrom = tail ? headRows() + tail.screen.dirty : Infinity;
    if (tail) tail.screen.dirty = Infinity;
    if (wrap) drawWrapped(n, vh, dirtyFrom);
    else {
      const built = drawFixed(n, vh, dirtyFrom);
      // Wide lines widen the scroll area. The estimate counts a tab as one
      // column, so the rows just built are measured too (their text, not
      // the rows, which are at least as wide as the view), once painted:
      // measuring now would lay them out twice in this frame.
      if (tail && tail.screen.maxCols > maxCols) maxCols = tail.screen.maxCols;
      widen(estimatedWidth());
      if (built.length) {
        toMeasure.push(...built);
        if (!measureTimer) measureTimer = setTimeout(measureRows, 0);
      }
    }
    fetchWhatIsShown();
  }

  let toMeasure = [];
  let measureTimer = 0;

  function measureRows() {
    measureTimer = 0;
    let w = 0;
    for (const row of toMeasure) {
      const tx = row.isConnected && row.querySelector('.tx');
      if (tx) w = Math.max(w, tx.offsetLeft + tx.offsetWidth);
    }
    toMeasure = [];
    widen(w);
  }

  function widen(w) {
    if (w > spacerW && !wrap) {
      spacerW = w;
      spacer.style.width = w + 'px';
    }
  }

  // Scrolls to a line (or row) asked for: `near` puts it a third of the way
  // down, `off` keeps it that far past the top, else only if it is off screen.
  function scrollToJump(j, n, vh) {
    if (!n) return;
    const r = j.row !== undefined ? j.row : rowOfLine(j.line);
    const d = Math.min(dispOfRow(r), n - 1);
    if (wrap) {
      if (!j.near && j.off === undefined && d > shownTop && d < shownLast) return;
      const max = Math.max(0, logEl.scrollHeight - vh);
      const f = j.off !== undefined ? d / n : n > 1 ? Math.min(1, (d + 0.5) / n) : 0;
      setScrollTop(f * max);
      return;
    }
    const y = d * ROW_H;
    if (j.off !== undefined) {
      setScrollTop((y + j.off) / scale);
      return;
    }
    const top = logEl.scrollTop * scale;
    if (!j.near && y >= top && y + ROW_H <= top + vh) return;
    const want = Math.max(0, j.near ? y - vh / 3 : y - vh / 2);
    setScrollTop(want / scale);
  }

  // Puts the rows `want` (row numbers, in order) into #rows, reusing those
  // already there that did not change.
  // Returns the rows it built.
  function placeRows(want, dirtyFrom) {
    const same = shownGen === generation;
    if (same && dirtyFrom === Infinity && want.length === shownList.length && want.every((r, k) => r === shownList[k])) return [];
    const next = new Map();
    const els = [];
    const built = [];
    for (const r of want) {
      let el = same && r < dirtyFrom ? shown.get(r) : undefined;
      if (!el) {
        el = buildRow(r);
        built.push(el);
      }
      next.set(r, el);
      els.push(el);
    }
    rowsEl.replaceChildren(...els);
    shown = next;
    shownList = want;
    shownGen = generation;
    if (!firstLinesMarked && els.some((el) => !el.classList.contains('pending'))) {
      firstLinesMarked = true;
      afterPaint('livelog:first-lines');
      if (loadedPending) afterPaint('livelog:loaded');
      loadedPending = false;
    }
    return built;
  }

  function drawFixed(n, vh, dirtyFrom) {
    const top = logEl.scrollTop * scale;
    const first = Math.min(Math.floor(top / ROW_H), Math.max(n - 1, 0));
    const offset = top - first * ROW_H;
    const count = Math.max(0, Math.min(n - first, Math.ceil((vh + offset) / ROW_H) + 1));
    rowsEl.style.transform = 'translateY(' + (logEl.scrollTop - offset) + 'px)';
    const want = [];
    for (let d = first; d < first + count; d++) want.push(rowOfDisp(d));
    const built = placeRows(want, dirtyFrom);
    shownTop = first;
    shownLast = first + Math.max(0, count - 1);
    return built;
  }

  // Wrapped rows have different heights: the scroll position is a fraction
  // of the log, f; the row at f·n is put at f of the screen's height, and
  // the rows above and below it fill the screen. At the top and bottom this
  // is exact; in between, scrolling moves by lines.
  function drawWrapped(n, vh, dirtyFrom) {
    const max = Math.max(0, logEl.scrollHeight - vh);
    const f = max > 0 ? Math.min(1, logEl.scrollTop / max) : 0;
    if (!n) {
      placeRows([], dirtyFrom);
      return;
    }
    const p = f * n;
    const a = Math.min(Math.floor(p), n - 1);
    const frac = p - a;
    const m = Math.ceil(vh / ROW_H) + 1;
    const from = Math.max(0, a - m);
    const to = Math.min(n, a + m + 1);
    const want = [];
    for (let d = from; d < to; d++) want.push(rowOfDisp(d));
    placeRows(want, dirtyFrom);
    const els = rowsEl.children;
    const anchor = els[a - from];
    const y = f * vh - frac * anchor.offsetHeight;
    const shift = y - anchor.offsetTop;
    rowsEl.style.transform = 'translateY(' + (logEl.scrollTop + shift) + 'px)';
    let topK = 0;
    let lastK = els.length - 1;
    let height = 0;
    for (let k = 0; k < els.length; k++) {
      const el = els[k];
      const t = el.offsetTop + shift;
      height += el.offsetHeight;
      if (t + el.offsetHeight <= 0) topK = k + 1;
      if (t < vh) lastK = k;
    }
    shownTop = from + Math.min(topK, els.length - 1);
    shownLast = from + lastK;
    // The scroll range follows how tall wrapped lines are on average.
    const factor = Math.max(1, height / (els.length * ROW_H));
    if (Math.abs(factor - wrapFactor) / wrapFactor > 0.1) {
      wrapFactor = factor;
      scheduleRender();
    }
  }

  // Asks for the windows and arrival times the rows on screen lack, and
  // the windows next to them.
  function fetchWhatIsShown() {
    if (!shownList.length || indexOff) return;
    const h = headRows();
    let lo = Infinity;
    let hi = -Infinity;
    for (const r of shownList) {
      if (r < h && !findBlock(r + 1)) {
        if (r + 1 < lo) lo = r + 1;
        if (r + 1 > hi) hi = r + 1;
      }
    }
    // Moved far away: stop fetching what is no longer near.
    const first = lineOfRow(shownList[0]);
    const last = lineOfRow(shownList[shownList.length - 1]);
    for (const x of loads.slice()) {
      if (x.last < first - 2 * BLOCK_LINES || x.first > last + 2 * BLOCK_LINES) {
        x.ctrl.abort();
        loads.splice(loads.indexOf(x), 1);
      }
    }
    if (lo <= hi) {
      ensureBlock(lo);
      ensureBlock(hi);
    } else if (!loads.length) {
      ensureBlock(first - BLOCK_LINES / 5);
      ensureBlock(last + BLOCK_LINES / 5);
    }
    if (tsMode !== 'off') {
      if (tsMode === 'elapsed' && Number.isNaN(firstUs)) loadFirstTs();
      if (!tsLoad && performance.now() >= tsRetryAt) {
        const settled = settledLine();
        let a = Infinity;
        let b = -Infinity;
        for (const r of shownList) {
          const l = lineOfRow(r);
          if (l <= settled && Number.isNaN(tsOf(l)) && (r >= h || findBlock(l))) {
            if (l < a) a = l;
            if (l > b) b = l;
          }
        }
        if (a <= b) loadTs(a, Math.min(settled, Math.max(b, a + 199)));
      }
    }
  }

  let charWidth = 0;
  function estimatedWidth() {
    if (!charWidth) {
      const probe = document.createElement('span');
      probe.textContent = '0'.repeat(100);
      probe.style.visibility = 'hidden';
      probe.style.position = 'absolute';
      logEl.append(probe);
      charWidth = probe.getBoundingClientRect().width / 100 || 8;
      probe.remove();
    }
    const tsCols = tsMode === 'absolute' ? 28 : tsMode === 'elapsed' ? 13 : 0;
    return (maxCols + shownDigits + tsCols + 6) * charWidth;
  }

  function setScrollTop(top) {
    logEl.scrollTop = top;
    ownScrollTop = logEl.scrollTop;
  }

  function atBottom() {
    return logEl.scrollTop + logEl.clientHeight >= logEl.scrollHeight - 2;
  }

  // Shows line l: unfolds what hides it, then scrolls there at the next frame.
  function goToLine(l, near) {
    unfoldAround(l);
    setFollowing(false);
    jump = { line: l, near, at: performance.now() };
    // Its window now, not at the next frame (and the one before it, for
    // the rows above it).
    if (!indexOff) {
      ensureBlock(l);
      ensureBlock(l - 15);
      setTimeout(scheduleRender, JUMP_WAIT);
    }
    scheduleRender();
  }

  // How long a jump waits for its line's window before showing empty rows.
  const JUMP_WAIT = 150;

  function jumpWaits(j) {
    if (j.line === undefined || j.at === undefined || performance.now() - j.at >= JUMP_WAIT) return false;
    return j.line <= headRows() && !findBlock(j.line) && loading(j.line);
  }

  // The reader follows the tail when they scroll to the bottom, and stops
  // when they scroll away from it. Scrolls the page made itself (following,
  // jumping to a line) change nothing.
  logEl.addEventListener(
    'scroll',
    () => {
      if (logEl.scrollTop !== ownScrollTop) setFollowing(atBottom());
      ownScrollTop = -1;
      scheduleRender();
    },
    { passive: true },
  );
  // Scrolling up stops following at once, before the next new line could
  // pull the view back down.
  logEl.addEventListener(
    'wheel',
    (e) => {
      if (e.deltaY < 0 && logEl.scrollHeight > logEl.clientHeight) setFollowing(false);
    },
    { passive: true },
  );
  logEl.addEventListener('keydown', (e) => {
    if (['ArrowUp', 'PageUp', 'Home'].includes(e.key)) setFollowing(false);
  });
  window.addEventListener('resize', () => {
    generation++;
    scheduleRender();
  });

  followBtn.addEventListener('click', () => {
    setFollowing(true);
    scheduleRender();
    logEl.focus();
  });

  // ------------------------------------------------------ view settings

  function applyTsMode() {
    tsSelect.value = tsMode;
    rowsEl.dataset.ts = tsMode;
    generation++;
    scheduleRender();
  }

  tsSelect.addEventListener('change', () => {
    tsMode = ['absolute', 'elapsed'].includes(tsSelect.value) ? tsSelect.value : 'off';
    savePrefs();
    spacerW = 0;
    spacer.style.width = '';
    applyTsMode();
  });

  function applyWrap() {
    logEl.classList.toggle('wrap', wrap);
    wrapBtn.setAttribute('aria-pressed', String(wrap));
    spacerW = 0;
    spacer.style.width = '';
    generation++;
    scheduleRender();
  }

  wrapBtn.addEventListener('click', () => {
    // The line at the top stays there.
    const keep = following ? null : topAnchor();
    wrap = !wrap;
    savePrefs();
    wrapFactor = 1;
    if (keep) jump = { line: keep.line, off: 0 };
    applyWrap();
  });

  firstErrorBtn.addEventListener('click', () => {
    if (!firstError) return;
    history.pushState(null, '', '#L' + firstError.line);
    applyHash(true);
  });

  rowsEl.addEventListener('click', (e) => {
    const ln = e.target.closest('.ln');
    if (!ln) {
      // A section's header folds and unfolds it (not when text was selected).
      const head = e.target.closest('.row.sec');
      const sel = getSelection();
      if (head && (!sel || sel.isCollapsed || e.target.closest('.tw'))) toggleFold(Number(head.dataset.sec));
      return;
    }
    // Ctrl-, Cmd- or middle-click opens the link elsewhere, as links do.
    if (e.ctrlKey || e.metaKey || e.altKey || e.button !== 0) return;
    e.preventDefault();
    const i = Number(ln.dataset.n);
    let hash = '#L' + i;
    if (e.shiftKey && selection) {
      const a = Math.min(selection[0], i);
      const b = Math.max(selection[0], i);
      hash = a === b ? '#L' + a : '#L' + a + '-L' + b;
    }
    // A new history entry, like following any link; the line stays where it is.
    history.pushState(null, '', hash);
    applyHash(false);
    setFollowing(false);
  });

