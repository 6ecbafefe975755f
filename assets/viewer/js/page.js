// The page's wiring, 1 of 2: its elements, limits, state and saved
// preferences.
//
// livelog viewer: shows the log at the page's path with /log/ for /view/ as a
// terminal would, rendering only the rows on screen. A log the page can hold
// is read whole from its Server-Sent Events stream; a larger one in windows
// of lines (?lines=A-B) as the reader scrolls, its tail followed live. The
// outline (/outline) folds sections and finds errors; search runs in the
// page or, on a larger log, on the server (/search). No external requests,
// no console output, no innerHTML: log text only ever reaches the page as
// text nodes. assets/viewer/README.md is the contract with the server.
//
// One of the files joined, in the order src/http/viewer.rs lists, into the
// body of the page's one script function (assets/viewer/README.md): they
// share its declarations.

  // ------------------------------------------------------------------ page

  const $ = (id) => document.getElementById(id);
  const root = document.documentElement;
  const logEl = $('log');
  const spacer = $('spacer');
  const rowsEl = $('rows');
  const stateEl = $('state');
  const sizeEl = $('size');
  const linesEl = $('lines');
  const errorsEl = $('errors');
  const firstErrorBtn = $('first-error');
  const copyBtn = $('copy');
  const tsSelect = $('timestamps');
  const wrapBtn = $('wrap');
  const followBtn = $('follow');
  const searchBar = $('search');
  const queryEl = $('query');
  const caseEl = $('case');
  const matchesEl = $('matches');

  const ROW_H = parseFloat(getComputedStyle(root).getPropertyValue('--row-h')) || 18;
  // Browsers cap an element's height (Chromium ~33.5M px, Firefox ~17.9M px):
  // beyond this, scroll positions are scaled to line positions.
  const MAX_PX = 15000000;
  // Lines of one window fetched with ?lines=A-B, and the most bytes read for
  // one (a window of very long lines ends early).
  const BLOCK_LINES = 500;
  const BLOCK_MAX_BYTES = 2 << 20;
  const MAX_LOADS = 3;
  // The arrival-time prefix of ?timestamps=true: `2026-12-03T07:31:51.123456Z `.
  const TS_LEN = 28;
  const TS_BLOCK = 1024;
  const TS_BLOCKS_KEPT = 2048;
  // Server search results kept; lines a copy takes at most.
  const MAX_HITS = 100000;
  const COPY_MAX_LINES = 100000;

  // The log is at the page's path with /log/ for /view/: the token stays in
  // the path and is never copied anywhere else.
  const path = location.pathname;
  const at = path.indexOf('/view/');
  const logPath = at >= 0 ? path.slice(0, at) + '/log/' + path.slice(at + 6) : null;
  if (logPath) $('raw').href = logPath;

  // How much of the log the page holds (?hold=BYTES): a log larger than this
  // is read in windows by line number, and only its tail is followed.
  const holdParam = Number(new URLSearchParams(location.search).get('hold'));
  const HOLD = holdParam > 0 ? holdParam : 32 * 1024 * 1024;
  const BLOCK_CACHE = Math.max(HOLD / 2, 4 << 20);

  let state = 'connecting';
  let bytes = 0; // the log's size as far as the page knows
  let total = null; // the final length, once the log ended
  let N = 0; // the log's lines as far as the page knows
  // The newest part of the log, read live: the whole log from its first byte
  // (`sse`, the event stream) or, for a log larger than the page holds, its
  // last lines (`lines`, ?lines=A-). null once a large log has ended.
  let tail = null;
  let whole = true; // the tail holds the log from its first byte
  let indexOff = false; // the server has no line index: no outline, windows or server search
  let following = true;
  let selection = null; // [first, last] line numbers, from #L
  let pendingJump = false;
  let jump = null; // {line or row, near}: a scroll the next frame makes
  let pendingAnchor = null; // {line, off}: keep this line at the top across a change
  let generation = 0; // bumped when every shown row must be rebuilt
  let shown = new Map(); // row -> element, of the last frame
  let shownList = [];
  let shownGen = -1;
  let shownTop = 0; // display index of the first row on screen
  let shownLast = 0;
  let scale = 1;
  let spacerH = -1;
  let spacerW = 0;
  let shownDigits = 0;
  let maxCols = 0;
  let wrapFactor = 1;
  let firstLinesMarked = false;
  let renderScheduled = false;
  let labelsDirty = true;
  let ownScrollTop = -1; // the scrollTop the page set itself (not the reader)
  let clock = 0;

  const prefs = loadPrefs();
  let tsMode = ['absolute', 'elapsed'].includes(prefs.timestamps) ? prefs.timestamps : 'off';
  let wrap = prefs.wrap === true;

  function loadPrefs() {
    try {
      return JSON.parse(localStorage.getItem('livelog-viewer') || '{}') || {};
    } catch {
      return {};
    }
  }

  function savePrefs() {
    try {
      localStorage.setItem('livelog-viewer', JSON.stringify({ timestamps: tsMode, wrap }));
    } catch {
      // Storage may be off: the choice lasts as long as the page.
    }
  }

  function scheduleRender() {
    if (!renderScheduled) {
      renderScheduled = true;
      requestAnimationFrame(render);
    }
  }

  function formatBytes(n) {
    const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
    let v = n;
    let u = 0;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return u === 0 ? n.toLocaleString('en-US') + ' bytes' : v.toFixed(v < 10 ? 2 : 1) + ' ' + units[u];
  }

  // 0.4s, 12s, 3m 05s, 1h 02m: as CI systems show a step's duration.
  function formatDuration(secs) {
    if (!(secs >= 0)) return '';
    if (secs < 10) return secs.toFixed(1) + 's';
    const s = Math.round(secs);
    if (s < 60) return s + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm ' + two(s % 60) + 's';
    return Math.floor(s / 3600) + 'h ' + two(Math.floor(s / 60) % 60) + 'm';
  }

  const LABELS = {
    connecting: 'Connecting…',
    waiting: 'Waiting for the upload',
    live: 'Live',
    reconnecting: 'Reconnecting…',
    complete: 'Complete',
    incomplete: 'Incomplete: the upload broke',
  };

  function setState(s, label) {
    state = s;
    // The counts first, not at the next frame: whoever sees the new state
    // (a screen reader, a test) sees the lines and bytes it speaks of.
    updateLabels();
    root.dataset.state = s;
    stateEl.textContent = label || LABELS[s];
    document.title = 'livelog · ' + (label || LABELS[s]);
    labelsDirty = true;
    scheduleRender();
  }

  function updateLabels() {
    const size = total !== null ? total : bytes;
    sizeEl.textContent = bytes > 0 || total !== null ? formatBytes(size) : '';
    sizeEl.title = size.toLocaleString('en-US') + ' bytes';
    linesEl.textContent = N.toLocaleString('en-US') + (N === 1 ? ' line' : ' lines');
    root.dataset.bytes = String(size);
    root.dataset.lines = String(N);
  }

  function setFollowing(on) {
    if (following === on) return;
    following = on;
    followBtn.setAttribute('aria-pressed', String(on));
    followBtn.textContent = on ? 'Following' : 'Follow';
  }

  function ended() {
    return state === 'complete' || state === 'incomplete';
  }

  // Marks a moment after the next frame is painted (for measurements).
  function afterPaint(name) {
    requestAnimationFrame(() => setTimeout(() => performance.mark(name), 0));
  }

