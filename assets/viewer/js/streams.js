// The streams: reading the log, whole from its Server-Sent Events or in
// windows with its tail followed live, and the outline while it grows.
//
// One of the files joined, in the order src/http/viewer.rs lists, into the
// body of the page's one script function (assets/viewer/README.md): they
// share its declarations.

  // ----------------------------------------------------------- the streams

  let source = null;
  let retryDelay = 2000;
  let loadedPending = false;

  // The whole log, as Server-Sent Events from its first byte.
  function startWhole() {
    tail = { screen: new Screen(false, 0), bytes: 0 };
    whole = true;
    connect();
  }

  function connect() {
    // A fresh EventSource cannot send Last-Event-ID: say where to resume in
    // the query. Its own reconnects send Last-Event-ID, which the server
    // prefers to ?from=.
    source = new EventSource(bytes > 0 ? logPath + '?from=' + bytes : logPath);
    source.addEventListener('open', () => {
      retryDelay = 2000;
      setState(bytes > 0 ? 'live' : 'waiting');
      openOutlineStream();
    });
    source.addEventListener('log', onLog);
    source.addEventListener('end', onEnd);
    source.addEventListener('error', onError);
  }

  function onLog(e) {
    const id = Number(e.lastEventId);
    // Ids only grow: an event that ends where we already are is a repeat.
    if (Number.isFinite(id) && id <= bytes) return;
    let text;
    try {
      text = JSON.parse(e.data);
    } catch {
      return;
    }
    if (typeof text !== 'string') return;
    if (Number.isFinite(id)) {
      tail.bytes += id - bytes;
      bytes = id;
    }
    tail.screen.write(text);
    N = tail.screen.lineCount();
    if (state !== 'live') setState('live');
    labelsDirty = true;
    trimTail();
    if (search.test && search.local && !search.timer) search.timer = setTimeout(scan, 50);
    scheduleRender();
  }

  function onEnd(e) {
    let info = {};
    try {
      info = JSON.parse(e.data) || {};
    } catch {
      // Still the end: the stream says so.
    }
    source.close();
    finish(info.complete === true, Number.isFinite(info.length) ? info.length : bytes);
  }

  function finish(complete, length) {
    total = length;
    if (length > bytes) bytes = length;
    setState(complete ? 'complete' : 'incomplete');
    if (search.test && search.local && !search.timer) search.timer = setTimeout(scan, 0);
    if (firstLinesMarked || whole) afterPaint('livelog:loaded');
    else loadedPending = true;
  }

  function onError() {
    if (ended()) return;
    if (source.readyState === EventSource.CONNECTING) {
      // A network error: EventSource reconnects by itself with Last-Event-ID.
      setState('reconnecting');
      return;
    }
    // Closed: the server answered something other than an event stream
    // (an error, or 204 at the end of a finished log). Ask it why.
    source.close();
    setState('reconnecting');
    probe();
  }

  async function probe() {
    let res;
    try {
      res = await fetch(logPath, { method: 'HEAD', cache: 'no-store' });
    } catch {
      retryLater(connect);
      return;
    }
    const length = res.headers.get('Content-Length');
    if (refused(res.status)) return;
    if (res.ok && length !== null && Number(length) <= bytes) {
      // The log is finished and we have all of it: the end event was lost
      // with the connection.
      finish(true, Number(length));
    } else {
      retryLater(connect);
    }
  }

  function refused(status) {
    if (status === 401 || status === 403) setState('failed', 'Access denied: check the link');
    else if (status === 404) setState('failed', 'Not found: check the link');
    else return false;
    return true;
  }

  function retryLater(again) {
    setTimeout(again, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 30000);
  }

  // A log larger than the page holds: its lines in windows, and its last
  // line on (?lines=A-, live) while it is written.
  function startWindowed(doc) {
    whole = false;
    N = doc.lines;
    bytes = doc.bytes;
    if (doc.state === 'complete' || doc.state === 'incomplete') {
      tail = null;
      finish(doc.state === 'complete', doc.bytes);
      return;
    }
    tail = { screen: new Screen(true, Math.max(0, doc.lines - 1)), bytes: 0 };
    setState('live');
    readTail();
  }

  async function readTail() {
    const t = tail;
    // From the line being written: a line cut short is read again whole.
    const from = t.screen.line;
    t.screen.truncateFrom(from);
    let res;
    try {
      res = await fetch(logPath + '?lines=' + from + '-', { cache: 'no-store' });
    } catch {
      tailBroke();
      return;
    }
    if (!res.ok) {
      if (!refused(res.status)) tailBroke();
      return;
    }
    retryDelay = 2000;
    if (state !== 'live') setState('live');
    openOutlineStream();
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        t.bytes += value.length;
        t.screen.write(dec.decode(value, { stream: true }));
        onTailText();
      }
    } catch {
      tailBroke();
      return;
    }
    t.screen.write(dec.decode());
    onTailText();
    tailProbe(true);
  }

  function onTailText() {
    const n = tail.screen.lineCount();
    if (n > N) N = n;
    labelsDirty = true;
    trimTail();
    scheduleRender();
  }

  function tailBroke() {
    if (ended()) return;
    setState('reconnecting');
    tailProbe(false);
  }

  // The line stream ended (`done`: as a finished log's does) or broke: the
  // log's state says which.
  async function tailProbe(done) {
    let res;
    try {
      res = await fetch(logPath, { method: 'HEAD', cache: 'no-store' });
    } catch {
      retryLater(readTail);
      return;
    }
    if (refused(res.status)) return;
    const said = res.headers.get('Livelog-State');
    const length = Number(res.headers.get('Content-Length') || NaN);
    const size = length > 0 ? length : bytes;
    if (said === 'incomplete') finish(false, size);
    else if (said === 'complete' && done) finish(true, size);
    else retryLater(readTail);
  }

  // Keeps the tail within what the page holds: its oldest rows go (they
  // are read in windows again when shown).
  function trimTail() {
    if (!tail || indexOff || tail.bytes <= HOLD) return;
    const s = tail.screen;
    const rows = s.text.length;
    const k = Math.min(Math.floor(rows / 2), s.row - CURSOR_WINDOW);
    if (k <= 0) return;
    if (!pendingAnchor && !following) pendingAnchor = topAnchor();
    s.trimHead(k);
    tail.bytes = (tail.bytes * (rows - k)) / rows;
    generation++;
    if (whole) {
      whole = false;
      if (search.query) setQuery(search.query);
    }
  }

  // The outline: as events while the log is written (resent when it
  // changes), else polled when the server has no reader slot for it.
  let outlineSource = null;
  let outlineDone = false;
  let outlineTimer = 0;

  function openOutlineStream() {
    if (indexOff || outlineDone || outlineSource || outlineTimer) return;
    const es = new EventSource(logPath + '/outline');
    outlineSource = es;
    es.addEventListener('outline', (e) => {
      try {
        applyOutline(JSON.parse(e.data));
      } catch {
        // The next one.
      }
    });
    es.addEventListener('end', () => {
      es.close();
      outlineSource = null;
      outlineDone = true;
    });
    es.addEventListener('error', () => {
      // A network error: EventSource reconnects by itself.
      if (es.readyState !== EventSource.CLOSED) return;
      outlineSource = null;
      pollOutline(3000);
    });
  }

  function pollOutline(delay) {
    outlineTimer = setTimeout(async () => {
      try {
        const res = await fetch(logPath + '/outline', { cache: 'no-store' });
        if (res.ok) {
          const doc = await res.json();
          applyOutline(doc);
          if (doc.state === 'complete' || doc.state === 'incomplete') outlineDone = true;
        }
      } catch {
        // Asked again below.
      }
      outlineTimer = 0;
      if (!outlineDone) pollOutline(Math.min(delay * 1.5, 15000));
    }, delay);
  }

