// livelog viewer: shows the log at the page's path with /log/ for /view/ as a
// terminal would, rendering only the rows on screen. A log the page can hold
// is read whole from its Server-Sent Events stream; a larger one in windows
// of lines (?lines=A-B) as the reader scrolls, its tail followed live. The
// outline (/outline) folds sections and finds errors; search runs in the
// page or, on a larger log, on the server (/search). No external requests,
// no console output, no innerHTML: log text only ever reaches the page as
// text nodes. assets/viewer/README.md is the contract with the server.
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

  // One screen of terminal output. `faithful` keeps one row per log line
  // (only \n starts a row; vertical cursor movement is ignored): windows of
  // the log fetched by line number must keep the server's numbering. The
  // whole log, read from its start, is a full terminal: cursor-up redraws
  // rows, and `nums` then records which log line each row started on.
  class Screen {
    constructor(faithful, base) {
      this.faithful = faithful;
      this.base = base; // the number of the line before row 0 (while nums is null)
      this.nums = null; // per row: the log line it started on, once rows and lines differ
      this.line = base + 1; // the log line being written (counted by \n)
      this.partial = false; // whether that line has bytes yet
      this.truncated = false; // a window cut inside its only line
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

    // Rows a reader sees: the row the cursor is on counts once it has text
    // (in a faithful screen, once its line has bytes).
    count() {
      const n = this.text.length;
      return this.text[n - 1] !== '' || (this.faithful && this.partial) ? n : n - 1;
    }

    // The log's lines so far, as the server counts them (\n-terminated, and
    // the last one once it has bytes), numbered from 1.
    lineCount() {
      return this.partial ? this.line : this.line - 1;
    }

    lineOfRow(r) {
      return this.nums ? this.nums[r] : this.base + r + 1;
    }

    // The first row of line `l` (or the nearest one before it).
    rowOfLine(l) {
      const last = this.text.length - 1;
      if (!this.nums) return Math.max(0, Math.min(last, l - this.base - 1));
      let lo = 0;
      let hi = last;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (this.nums[mid] <= l) lo = mid;
        else hi = mid - 1;
      }
      return lo;
    }

    // Drops the first k rows (the page holds a bounded part of a long log).
    trimHead(k) {
      this.text.splice(0, k);
      this.runs.splice(0, k);
      if (this.nums) this.nums.splice(0, k);
      else this.base += k;
      this.row -= k;
      if (this.saved) this.saved[0] = Math.max(0, this.saved[0] - k);
      this.dirty = 0;
    }

    // Forgets line l and what follows (faithful screens: a stream that broke
    // is read again from the line it broke in).
    truncateFrom(l) {
      const r = Math.max(0, Math.min(this.text.length - 1, l - this.base - 1));
      this.text.length = r + 1;
      this.runs.length = r + 1;
      this.text[r] = '';
      this.runs[r] = null;
      this.row = r;
      this.col = 0;
      this.line = this.base + r + 1;
      this.partial = false;
      this.state = GROUND;
      this.touch(r);
    }

    touch(row) {
      if (row < this.dirty) this.dirty = row;
    }

    write(s) {
      const n = s.length;
      if (n) {
        const lf = s.lastIndexOf('\n');
        this.partial = lf < 0 ? true : lf < n - 1;
      }
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
        case 0x0a: // LF: the next log line
          this.line++;
          this.newline();
          break;
        case 0x0b: // VT
        case 0x0c: // FF
          if (!this.faithful) this.newline();
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
          if (!this.faithful) this.newline();
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
      if (!this.faithful) this.row = Math.max(this.lowestRow(), this.row - k);
    }

    down(k) {
      if (!this.faithful) this.row = Math.min(this.text.length - 1, this.row + k);
    }

    restore() {
      if (!this.saved) return;
      if (this.faithful) {
        this.col = this.saved[1];
        return;
      }
      this.row = Math.min(Math.max(this.saved[0], this.lowestRow()), this.text.length - 1);
      this.col = this.saved[1];
    }

    newline() {
      this.row++;
      this.col = 0;
      if (this.row === this.text.length) {
        this.text.push('');
        this.runs.push(null);
        if (this.nums) this.nums.push(this.line);
        else if (this.line !== this.base + this.row + 1) {
          // Rows and lines part ways (a redraw, VT, FF): number each row.
          this.nums = this.text.map((_, i) => this.base + i + 1);
          this.nums[this.row] = this.line;
        }
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
          if (this.nums) this.nums.length = this.row + 1;
          this.touch(this.row);
        }
      } else if (!this.faithful && (mode === 2 || mode === 3)) {
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

  // ---------------------------------------------------------------- start

  async function start() {
    if (location.hash) applyHash(true);
    setFollowing(!selection);
    followBtn.textContent = following ? 'Following' : 'Follow';
    applyTsMode();
    applyWrap();
    logEl.focus();
    scheduleRender();
    if (!logPath) {
      setState('failed', 'No log here: the viewer is at /view/<token>');
      return;
    }
    // What the log is (state, size, sections) decides how to read it.
    let doc = null;
    try {
      const res = await fetch(logPath + '/outline', { cache: 'no-store' });
      if (res.ok) doc = await res.json();
      else if (refused(res.status === 404 ? 0 : res.status)) return;
      else if (res.status === 404) indexOff = true;
    } catch {
      // The log's own stream tries again.
    }
    if (indexOff) {
      tsMode = 'off';
      tsSelect.disabled = true;
      applyTsMode();
    }
    if (doc) {
      outlineDone = doc.state === 'complete' || doc.state === 'incomplete';
      applyOutline(doc);
    }
    if (doc && doc.bytes > HOLD) startWindowed(doc);
    else startWhole();
  }

  start();
})();
