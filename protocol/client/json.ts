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

/** `value` as printable-ASCII JSON text (undefined becomes null). */
export function toAsciiJson(value: unknown): string {
  const text = JSON.stringify(value) ?? 'null';
  return text.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Parses JSON text; `{ ok: false }` instead of a throw for anything malformed. */
export function parseJson(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}
