// Line windows: which log line each row is, and the log's lines in blocks
// fetched by line number (?lines=A-B) when the page does not hold the log.
//
// One of the files joined, in the order src/http/viewer.rs lists, into the
// body of the page's one script function (assets/viewer/README.md): they
// share its declarations.

  // ------------------------------------------------------------ the rows
  // Rows 0 .. H-1 are log lines 1 .. H, read in windows (`blocks`); the
  // rows after them are the tail's. Folded sections hide rows: the display
  // shows the rows that are not hidden.

  let blocks = []; // {first, count, screen, used, size}, sorted by first
  let blockBytes = 0;
  const loads = []; // windows being fetched: {first, last, ctrl}
  let loadsRetryAt = 0;

  function headRows() {
    return tail ? tail.screen.lineOfRow(0) - 1 : N;
  }

  function totalRows() {
    return headRows() + (tail ? tail.screen.count() : 0);
  }

  function lineOfRow(r) {
    const h = headRows();
    return r < h ? r + 1 : tail.screen.lineOfRow(r - h);
  }

  function rowOfLine(l) {
    const h = headRows();
    if (l <= h || !tail) return Math.max(0, l - 1);
    return h + tail.screen.rowOfLine(l);
  }

  // The last row of line l.
  function lastRowOfLine(l) {
    return l < N ? Math.max(rowOfLine(l), rowOfLine(l + 1) - 1) : totalRows() - 1;
  }

  // Where row r's text is: {scr, i}, or null while its window is not here.
  function rowData(r) {
    const h = headRows();
    if (r >= h) return tail ? { scr: tail.screen, i: r - h } : null;
    const b = findBlock(r + 1);
    if (!b) return null;
    b.used = ++clock;
    return { scr: b.screen, i: r + 1 - b.first };
  }

  function findBlock(l) {
    let lo = 0;
    let hi = blocks.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const b = blocks[mid];
      if (l < b.first) hi = mid - 1;
      else if (l >= b.first + b.count) lo = mid + 1;
      else return b;
    }
    return null;
  }

  function loading(l) {
    return loads.some((x) => x.first <= l && l <= x.last);
  }

  // Fetches the window holding line l, unless it is here or on its way.
  function ensureBlock(l) {
    const h = headRows();
    if (l < 1 || l > h || findBlock(l) || loading(l)) return;
    if (loads.length >= MAX_LOADS || performance.now() < loadsRetryAt) return;
    let first = Math.floor((l - 1) / BLOCK_LINES) * BLOCK_LINES + 1;
    let last = Math.min(first + BLOCK_LINES - 1, h);
    // Start after, and end before, what is here or coming.
    for (const b of blocks) {
      const end = b.first + b.count - 1;
      if (b.first <= first && end >= first && end < l) first = end + 1;
      if (b.first > l && b.first <= last) last = b.first - 1;
    }
    for (const x of loads) {
      if (x.first <= first && x.last >= first && x.last < l) first = x.last + 1;
      if (x.first > l && x.first <= last) last = x.first - 1;
    }
    loadBlock(first, Math.max(first, last));
  }

  async function loadBlock(first, last) {
    const withTs = tsMode !== 'off';
    const load = { first, last, ctrl: new AbortController() };
    loads.push(load);
    const scr = new Screen(true, first - 1);
    const feed = new LineFeed(scr, withTs, first);
    let got = 0;
    let cut = false;
    try {
      const url = logPath + '?lines=' + first + '-' + last + (withTs ? '&timestamps=true' : '');
      const res = await fetch(url, { signal: load.ctrl.signal, cache: 'no-store' });
      if (!res.ok) throw new Error(String(res.status));
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        got += value.length;
        feed.write(dec.decode(value, { stream: true }));
        if (got > BLOCK_MAX_BYTES) {
          cut = true;
          load.ctrl.abort();
          break;
        }
      }
      if (!cut) feed.write(dec.decode());
    } catch {
      if (!cut) {
        loads.splice(loads.indexOf(load), 1);
        // Moved away (aborted), or the server said no: ask again later.
        if (!load.ctrl.signal.aborted) loadsRetryAt = performance.now() + 1000;
        scheduleRender();
        return;
      }
    }
    loads.splice(loads.indexOf(load), 1);
    let count = scr.lineCount() - (first - 1);
    if (cut) {
      // Whole lines only, or the first line's start if it alone is that long.
      count = Math.max(1, scr.line - first);
      if (scr.line === first) scr.truncated = true;
    }
    count = Math.min(count, last - first + 1);
    if (count <= 0) {
      loadsRetryAt = performance.now() + 1000;
      scheduleRender();
      return;
    }
    if (scr.maxCols > maxCols) maxCols = scr.maxCols;
    const b = { first, count, screen: scr, used: ++clock, size: got };
    let k = 0;
    while (k < blocks.length && blocks[k].first < first) k++;
    blocks.splice(k, 0, b);
    blockBytes += got;
    evictBlocks();
    // Only the rows on screen it fills are built again.
    let filled = false;
    for (const r of [...shown.keys()]) {
      if (r + 1 >= first && r + 1 < first + count && r < headRows()) {
        shown.delete(r);
        filled = true;
      }
    }
    if (filled) shownList = [];
    if (filled || jump) scheduleRender();
  }

  // Forgets the least recently shown windows beyond the page's budget.
  function evictBlocks() {
    const lo = lineOfRowSafe(rowOfDisp(shownTop)) - BLOCK_LINES;
    const hi = lineOfRowSafe(rowOfDisp(shownLast)) + BLOCK_LINES;
    while (blockBytes > BLOCK_CACHE && blocks.length > 1) {
      let victim = -1;
      for (let k = 0; k < blocks.length; k++) {
        const b = blocks[k];
        if (b.first + b.count > lo && b.first < hi) continue;
        if (victim < 0 || b.used < blocks[victim].used) victim = k;
      }
      if (victim < 0) return;
      blockBytes -= blocks[victim].size;
      blocks.splice(victim, 1);
    }
  }

  function lineOfRowSafe(r) {
    return totalRows() ? lineOfRow(Math.min(r, totalRows() - 1)) : 1;
  }

  // Writes a line view's text into a screen, taking each line's arrival-time
  // prefix off first when it has them. `scr` may be null: timestamps only.
  class LineFeed {
    constructor(scr, withTs, first) {
      this.scr = scr;
      this.withTs = withTs;
      this.line = first;
      this.atStart = true;
      this.pre = '';
    }

    write(s) {
      if (!this.withTs) {
        this.scr.write(s);
        return;
      }
      let i = 0;
      while (i < s.length) {
        if (this.atStart) {
          const take = Math.min(TS_LEN - this.pre.length, s.length - i);
          this.pre += s.slice(i, i + take);
          i += take;
          if (this.pre.length < TS_LEN) return;
          const us = parseTs(this.pre);
          if (!Number.isNaN(us)) putTs(this.line, us);
          this.pre = '';
          this.atStart = false;
          continue;
        }
        const j = s.indexOf('\n', i);
        const end = j < 0 ? s.length : j + 1;
        if (this.scr) this.scr.write(i === 0 && end === s.length ? s : s.slice(i, end));
        i = end;
        if (j >= 0) {
          this.line++;
          this.atStart = true;
        }
      }
    }
  }

