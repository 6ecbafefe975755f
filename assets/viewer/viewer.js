// livelog viewer: reads the log's Server-Sent Events stream (same path as the
// page, with /log/ for /view/) and shows it as a terminal would, rendering only
// the rows on screen. No external requests, no console output, no innerHTML:
// log text only ever reaches the page as text nodes.
'use strict';

(() => {
  // ---------------------------------------------------------------- screen
  // The log as lines of text plus style runs, fed by a streaming parser of
  // terminal output. Escape sequences may be split anywhere between writes.

  const GROUND = 0;
  const ESC = 1;
  const ESC_INTERMEDIATE = 2;
  const CSI = 3;
  const STRING = 4; // OSC, DCS, SOS, PM, APC: skipped up to their terminator
  const STRING_ESC = 5;

  // Everything the ground state does not copy as text: C0 controls but tab,
  // DEL and C1 controls.
  const CONTROL = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/g;
  // Longest CSI parameter string and escape string kept or skipped before the
  // parser gives up on them (a stray ESC must not swallow the log).
  const MAX_CSI = 256;
  const MAX_STRING = 65536;
  // How far above the newest line cursor-up sequences may reach (multi-line
  // progress displays redraw a few lines; a terminal's height bounds it too).
  const CURSOR_WINDOW = 500;

  // SGR attribute bits.
  const BOLD = 1;
  const DIM = 2;
  const ITALIC = 4;
  const UNDERLINE = 8;
  const STRIKE = 16;
  const OVERLINE = 32;
  const INVERSE = 64;
  const HIDDEN = 128;
  // Underline style (2 bits above the flags): single, double, curly, dotted, dashed.
  const ULSHIFT = 8;

  // Colours: -1 default, 0-255 palette, 256 + 0xRRGGBB for 24-bit.
  const DEFAULT = -1;

  function paletteCss(n) {
    if (n < 16) return null; // a class
    if (n < 232) {
      const i = n - 16;
      const level = (v) => (v ? 55 + v * 40 : 0);
      return rgbCss(level(Math.floor(i / 36)), level(Math.floor(i / 6) % 6), level(i % 6));
    }
    const grey = 8 + (n - 232) * 10;
    return rgbCss(grey, grey, grey);
  }

  function rgbCss(r, g, b) {
    return 'rgb(' + r + ', ' + g + ', ' + b + ')';
  }

  function colourCss(c) {
    if (c >= 256) {
      const rgb = c - 256;
      return rgbCss((rgb >> 16) & 255, (rgb >> 8) & 255, rgb & 255);
    }
    return paletteCss(c);
  }

  class Screen {
    constructor() {
      this.text = [''];
      this.runs = [null]; // per line: null or [start, end, styleId, ...], sorted, disjoint
      this.row = 0;
      this.col = 0;
      this.saved = null;
      this.dirty = 0; // lowest line index changed since the renderer last looked
      this.maxCols = 0;
      this.state = GROUND;
      this.params = '';
      this.private = false;
      this.skipped = 0;
      this.fg = DEFAULT;
      this.bg = DEFAULT;
      this.flags = 0;
      this.styleId = 0;
      this.styles = [null]; // id -> {cls, fg, bg}; 0 is the default style
      this.styleIds = new Map([['-1,-1,0', 0]]);
    }

    // Lines a reader sees: the line the cursor is on counts once it has text.
    count() {
      const n = this.text.length;
      return this.text[n - 1] === '' ? n - 1 : n;
    }

    touch(row) {
      if (row < this.dirty) this.dirty = row;
    }

    write(s) {
      const n = s.length;
      let i = 0;
      while (i < n) {
        if (this.state === GROUND) {
          CONTROL.lastIndex = i;
          const m = CONTROL.exec(s);
          const j = m ? m.index : n;
          if (j > i) this.put(i === 0 && j === n ? s : s.slice(i, j));
          if (!m) return;
          this.control(s.charCodeAt(j));
          i = j + 1;
          continue;
        }
        const c = s.charCodeAt(i++);
        switch (this.state) {
          case ESC:
            this.escape(c);
            break;
          case ESC_INTERMEDIATE:
            if (c < 0x20) this.control(c);
            else if (c > 0x2f) this.state = GROUND; // the final byte, e.g. ESC ( B
            break;
          case CSI:
            if (c >= 0x30 && c <= 0x3f) {
              if (this.params.length < MAX_CSI) {
                if (c >= 0x3c && this.params === '') this.private = true;
                else this.params += String.fromCharCode(c);
              } else {
                this.state = GROUND;
              }
            } else if (c >= 0x40 && c <= 0x7e) {
              this.state = GROUND;
              if (!this.private) this.csi(c);
            } else if (c >= 0x20 && c <= 0x2f) {
              this.private = true; // intermediates: nothing we interpret
            } else if (c === 0x1b) {
              this.state = ESC;
            } else if (c < 0x20) {
              this.control(c); // C0 controls act inside a sequence
            } else {
              this.state = GROUND;
            }
            break;
          case STRING:
            if (c === 0x07 || c === 0x9c) this.state = GROUND; // BEL or ST ends it
            else if (c === 0x1b) this.state = STRING_ESC;
            else if (c === 0x0a || ++this.skipped > MAX_STRING) {
              // Unterminated: a newline ends the sequence (and still counts).
              this.state = GROUND;
              if (c === 0x0a) this.control(c);
            }
            break;
          case STRING_ESC:
            if (c === 0x5c) this.state = GROUND; // ESC \ (ST)
            else {
              this.state = ESC;
              this.escape(c);
            }
            break;
        }
      }
    }

    control(c) {
      switch (c) {
        case 0x0a: // LF
        case 0x0b: // VT
        case 0x0c: // FF
          this.newline();
          break;
        case 0x0d: // CR: back to the start of the line, to be overwritten
          this.col = 0;
          break;
        case 0x08: // BS
          if (this.col > 0) this.col--;
          break;
        case 0x1b:
          this.state = ESC;
          break;
        default: // BEL, NUL, SO, SI, DEL, C1 ...: nothing to show
          break;
      }
    }

    escape(c) {
      this.state = GROUND;
      switch (c) {
        case 0x5b: // [
          this.state = CSI;
          this.params = '';
          this.private = false;
          break;
        case 0x5d: // ] OSC (titles, hyperlinks: their text is outside the sequence)
        case 0x50: // P DCS
        case 0x58: // X SOS
        case 0x5e: // ^ PM
        case 0x5f: // _ APC
          this.state = STRING;
          this.skipped = 0;
          break;
        case 0x37: // 7 save cursor
          this.saved = [this.row, this.col];
          break;
        case 0x38: // 8 restore cursor
          this.restore();
          break;
        case 0x45: // E next line
        case 0x44: // D index
          this.newline();
          break;
        case 0x4d: // M reverse index
          this.up(1);
          break;
        case 0x63: // c full reset
          this.sgr('0');
          break;
        case 0x1b:
          this.state = ESC;
          break;
        default:
          if (c >= 0x20 && c <= 0x2f) this.state = ESC_INTERMEDIATE;
          else if (c < 0x20) {
            this.state = ESC;
            this.control(c);
          }
          break;
      }
    }

    csi(final) {
      const p = this.params;
      const n = (i, dflt) => {
        const v = parseInt(p.split(';')[i], 10);
        return Number.isFinite(v) && v > 0 ? Math.min(v, 100000) : dflt;
      };
      switch (final) {
        case 0x6d: // m SGR
          this.sgr(p);
          break;
        case 0x4b: // K erase in line
          this.eraseLine(n(0, 0));
          break;
        case 0x4a: // J erase in display
          this.eraseDisplay(n(0, 0));
          break;
        case 0x47: // G cursor to column
        case 0x60: // ` same
          this.col = n(0, 1) - 1;
          break;
        case 0x48: // H cursor position: the row is the screen's, unknown here
        case 0x66: // f same
          this.col = n(1, 1) - 1;
          break;
        case 0x43: // C forward
          this.col += n(0, 1);
          break;
        case 0x44: // D back
          this.col = Math.max(0, this.col - n(0, 1));
          break;
        case 0x41: // A up
          this.up(n(0, 1));
          break;
        case 0x46: // F up, to column 1
          this.up(n(0, 1));
          this.col = 0;
          break;
        case 0x42: // B down
          this.down(n(0, 1));
          break;
        case 0x45: // E down, to column 1
          this.down(n(0, 1));
          this.col = 0;
          break;
        case 0x58: // X erase characters
          this.blank(this.col, this.col + n(0, 1));
          break;
        case 0x73: // s save cursor
          this.saved = [this.row, this.col];
          break;
        case 0x75: // u restore cursor
          this.restore();
          break;
        default: // scrolling regions, modes, reports ...: nothing to show
          break;
      }
    }

    lowestRow() {
      return Math.max(0, this.text.length - 1 - CURSOR_WINDOW);
    }

    up(k) {
      this.row = Math.max(this.lowestRow(), this.row - k);
    }

    down(k) {
      this.row = Math.min(this.text.length - 1, this.row + k);
    }

    restore() {
      if (!this.saved) return;
      this.row = Math.min(Math.max(this.saved[0], this.lowestRow()), this.text.length - 1);
      this.col = this.saved[1];
    }

    newline() {
      this.row++;
      this.col = 0;
      if (this.row === this.text.length) {
        this.text.push('');
        this.runs.push(null);
      }
    }

    eraseLine(mode) {
      const r = this.row;
      const t = this.text[r];
      if (mode === 0) {
        if (this.col < t.length) {
          this.text[r] = t.slice(0, this.col);
          this.setRuns(r, this.col, t.length, 0);
          this.touch(r);
        }
      } else if (mode === 1) {
        this.blank(0, this.col + 1);
      } else {
        this.text[r] = '';
        this.runs[r] = null;
        this.touch(r);
      }
    }

    eraseDisplay(mode) {
      if (mode === 0) {
        // Erase below: used with cursor-up to redraw a multi-line display.
        this.eraseLine(0);
        if (this.row < this.text.length - 1) {
          this.text.length = this.row + 1;
          this.runs.length = this.row + 1;
          this.touch(this.row);
        }
      } else if (mode === 2 || mode === 3) {
        // Clear screen: a log keeps its history; start on a fresh line.
        this.row = this.text.length - 1;
        if (this.text[this.row] !== '') this.newline();
        this.col = 0;
      }
    }

    // Overwrites [a, b) of the cursor's line with default-style spaces.
    blank(a, b) {
      const r = this.row;
      const t = this.text[r];
      b = Math.min(b, t.length);
      if (a >= b) return;
      this.text[r] = t.slice(0, a) + ' '.repeat(b - a) + t.slice(b);
      this.setRuns(r, a, b, 0);
      this.touch(r);
    }

    // Writes printable text at the cursor, overwriting what is there.
    put(s) {
      const r = this.row;
      const c = this.col;
      let t = this.text[r];
      if (c === t.length) t += s;
      else if (c > t.length) {
        this.setRuns(r, t.length, c, 0);
        t += ' '.repeat(c - t.length) + s;
      } else t = t.slice(0, c) + s + t.slice(c + s.length);
      this.text[r] = t;
      const end = c + s.length;
      if (this.styleId !== 0 || this.runs[r] !== null) this.setRuns(r, c, end, this.currentStyle());
      this.col = end;
      if (t.length > this.maxCols) this.maxCols = t.length;
      this.touch(r);
    }

    // Gives [a, b) of line r the style id (0: default, no run).
    setRuns(r, a, b, id) {
      const old = this.runs[r];
      if (old === null) {
        if (id !== 0) this.runs[r] = [a, b, id];
        return;
      }
      const last = old.length - 3;
      if (old[last + 1] <= a) {
        // Appending after every run: the common case.
        if (id === 0) return;
        if (old[last + 1] === a && old[last + 2] === id) old[last + 1] = b;
        else old.push(a, b, id);
        return;
      }
      const out = [];
      let placed = id === 0;
      for (let k = 0; k < old.length; k += 3) {
        const s = old[k];
        const e = old[k + 1];
        const v = old[k + 2];
        if (e <= a || s >= b) {
          if (!placed && s >= b) {
            out.push(a, b, id);
            placed = true;
          }
          out.push(s, e, v);
          continue;
        }
        if (s < a) out.push(s, a, v);
        if (!placed) {
          out.push(a, b, id);
          placed = true;
        }
        if (e > b) out.push(b, e, v);
      }
      if (!placed) out.push(a, b, id);
      this.runs[r] = out.length ? out : null;
    }

    sgr(p) {
      const parts = p === '' ? ['0'] : p.split(';');
      for (let k = 0; k < parts.length; k++) {
        const sub = parts[k].split(':');
        const code = sub[0] === '' ? 0 : parseInt(sub[0], 10);
        if (code === 38 || code === 48 || code === 58) {
          let colour;
          if (sub.length > 1) {
            colour = extendedColour(sub.slice(1).map(Number), true);
          } else {
            const rest = parts.slice(k + 1).map(Number);
            colour = extendedColour(rest, false);
            k += colour.used;
          }
          if (colour.value !== undefined) {
            if (code === 38) this.fg = colour.value;
            else if (code === 48) this.bg = colour.value;
            // 58: underline colour, not shown.
          }
          continue;
        }
        this.sgrCode(code, sub.length > 1 ? parseInt(sub[1], 10) : undefined);
      }
      this.styleId = -1;
    }

    sgrCode(code, subparam) {
      if (code === 0) {
        this.fg = DEFAULT;
        this.bg = DEFAULT;
        this.flags = 0;
      } else if (code === 1) this.flags |= BOLD;
      else if (code === 2) this.flags |= DIM;
      else if (code === 3) this.flags |= ITALIC;
      else if (code === 4) {
        const style = subparam === undefined ? 1 : subparam;
        this.flags &= ~(UNDERLINE | (7 << ULSHIFT));
        if (style > 0) this.flags |= UNDERLINE | (Math.min(style, 5) - 1) << ULSHIFT;
      } else if (code === 7) this.flags |= INVERSE;
      else if (code === 8) this.flags |= HIDDEN;
      else if (code === 9) this.flags |= STRIKE;
      else if (code === 21) this.flags = (this.flags & ~(7 << ULSHIFT)) | UNDERLINE | (1 << ULSHIFT);
      else if (code === 22) this.flags &= ~(BOLD | DIM);
      else if (code === 23) this.flags &= ~ITALIC;
      else if (code === 24) this.flags &= ~(UNDERLINE | (7 << ULSHIFT));
      else if (code === 27) this.flags &= ~INVERSE;
      else if (code === 28) this.flags &= ~HIDDEN;
      else if (code === 29) this.flags &= ~STRIKE;
      else if (code >= 30 && code <= 37) this.fg = code - 30;
      else if (code === 39) this.fg = DEFAULT;
      else if (code >= 40 && code <= 47) this.bg = code - 40;
      else if (code === 49) this.bg = DEFAULT;
      else if (code === 53) this.flags |= OVERLINE;
      else if (code === 55) this.flags &= ~OVERLINE;
      else if (code >= 90 && code <= 97) this.fg = code - 90 + 8;
      else if (code >= 100 && code <= 107) this.bg = code - 100 + 8;
      // Blink (5, 6, 25), fonts (10-20) and the rest: not shown.
    }

    currentStyle() {
      if (this.styleId >= 0) return this.styleId;
      const key = this.fg + ',' + this.bg + ',' + this.flags;
      let id = this.styleIds.get(key);
      if (id === undefined) {
        id = this.styles.length;
        this.styles.push(makeStyle(this.fg, this.bg, this.flags));
        this.styleIds.set(key, id);
      }
      this.styleId = id;
      return id;
    }
  }

  // Parses the arguments after 38/48/58: 5;n or 2;r;g;b (with ';'), or
  // 5:n, 2:r:g:b, 2:colourspace:r:g:b (with ':'). Returns the colour and how
  // many ';' parameters it used.
  function extendedColour(a, colon) {
    if (a[0] === 5) {
      const n = a[1];
      return { value: n >= 0 && n <= 255 ? n : undefined, used: 2 };
    }
    if (a[0] === 2) {
      let rgb = a.slice(1, 4);
      if (colon && a.length >= 5) rgb = a.slice(2, 5); // with a colour space id
      const ok = rgb.length === 3 && rgb.every((v) => v >= 0 && v <= 255);
      return { value: ok ? 256 + ((rgb[0] << 16) | (rgb[1] << 8) | rgb[2]) : undefined, used: 4 };
    }
    return { value: undefined, used: a.length ? 1 : 0 };
  }

  function makeStyle(fg, bg, flags) {
    if (flags & INVERSE) {
      const f = fg;
      fg = bg === DEFAULT ? -2 : bg; // -2: the default background as a colour
      bg = f === DEFAULT ? -2 : f;
    }
    const cls = [];
    let fgCss = null;
    let bgCss = null;
    if (fg === -2) cls.push('fi');
    else if (fg >= 0 && fg < 16) cls.push('f' + fg);
    else if (fg >= 16) fgCss = colourCss(fg);
    if (bg === -2) cls.push('gi');
    else if (bg >= 0 && bg < 16) cls.push('g' + bg);
    else if (bg >= 16) bgCss = colourCss(bg);
    if (flags & BOLD) cls.push('b');
    if (flags & DIM) cls.push('d');
    if (flags & ITALIC) cls.push('i');
    if (flags & HIDDEN) cls.push('h');
    const lines = (flags & UNDERLINE ? 1 : 0) | (flags & STRIKE ? 2 : 0) | (flags & OVERLINE ? 4 : 0);
    if (lines) cls.push('t' + lines);
    if (flags & UNDERLINE) {
      const u = (flags >> ULSHIFT) & 7;
      if (u) cls.push(['', 'uu', 'uc', 'ud', 'ux'][u]);
    }
    return { cls: cls.join(' '), fg: fgCss, bg: bgCss };
  }

  // ------------------------------------------------------------------ page

  const $ = (id) => document.getElementById(id);
  const root = document.documentElement;
  const logEl = $('log');
  const spacer = $('spacer');
  const rowsEl = $('rows');
  const stateEl = $('state');
  const sizeEl = $('size');
  const linesEl = $('lines');
  const followBtn = $('follow');
  const searchBar = $('search');
  const queryEl = $('query');
  const caseEl = $('case');
  const matchesEl = $('matches');

  const screen = new Screen();
  const ROW_H = parseFloat(getComputedStyle(root).getPropertyValue('--row-h')) || 18;
  // Browsers cap an element's height (Chromium ~33.5M px, Firefox ~17.9M px):
  // beyond this, scroll positions are scaled to line positions.
  const MAX_PX = 15000000;

  // The log is at the page's path with /log/ for /view/: the token stays in
  // the path and is never copied anywhere else.
  const path = location.pathname;
  const at = path.indexOf('/view/');
  const logPath = at >= 0 ? path.slice(0, at) + '/log/' + path.slice(at + 6) : null;
  if (logPath) $('raw').href = logPath;

  let state = 'connecting';
  let bytes = 0; // byte offset of the end of what we have (the last event id)
  let total = null; // the final length, from the end event
  let following = true;
  let selection = null; // [first, last] line index, from #L
  let pendingJump = false;
  let generation = 0; // bumped when every shown row must be rebuilt
  let shownFirst = -1;
  let shownCount = 0;
  let shownGen = -1;
  let scale = 1;
  let spacerH = -1;
  let spacerW = 0;
  let shownDigits = 0;
  let firstLinesMarked = false;
  let renderScheduled = false;
  let labelsDirty = true;
  let ownScrollTop = -1; // the scrollTop the page set itself (not the reader)

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
    updateLabels(screen.count());
    root.dataset.state = s;
    stateEl.textContent = label || LABELS[s];
    document.title = 'livelog · ' + (label || LABELS[s]);
    labelsDirty = true;
    scheduleRender();
  }

  function updateLabels(n) {
    const size = total !== null ? total : bytes;
    sizeEl.textContent = bytes > 0 || total !== null ? formatBytes(size) : '';
    sizeEl.title = size.toLocaleString('en-US') + ' bytes';
    linesEl.textContent = n.toLocaleString('en-US') + (n === 1 ? ' line' : ' lines');
    root.dataset.bytes = String(size);
    root.dataset.lines = String(n);
  }

  function setFollowing(on) {
    if (following === on) return;
    following = on;
    followBtn.setAttribute('aria-pressed', String(on));
    followBtn.textContent = on ? 'Following' : 'Follow';
  }

  // --------------------------------------------------------------- render

  function buildRow(i) {
    const row = document.createElement('div');
    row.className = 'row';
    if (selection && i >= selection[0] && i <= selection[1]) row.classList.add('sel');
    if (search.current >= 0 && search.matches[search.current] === i) row.classList.add('cur');
    const ln = document.createElement('a');
    ln.className = 'ln';
    ln.href = '#L' + (i + 1);
    ln.dataset.n = String(i + 1);
    const tx = document.createElement('span');
    tx.className = 'tx';
    fillText(tx, screen.text[i], screen.runs[i], search.re);
    row.append(ln, tx);
    row.dataset.line = String(i + 1);
    return row;
  }

  // Appends text t to el as text nodes and styled spans, with search matches
  // in <mark>.
  function fillText(el, t, runs, re) {
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
        const style = screen.styles[runs[rk + 2]];
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
    const n = screen.count();
    if (labelsDirty || String(n) !== root.dataset.lines) {
      updateLabels(n);
      labelsDirty = false;
    }
    const vh = logEl.clientHeight;
    const full = n * ROW_H;
    const h = Math.min(full, MAX_PX);
    if (h !== spacerH) {
      spacer.style.height = h + 'px';
      spacerH = h;
    }
    scale = full > h && h > vh ? (full - vh) / (h - vh) : 1;
    const digits = String(Math.max(n, 1)).length;
    if (digits !== shownDigits) {
      rowsEl.style.setProperty('--digits', String(digits));
      shownDigits = digits;
      generation++;
    }

    if (pendingJump && selection && (selection[0] < n || ended())) {
      pendingJump = false;
      scrollToLine(Math.min(selection[0], n - 1), true);
    } else if (following) {
      setScrollTop(h);
    }

    const top = logEl.scrollTop * scale;
    const first = Math.min(Math.floor(top / ROW_H), Math.max(n - 1, 0));
    const offset = top - first * ROW_H;
    const count = Math.max(0, Math.min(n - first, Math.ceil((vh + offset) / ROW_H) + 1));
    rowsEl.style.transform = 'translateY(' + (logEl.scrollTop - offset) + 'px)';

    const dirty = screen.dirty;
    screen.dirty = Infinity;
    if (first !== shownFirst || count !== shownCount || shownGen !== generation || dirty < first + count) {
      const keep = new Map();
      if (shownGen === generation) {
        for (const el of rowsEl.children) {
          const i = Number(el.dataset.line) - 1;
          if (i < dirty) keep.set(i, el);
        }
      }
      const rows = [];
      for (let i = first; i < first + count; i++) rows.push(keep.get(i) || buildRow(i));
      rowsEl.replaceChildren(...rows);
      shownFirst = first;
      shownCount = count;
      shownGen = generation;
    }

    // Wide lines widen the scroll area. The estimate counts a tab as one
    // column, so the rows on screen are measured too (their text, not the
    // rows, which are at least as wide as the view).
    let w = estimatedWidth();
    for (const tx of rowsEl.querySelectorAll('.tx')) w = Math.max(w, tx.offsetLeft + tx.offsetWidth);
    if (w > spacerW) {
      spacerW = w;
      spacer.style.width = w + 'px';
    }

    if (!firstLinesMarked && count > 0) {
      firstLinesMarked = true;
      afterPaint('livelog:first-lines');
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
    return (screen.maxCols + shownDigits + 6) * charWidth;
  }

  // Marks a moment after the next frame is painted (for measurements).
  function afterPaint(name) {
    requestAnimationFrame(() => setTimeout(() => performance.mark(name), 0));
  }

  function ended() {
    return state === 'complete' || state === 'incomplete';
  }

  // Scrolls line i into view. With `near`, puts it a third of the way down.
  function scrollToLine(i, near) {
    setFollowing(false);
    const vh = logEl.clientHeight;
    const y = i * ROW_H;
    const top = logEl.scrollTop * scale;
    if (!near && y >= top && y + ROW_H <= top + vh) return;
    const want = Math.max(0, near ? y - vh / 3 : y - vh / 2);
    setScrollTop(want / scale);
    scheduleRender();
  }

  function setScrollTop(top) {
    logEl.scrollTop = top;
    ownScrollTop = logEl.scrollTop;
  }

  function atBottom() {
    return logEl.scrollTop + logEl.clientHeight >= logEl.scrollHeight - 2;
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
  window.addEventListener('resize', scheduleRender);

  followBtn.addEventListener('click', () => {
    setFollowing(true);
    scheduleRender();
    logEl.focus();
  });

  // ------------------------------------------------------- #L123 links

  function parseHash() {
    const m = /^#L(\d+)(?:-L?(\d+))?$/.exec(location.hash);
    if (!m) return null;
    const a = Number(m[1]);
    const b = m[2] ? Number(m[2]) : a;
    if (a < 1 || b < 1) return null;
    return [Math.min(a, b) - 1, Math.max(a, b) - 1];
  }

  function applyHash(jump) {
    selection = parseHash();
    generation++;
    if (selection && jump) {
      setFollowing(false);
      pendingJump = true;
    }
    scheduleRender();
  }

  rowsEl.addEventListener('click', (e) => {
    const ln = e.target.closest('.ln');
    // Ctrl-, Cmd- or middle-click opens the link elsewhere, as links do.
    if (!ln || e.ctrlKey || e.metaKey || e.altKey || e.button !== 0) return;
    e.preventDefault();
    const i = Number(ln.dataset.n);
    let hash = '#L' + i;
    if (e.shiftKey && selection) {
      const a = Math.min(selection[0] + 1, i);
      const b = Math.max(selection[0] + 1, i);
      hash = a === b ? '#L' + a : '#L' + a + '-L' + b;
    }
    // A new history entry, like following any link; the line stays where it is.
    history.pushState(null, '', hash);
    applyHash(false);
    setFollowing(false);
  });
  window.addEventListener('hashchange', () => applyHash(true));

  // --------------------------------------------------------------- search

  const search = { query: '', re: null, test: null, matches: [], scanned: 0, current: -1, wantJump: false, timer: 0 };

  function escapeRegExp(s) {
    return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
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
    search.query = q;
    search.matches = [];
    search.scanned = 0;
    search.current = -1;
    const flags = caseEl.checked ? '' : 'i';
    search.re = q ? new RegExp(escapeRegExp(q), 'g' + flags) : null;
    search.test = q ? new RegExp(escapeRegExp(q), flags) : null;
    search.wantJump = !!q;
    generation++;
    scan();
  }

  // Lines that will not change any more (the cursor's line still may).
  function settledLines() {
    return ended() ? screen.count() : Math.max(0, screen.row);
  }

  // Finds matching lines in slices of a few milliseconds, so typing and
  // scrolling stay smooth on a million lines.
  function scan() {
    search.timer = 0;
    if (!search.test) {
      showMatches();
      return;
    }
    const limit = settledLines();
    const started = performance.now();
    const text = screen.text;
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

  // The first match at or below the top of the screen; with `wrap`, the
  // first match at all once the whole log has been searched.
  function jumpToFirstMatch(wrap) {
    const top = Math.floor((logEl.scrollTop * scale) / ROW_H);
    let k = lowerBound(search.matches, top);
    if (k === search.matches.length) {
      if (!wrap || !search.matches.length) return;
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
    scrollToLine(search.matches[k], false);
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
      const more = search.scanned < settledLines() ? '+' : '';
      matchesEl.textContent = n ? (search.current + 1 || '–') + ' of ' + n.toLocaleString('en-US') + more : more ? 'searching…' : 'no matches';
    }
    scheduleRender();
  }

  let queryTimer = 0;
  queryEl.addEventListener('input', () => {
    clearTimeout(queryTimer);
    queryTimer = setTimeout(() => setQuery(queryEl.value), 120);
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

  // ----------------------------------------------------------- the stream

  let source = null;
  let retryDelay = 2000;

  function connect() {
    // A fresh EventSource cannot send Last-Event-ID: say where to resume in
    // the query. Its own reconnects send Last-Event-ID, which the server
    // prefers to ?from=.
    source = new EventSource(bytes > 0 ? logPath + '?from=' + bytes : logPath);
    source.addEventListener('open', () => {
      retryDelay = 2000;
      setState(bytes > 0 ? 'live' : 'waiting');
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
    if (Number.isFinite(id)) bytes = id;
    screen.write(text);
    if (state !== 'live') setState('live');
    labelsDirty = true;
    if (search.test && !search.timer) search.timer = setTimeout(scan, 50);
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
    setState(complete ? 'complete' : 'incomplete');
    if (search.test && !search.timer) search.timer = setTimeout(scan, 0);
    afterPaint('livelog:loaded');
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
      retryLater();
      return;
    }
    const length = res.headers.get('Content-Length');
    if (res.status === 401 || res.status === 403) {
      setState('failed', 'Access denied: check the link');
    } else if (res.status === 404) {
      setState('failed', 'Not found: check the link');
    } else if (res.ok && length !== null && Number(length) <= bytes) {
      // The log is finished and we have all of it: the end event was lost
      // with the connection.
      finish(true, Number(length));
    } else {
      retryLater();
    }
  }

  function retryLater() {
    setTimeout(connect, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 30000);
  }

  // ---------------------------------------------------------------- start

  if (location.hash) applyHash(true);
  setFollowing(!selection);
  followBtn.textContent = following ? 'Following' : 'Follow';
  logEl.focus();
  if (logPath) {
    connect();
  } else {
    setState('failed', 'No log here: the viewer is at /view/<token>');
  }
  scheduleRender();
})();
