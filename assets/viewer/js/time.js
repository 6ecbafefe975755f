// Time: each line's arrival time (?lines=A-B&timestamps=true), absolute
// or elapsed.
//
// One of the files joined, in the order src/http/viewer.rs lists, into the
// body of the page's one script function (assets/viewer/README.md): they
// share its declarations.

  // ---------------------------------------------------------- timestamps
  // Arrival times, microseconds since 1970 (exact in a double), per line.

  const tsStore = new Map(); // block of TS_BLOCK lines -> Float64Array
  let firstUs = NaN; // line 1's arrival: elapsed times count from it
  let tsLoad = null;
  let tsRetryAt = 0;
  let firstTsLoading = false;

  function parseTs(s) {
    const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?Z $/.exec(s);
    if (!m) return NaN;
    const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
    return ms * 1000 + Number((m[7] || '').padEnd(6, '0'));
  }

  function putTs(l, us) {
    const k = Math.floor((l - 1) / TS_BLOCK);
    let a = tsStore.get(k);
    if (!a) {
      if (tsStore.size >= TS_BLOCKS_KEPT) tsStore.delete(tsStore.keys().next().value);
      a = new Float64Array(TS_BLOCK).fill(NaN);
      tsStore.set(k, a);
    }
    a[(l - 1) % TS_BLOCK] = us;
    if (l === 1) firstUs = us;
  }

  function tsOf(l) {
    const a = tsStore.get(Math.floor((l - 1) / TS_BLOCK));
    return a ? a[(l - 1) % TS_BLOCK] : NaN;
  }

  function two(v) {
    return String(v).padStart(2, '0');
  }

  // What the timestamp column shows for line l ('' while unknown).
  function tsText(l) {
    const us = tsOf(l);
    if (Number.isNaN(us)) return '';
    if (tsMode === 'elapsed') {
      if (Number.isNaN(firstUs)) return '';
      const d = Math.max(0, us - firstUs);
      const ms = Math.floor(d / 1000);
      const s = Math.floor(ms / 1000);
      return two(Math.floor(s / 3600)) + ':' + two(Math.floor(s / 60) % 60) + ':' + two(s % 60) + '.' + String(ms % 1000).padStart(3, '0');
    }
    // As the server writes it: RFC 3339, UTC, microseconds.
    const iso = new Date(Math.floor(us / 1000)).toISOString();
    return iso.slice(0, 23) + String(us % 1000).padStart(3, '0') + 'Z';
  }

  // Lines whose arrival is known for good: every line but one still written.
  function settledLine() {
    if (ended() || !tail) return N;
    return tail.screen.line - 1;
  }

  // Fetches arrival times for lines a..b (text discarded).
  async function loadTs(a, b) {
    const load = { ctrl: new AbortController() };
    tsLoad = load;
    const feed = new LineFeed(null, true, a);
    let got = 0;
    try {
      const res = await fetch(logPath + '?lines=' + a + '-' + b + '&timestamps=true', { signal: load.ctrl.signal, cache: 'no-store' });
      if (!res.ok) throw new Error(String(res.status));
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        got += value.length;
        feed.write(dec.decode(value, { stream: true }));
        if (got > BLOCK_MAX_BYTES) {
          load.ctrl.abort();
          break;
        }
      }
    } catch {
      tsRetryAt = performance.now() + 1000;
    }
    if (feed.line === a) tsRetryAt = performance.now() + 1000;
    tsLoad = null;
    generation++;
    scheduleRender();
  }

  // Line 1's arrival, for elapsed times: its prefix is sent as soon as the
  // line has a byte, so read that much and stop.
  async function loadFirstTs() {
    if (firstTsLoading || indexOff || !logPath) return;
    firstTsLoading = true;
    const ctrl = new AbortController();
    let text = '';
    try {
      const res = await fetch(logPath + '?lines=1&timestamps=true', { signal: ctrl.signal, cache: 'no-store' });
      if (res.ok) {
        const reader = res.body.getReader();
        const dec = new TextDecoder();
        while (text.length < TS_LEN) {
          const { done, value } = await reader.read();
          if (done) break;
          text += dec.decode(value, { stream: true });
        }
        ctrl.abort();
      }
    } catch {
      // Tried again at the next frame that needs it.
    }
    const us = parseTs(text.slice(0, TS_LEN));
    if (!Number.isNaN(us)) {
      firstUs = us;
      firstTsLoading = false;
      generation++;
      scheduleRender();
    } else {
      // Not there yet (or the request failed): ask again in a while.
      setTimeout(() => (firstTsLoading = false), 2000);
    }
  }

