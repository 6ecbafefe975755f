// Outline and sections: the log's outline (/outline), sections folded
// and unfolded, error lines, and which rows are hidden.
//
// One of the files joined, in the order src/http/viewer.rs lists, into the
// body of the page's one script function (assets/viewer/README.md): they
// share its declarations.

  // ------------------------------------------------------------- outline
  // Sections (folded, with their durations) and error lines, from the
  // server's outline of the log.

  let sections = [];
  let headerAt = new Map(); // first line -> section
  let errorLines = new Set();
  let firstError = null;
  let firstErrorChain = new Set(); // the first error's section and those around it
  let outlineSig = '';
  let mapVersion = 0; // bumped when what is hidden may have changed
  const foldChoice = new Map(); // section index -> folded, as the reader chose

  function applyOutline(doc) {
    if (!doc || !Array.isArray(doc.sections)) return;
    const errors = doc.errors || { total: 0, first: null, lines: [] };
    const open = doc.sections.reduce((k, s) => k + (s.open ? 1 : 0), 0);
    const sig = [doc.sections.length, open, errors.total, doc.sections_dropped].join(':');
    if (sig !== outlineSig) {
      outlineSig = sig;
      sections = doc.sections;
      headerAt = new Map();
      for (const s of sections) if (!headerAt.has(s.first_line)) headerAt.set(s.first_line, s);
      errorLines = new Set((errors.lines || []).map((e) => e.line));
      firstError = errors.first || null;
      firstErrorChain = new Set();
      for (let i = firstError ? firstError.section : null; i !== null && i !== undefined && sections[i]; i = sections[i].parent) {
        if (firstErrorChain.has(i)) break;
        firstErrorChain.add(i);
      }
      mapVersion++;
      generation++;
      errorsEl.hidden = !errors.total;
      errorsEl.textContent = errors.total ? errors.total.toLocaleString('en-US') + (errors.total === 1 ? ' error' : ' errors') : '';
      firstErrorBtn.hidden = !firstError;
      if (firstError) firstErrorBtn.title = 'Line ' + firstError.line + ': ' + firstError.text;
    }
    if (!whole) {
      if (doc.lines > N) N = doc.lines;
      if (doc.bytes > bytes) bytes = doc.bytes;
      labelsDirty = true;
    }
    scheduleRender();
  }

  function isFolded(s) {
    const c = foldChoice.get(s.index);
    if (c !== undefined) return c;
    // Finished sections fold, but the one with the first error and those
    // around it; a section still running stays open.
    return !s.open && !firstErrorChain.has(s.index);
  }

  function lastLineOf(s) {
    return s.last_line === null || s.last_line === undefined ? N : s.last_line;
  }

  // Unfolds every section that hides line l.
  function unfoldAround(l) {
    for (const s of sections) {
      if (s.first_line < l && l <= lastLineOf(s) && isFolded(s)) {
        foldChoice.set(s.index, false);
        mapVersion++;
      }
    }
  }

  function toggleFold(index) {
    const s = sections[index];
    if (!s) return;
    pendingAnchor = following ? null : topAnchor();
    foldChoice.set(index, !isFolded(s));
    mapVersion++;
    generation++;
    scheduleRender();
  }

  // Hidden rows: sorted, disjoint [start, end] intervals, and how many rows
  // are hidden before each.
  let hidStart = [];
  let hidEnd = [];
  let hidBefore = [];
  let hidTotal = 0;
  let hiddenKey = '';
  let openFolded = false;

  function currentHiddenKey() {
    return mapVersion + '|' + headRows() + '|' + totalRows() + '|' + (openFolded ? N : -1);
  }

  function sameHidden(starts, ends) {
    if (starts.length !== hidStart.length) return false;
    for (let k = 0; k < starts.length; k++) if (starts[k] !== hidStart[k] || ends[k] !== hidEnd[k]) return false;
    return true;
  }

  function computeHidden() {
    const rows = totalRows();
    const iv = [];
    openFolded = false;
    for (const s of sections) {
      if (!isFolded(s)) continue;
      if (s.open) openFolded = true;
      const last = Math.min(lastLineOf(s), N);
      if (last <= s.first_line) continue;
      const a = Math.max(rowOfLine(s.first_line) + 1, rowOfLine(s.first_line + 1));
      const b = Math.min(rows - 1, lastRowOfLine(last));
      if (a <= b) iv.push([a, b]);
    }
    iv.sort((x, y) => x[0] - y[0]);
    hidStart = [];
    hidEnd = [];
    hidBefore = [];
    hidTotal = 0;
    for (const [a, b] of iv) {
      const k = hidStart.length - 1;
      if (k >= 0 && a <= hidEnd[k] + 1) {
        if (b > hidEnd[k]) {
          hidTotal += b - hidEnd[k];
          hidEnd[k] = b;
        }
        continue;
      }
      hidStart.push(a);
      hidEnd.push(b);
      hidBefore.push(hidTotal);
      hidTotal += b - a + 1;
    }
  }

  function dispCount() {
    return Math.max(0, totalRows() - hidTotal);
  }

  function rowOfDisp(d) {
    // The last interval that starts at or before the row shown at d.
    let lo = 0;
    let hi = hidStart.length - 1;
    let k = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (hidStart[mid] - hidBefore[mid] <= d) {
        k = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return k < 0 ? d : d + hidBefore[k] + (hidEnd[k] - hidStart[k] + 1);
  }

  function dispOfRow(r) {
    let lo = 0;
    let hi = hidStart.length - 1;
    let k = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (hidStart[mid] <= r) {
        k = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (k < 0) return r;
    // A hidden row shows as its section's header, the row before.
    if (r <= hidEnd[k]) return hidStart[k] - 1 - hidBefore[k];
    return r - hidBefore[k] - (hidEnd[k] - hidStart[k] + 1);
  }

  // The line at the top of the screen and how far it is scrolled past.
  function topAnchor() {
    const n = dispCount();
    if (!n) return null;
    if (wrap) return { line: lineOfRow(rowOfDisp(Math.min(shownTop, n - 1))), off: 0 };
    const top = logEl.scrollTop * scale;
    const d = Math.min(Math.floor(top / ROW_H), n - 1);
    return { line: lineOfRow(rowOfDisp(d)), off: top - d * ROW_H };
  }

