/**
 * JSON text as the client protocol carries it: printable ASCII only.
 *
 * How this works: `JSON.stringify` already escapes control characters; we
 * also escape every non-ASCII UTF-16 unit as \uXXXX (surrogate pairs become
 * two escapes, which JSON.parse joins again). Why: the wire schema accepts
 * only printable ASCII in client JSON fields, so a 50 KB page of names with
 * accents decodes at cbor-x's ASCII speed and never meets the gate's
 * non-ASCII limits (LIMITS.maxCborNonAscii*).
 */

const NOT_PRINTABLE_ASCII = /[^\x20-\x7e]/;
const HEX = '0123456789abcdef';

/** `value` as printable-ASCII JSON text (undefined becomes null). */
export function toAsciiJson(value: unknown): string {
  const text = JSON.stringify(value) ?? 'null';
  // Most text is ASCII already: one scan, no copy.
  return NOT_PRINTABLE_ASCII.test(text) ? escapeNonAscii(text) : text;
}

/** `text` with every UTF-16 unit outside printable ASCII as \uXXXX (inside JSON strings: JSON.stringify left no other place for one). */
function escapeNonAscii(text: string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x20 && c <= 0x7e) continue;
    out += text.slice(from, i) + '\\u' + HEX[c >> 12] + HEX[(c >> 8) & 15] + HEX[(c >> 4) & 15] + HEX[c & 15];
    from = i + 1;
  }
  return out + text.slice(from);
}

/** Parses JSON text; `{ ok: false }` instead of a throw for anything malformed. */
export function parseJson(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}
