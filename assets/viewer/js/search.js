// Search (Ctrl-F): in the page, or on the server (/search) for a log the
// page does not hold.
//
// One of the files joined, in the order src/http/viewer.rs lists, into the
// body of the page's one script function (assets/viewer/README.md): they
// share its declarations.

  // --------------------------------------------------------------- search
  // In the page while it holds the whole log; on the server
  // (/log/<token>/search) once the log is larger.

  const search = { query: '', re: null, test: null, local: true, matches: [], scanned: 0, current: -1, wantJump: false, timer: 0, ctrl: null, done: false, capped: false, busy: false };

  function escapeRegExp(s) {
    return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }

  // For the server's regex crate: every meta character escaped.
  function escapeRust(s) {
    return s.replace(/[\\.+*?()|[\]{}^$#&\-~]/g, '\\$&');
  }

  function openSearch() {
    searchBar.hidden = false;
    queryEl.focus();
    queryEl.select();
    scheduleRender();
  }

  function closeSearch() {
    searchBar.hidden = true;
    setQuery('');
    logEl.focus();
  }

  function setQuery(q) {
    clearTimeout(search.timer);
    search.timer = 0;
    if (search.ctrl) search.ctrl.abort();
    search.ctrl = null;
    search.query = q;
    search.matches = [];
    search.scanned = 0;
    search.current = -1;
    search.done = false;
    search.capped = false;
    search.busy = false;
    search.local = whole || indexOff;
    const flags = caseEl.checked ? '' : 'i';
    search.re = q ? new RegExp(escapeRegExp(q), 'g' + flags) : null;
    search.test = q ? new RegExp(escapeRegExp(q), flags) : null;
    search.wantJump = !!q;
    generation++;
    if (!q) showMatches();
    else if (search.local) scan();
    else serverSearch(q);
  }

  // Rows that will not change any more (the cursor's row still may).
  function settledRows() {
    return ended() ? tail.screen.count() : Math.max(0, tail.screen.row);
  }

  // Finds matching rows in slices of a few milliseconds, so typing and
  // scrolling stay smooth on a million lines.
  function scan() {
    search.timer = 0;
    if (!search.test || !search.local) {
      showMatches();
      return;
    }
    const limit = settledRows();
    const started = performance.now();
    const text = tail.screen.text;
    const test = search.test;
    while (search.scanned < limit) {
      const end = Math.min(limit, search.scanned + 20000);
      for (let i = search.scanned; i < end; i++) if (test.test(text[i])) search.matches.push(i);
      search.scanned = end;
      if (search.wantJump) jumpToFirstMatch(false);
      if (performance.now() - started > 12) break;
    }
    if (search.scanned < limit) search.timer = setTimeout(scan, 0);
    else if (search.wantJump) jumpToFirstMatch(true);
    showMatches();
  }

  // Every line of the log that holds the text, newest results as they come
  // (and, while the log is live, new lines as they are written).
  // While the server's scan slots are all taken (429 or 503), it retries
  // after the Retry-After it is told, doubled at each refusal in a row, up
  // to this many seconds, until the search is changed or closed.
  const MAX_SEARCH_RETRY_SECS = 30;

  async function serverSearch(q, refusals = 0) {
    const ctrl = new AbortController();
    search.ctrl = ctrl;
    search.timer = 0;
    const matches = search.matches;
    const rx = caseEl.checked ? 'q=' + encodeURIComponent(q) : 'q=' + encodeURIComponent('(?i)' + escapeRust(q)) + '&regex=true';
    const url = logPath + '/search?' + rx + (ended() ? '' : '&follow=true');
    showMatches();
    try {
      const res = await fetch(url, { signal: ctrl.signal, cache: 'no-store' });
      if (search.ctrl !== ctrl) return;
      if (res.status === 429 || res.status === 503) {
        if (res.body) res.body.cancel().catch(() => {});
        const told = Number(res.headers.get('Retry-After'));
        const secs = Math.min(MAX_SEARCH_RETRY_SECS, Math.max(1, told || 1) * 2 ** Math.min(refusals, 5));
        search.busy = true;
        showMatches();
        search.timer = setTimeout(() => {
          if (search.ctrl === ctrl) serverSearch(q, refusals + 1);
        }, secs * 1000);
        return;
      }
      search.busy = false;
      if (!res.ok) throw new Error(String(res.status));
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let rest = '';
      for (;;) {
        const { done, value } = await reader.read();
        // A newer search took over.
        if (search.ctrl !== ctrl) return;
        if (done) break;
        const lines = (rest + dec.decode(value, { stream: true })).split('\n');
        rest = lines.pop();
        for (const line of lines) {
          if (!line) continue;
          const hit = JSON.parse(line);
          if (hit.total !== undefined) search.done = true;
          else if (matches.length < MAX_HITS) matches.push(hit.line);
          else {
            search.capped = true;
            ctrl.abort();
            break;
          }
        }
        if (search.wantJump) jumpToFirstMatch(false);
        showMatches();
        if (search.capped) break;
      }
    } catch {
      if (search.ctrl !== ctrl || (ctrl.signal.aborted && !search.capped)) return;
      if (!search.capped) matchesEl.textContent = 'search failed';
      if (!search.capped) return;
    }
    if (search.ctrl !== ctrl) return;
    search.done = true;
    if (search.wantJump) jumpToFirstMatch(true);
    showMatches();
  }

  function matchRow(k) {
    return search.local ? search.matches[k] : rowOfLine(search.matches[k]);
  }

  function isCurrentMatch(r, l) {
    if (search.current < 0) return false;
    return search.local ? search.matches[search.current] === r : search.matches[search.current] === l && rowOfLine(l) === r;
  }

  // The first match at or below the top of the screen; with `wrap`, the
  // first match at all once the whole log has been searched.
  function jumpToFirstMatch(wrapAround) {
    const n = dispCount();
    const topRow = n ? rowOfDisp(Math.min(shownTop, n - 1)) : 0;
    const k0 = lowerBound(search.matches, search.local ? topRow : lineOfRowSafe(topRow));
    let k = k0;
    if (k === search.matches.length) {
      if (!wrapAround || !search.matches.length) return;
      k = 0;
    }
    search.wantJump = false;
    goToMatch(k);
  }

  function lowerBound(a, v) {
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (a[mid] < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  function goToMatch(k) {
    search.current = k;
    generation++;
    const r = matchRow(k);
    unfoldAround(lineOfRow(r));
    setFollowing(false);
    if (search.local) jump = { row: r, near: false };
    else {
      jump = { line: search.matches[k], near: false, at: performance.now() };
      ensureBlock(search.matches[k]);
      setTimeout(scheduleRender, JUMP_WAIT);
    }
    scheduleRender();
    showMatches();
  }

  function step(dir) {
    const n = search.matches.length;
    if (!n) return;
    search.wantJump = false;
    goToMatch(search.current < 0 ? (dir > 0 ? 0 : n - 1) : (search.current + dir + n) % n);
  }

  function showMatches() {
    if (!search.query) matchesEl.textContent = '';
    else {
      const n = search.matches.length;
      const more = search.capped || (search.local ? search.scanned < settledRows() : !search.done) ? '+' : '';
      if (search.busy) matchesEl.textContent = 'busy, retrying';
      else matchesEl.textContent = n ? (search.current + 1 || '–') + ' of ' + n.toLocaleString('en-US') + more : more ? 'searching…' : 'no matches';
    }
    scheduleRender();
  }

  let queryTimer = 0;
  queryEl.addEventListener('input', () => {
    clearTimeout(queryTimer);
    queryTimer = setTimeout(() => {
      if (queryEl.value !== search.query) setQuery(queryEl.value);
    }, 120);
  });
  caseEl.addEventListener('change', () => setQuery(queryEl.value));
  queryEl.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      if (queryEl.value !== search.query) setQuery(queryEl.value);
      else step(e.shiftKey ? -1 : 1);
    } else if (e.key === 'Escape') {
      e.preventDefault();
      closeSearch();
    }
  });
  $('next').addEventListener('click', () => step(1));
  $('prev').addEventListener('click', () => step(-1));
  $('search-open').addEventListener('click', openSearch);
  $('search-close').addEventListener('click', closeSearch);

  // Ctrl-F (Cmd-F) opens this search: the browser's own find sees only the
  // rows on screen.
  window.addEventListener('keydown', (e) => {
    const mod = e.ctrlKey || e.metaKey;
    if (mod && !e.altKey && (e.key === 'f' || e.key === 'F')) {
      e.preventDefault();
      openSearch();
    } else if ((mod && (e.key === 'g' || e.key === 'G')) || e.key === 'F3') {
      e.preventDefault();
      step(e.shiftKey ? -1 : 1);
    } else if (e.key === 'Escape' && !searchBar.hidden) {
      closeSearch();
    } else if (e.key === 'End' && e.target === logEl) {
      setFollowing(true);
      scheduleRender();
    }
  });

