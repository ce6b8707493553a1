/**
 * Text as the TUI draws it: safe for the terminal, measured in columns.
 *
 * How this works. Every value from a server goes through `displayText`:
 * control characters become U+FFFD (format.ts `clean`), and the parts of
 * emoji that terminals draw at widths nobody agrees on are taken out
 * (zero-width joiners, variation selectors, skin-tone modifiers; a flag's
 * two regional indicators become its two letters). What is left is either
 * narrow, or wide (CJK, single pictographs), and `columns` measures it the
 * way blessed-unicode.ts teaches blessed to, so a name never shifts a
 * border. `fit` cuts or pads to an exact number of columns.
 */
import { clean } from '../format.ts';

const STRIP_RE = /[\u200d\ufe0e\ufe0f\u{1f3fb}-\u{1f3ff}]/gu;
const FLAG_RE = /[\u{1f1e6}-\u{1f1ff}]/gu;
const PICTOGRAPH_RE = /^\p{Extended_Pictographic}$/u;
const COMBINING_RE = /^[\p{Mn}\p{Me}]$/u;

/** `s` made safe and width-stable for the screen (see the file comment). */
export function displayText(s: unknown): string {
  return clean(s)
    .replace(STRIP_RE, '')
    .replace(FLAG_RE, (c) => String.fromCharCode(0x41 + (c.codePointAt(0)! - 0x1f1e6)));
}

/** True for the astral pictographs (U+1F000..U+1FAFF) that terminals draw two columns wide. */
export function isWidePictograph(cp: number): boolean {
  return cp >= 0x1f000 && cp <= 0x1faff && PICTOGRAPH_RE.test(String.fromCodePoint(cp));
}

/** Columns one code point takes: 0 (combining), 1, or 2 (wide). */
export function charColumns(cp: number): 0 | 1 | 2 {
  if (cp < 0x300) return 1;
  if (COMBINING_RE.test(String.fromCodePoint(cp))) return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) || cp === 0x2329 || cp === 0x232a ||
    (cp >= 0x2e80 && cp <= 0x303e) || (cp >= 0x3040 && cp <= 0xa4cf) || (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe10 && cp <= 0xfe19) || (cp >= 0xfe30 && cp <= 0xfe6f) ||
    (cp >= 0xff00 && cp <= 0xff60) || (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x20000 && cp <= 0x2fffd) || (cp >= 0x30000 && cp <= 0x3fffd) || isWidePictograph(cp)
  ) return 2;
  return 1;
}

/** Columns `s` takes on screen (after `displayText`). */
export function columns(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x300) { n++; continue; }
    const cp = s.codePointAt(i)!;
    if (cp > 0xffff) i++;
    n += charColumns(cp);
  }
  return n;
}

/** `s` cut (with an ellipsis) or padded with spaces to exactly `width` columns. */
export function fit(s: string, width: number, align: 'left' | 'right' = 'left'): string {
  if (width <= 0) return '';
  const w = columns(s);
  if (w <= width) return align === 'left' ? s + ' '.repeat(width - w) : ' '.repeat(width - w) + s;
  let out = '';
  let used = 0;
  for (const ch of s) {
    const cw = charColumns(ch.codePointAt(0)!);
    if (used + cw > width - 1) break;
    out += ch;
    used += cw;
  }
  return out + '…' + ' '.repeat(Math.max(0, width - 1 - used));
}

/** `s` with blessed's tag braces escaped, so a name like "{bold}" shows as typed. */
export function escapeTags(s: string): string {
  return s.replace(/[{}]/g, (c) => (c === '{' ? '{open}' : '{close}'));
}

/** Wraps `s` into lines of at most `width` columns, breaking at spaces where it can. */
export function wrap(s: string, width: number): string[] {
  if (width < 1) return [];
  const out: string[] = [];
  for (const para of s.split('\n')) {
    let line = '';
    for (const word of para.split(/(\s+)/)) {
      if (columns(line + word) <= width) { line += word; continue; }
      if (line.trim() !== '') out.push(line.trimEnd());
      line = word.trimStart();
      while (columns(line) > width) {
        const piece = cutColumns(line, width);
        out.push(piece);
        line = line.slice(piece.length);
      }
    }
    out.push(line.trimEnd());
  }
  return out;
}

/** The longest prefix of `s` that fits `width` columns (at least one character). */
function cutColumns(s: string, width: number): string {
  let used = 0;
  let i = 0;
  for (const ch of s) {
    const cw = charColumns(ch.codePointAt(0)!);
    if (used + cw > width && i > 0) break;
    used += cw;
    i += ch.length;
  }
  return s.slice(0, i);
}

/** Milliseconds since the epoch as local `YYYY-MM-DD HH:MM:SS`. */
export function localTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/**
 * A count with thousands separators: 100000 → "100,000". Not
 * toLocaleString: its first call loads the ICU locale data, ~30 ms of the
 * TUI's first frame.
 */
export function count(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
