/**
 * Teaches blessed 0.1.81 that single pictographs (😀, 🎂) are two columns
 * wide, as every current terminal draws them.
 *
 * Why: blessed's width tables predate emoji; it counts 😀 as one column,
 * the terminal moves two, and every border right of it shifts by one. Two
 * places decide a character's width in blessed: `unicode.charWidth` (the
 * drawing loop) and `unicode.chars.all` (the content parser, which puts a
 * blank cell after each wide character for the draw to skip). We widen
 * both with the same rule as text.ts `charColumns`. Patched once per
 * process, before any screen exists; idempotent.
 */
import { createRequire } from 'node:module';
import { isWidePictograph } from './text.ts';

interface BlessedUnicode {
  charWidth(str: string | number, i?: number): number;
  codePointAt(str: string, i: number): number;
  chars: { all: RegExp; wide: RegExp; swide: RegExp };
  __contactsPatched?: boolean;
}

const require = createRequire(import.meta.url);

/** Applies the patch (once). */
export function patchBlessedUnicode(): void {
  const u = require('blessed/lib/unicode.js') as BlessedUnicode;
  if (u.__contactsPatched) return;
  const charWidth = u.charWidth;
  u.charWidth = function (str, i) {
    const cp = typeof str === 'number' ? str : u.codePointAt(str, i ?? 0);
    return isWidePictograph(cp) ? 2 : charWidth.call(this, str, i);
  };
  const body = (r: RegExp) => r.source.slice(1, -1);
  u.chars.all = new RegExp(`(${body(u.chars.swide)}|${body(u.chars.wide)}|(?:(?=\\p{Extended_Pictographic})[\\u{1F000}-\\u{1FAFF}]))`, 'gu');
  u.__contactsPatched = true;
}
