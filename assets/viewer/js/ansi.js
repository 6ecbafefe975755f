// Rendering and ANSI, 1 of 2: the terminal parser's states, SGR
// attributes and colours.
//
// One of the files joined, in the order src/http/viewer.rs lists, into the
// body of the page's one script function (assets/viewer/README.md): they
// share its declarations.

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
