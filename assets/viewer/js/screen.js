// Rendering and ANSI, 2 of 2: Screen, the streaming parser of terminal
// output into lines of text and style runs.
//
// One of the files joined, in the order src/http/viewer.rs lists, into the
// body of the page's one script function (assets/viewer/README.md): they
// share its declarations.

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

