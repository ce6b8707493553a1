/**
 * How the SQLite store spells the contact core's values as column text.
 *
 * How this works: everything is JSON, because SQLite can read JSON itself
 * (the commit path hands a whole batch to `json_each` in one statement, and
 * an operator can inspect a row with the sqlite3 shell), and JSON.parse is
 * the fastest decoder Node has. A state is compacted for size: each entry
 * is one array `[key, uid, value, origin, seq, wallMs, logical]` rather
 * than nested objects with repeated names (about half the bytes), the
 * context and floor are kept as the core holds them (already canonical).
 * Decoding checks the shape, because a row is input from disk: a damaged
 * or hand-edited row must stop the load with a message that names it, not
 * hand the core a malformed state. Decoding also shares what repeats
 * (origins, field keys, a write's timestamp) so that 100,000 loaded
 * contacts take less memory. The format belongs to the schema version
 * (schema.ts): changing it means a migration.
 */
import type { DotCloud, VersionVector } from '../../protocol/contacts/dots.ts';
import type { TombstoneFence } from '../../protocol/contacts/gc.ts';
import type { Hlc } from '../../protocol/contacts/hlc.ts';
import type { ContactId } from '../../protocol/contacts/ids.ts';
import type { FieldKey } from '../../protocol/contacts/model.ts';
import type { ContactState, Entry } from '../../protocol/contacts/state.ts';
import type { NodeId } from '../../protocol/types.ts';
import { entryJson } from '../../protocol/contacts/entry-json.ts';
import { toAsciiJson } from '../../protocol/client/json.ts';

/** A stored value does not have the shape this version writes: the message names the row and the flaw. */
export class StoreDecodeError extends Error {
  override name = 'StoreDecodeError';
}

/** One entry on disk: [key, uid, value, origin, seq, wallMs, logical]. */
type EncodedEntry = [string, string, unknown, string, number, number, number];

/** A state on disk (the id is its own column). */
export interface EncodedState {
  e: EncodedEntry[];
  c: DotCloud;
  f: VersionVector;
}

/** The on-disk object for `s`: what `stateJson(s)` parses back to (the tests hold stateJson to it). */
export function encodeState(s: ContactState): EncodedState {
  return {
    e: s.entries.map((x) => [x.key, x.uid, x.value, x.dot.origin, x.dot.seq, x.hlc.wallMs, x.hlc.logical]),
    c: s.ctx,
    f: s.floor,
  };
}

/**
 * The column text of `s`: `JSON.stringify(encodeState(s))` in meaning, in
 * printable ASCII (non-ASCII characters as \uXXXX escapes, which JSON.parse
 * turns back), built from the entries' value texts that replication made
 * for the same write (entry-json.ts) instead of serializing every value
 * again. ASCII matters downstream: commit-sql.ts writes an ASCII literal as
 * it is, and anything else through a slower escape.
 */
export function stateJson(s: ContactState): string {
  let out = '{"e":[';
  for (let i = 0; i < s.entries.length; i++) {
    const x = s.entries[i]!;
    out += `${i === 0 ? '' : ','}[${quoted(x.key)},${quoted(x.uid)},${entryJson(x)},${quoted(x.dot.origin)},${x.dot.seq},${x.hlc.wallMs},${x.hlc.logical}]`;
  }
  return `${out}],"c":${toAsciiJson(s.ctx)},"f":${toAsciiJson(s.floor)}}`;
}

/**
 * `json` (JSON text in ASCII, as stateJson makes it) with the \uXXXX
 * escapes of characters beyond ASCII turned back into the characters, a
 * surrogate pair into its one character: what a row keeps (an accented
 * letter takes 2 bytes instead of 6, a CJK one 3 instead of 6). Control
 * characters, DEL and lone surrogates stay escaped; every other escape
 * (\\, \") is passed over whole, so an escaped backslash before a "u"
 * is never read as an escape. JSON.parse reads both texts as the same value.
 */
export function storedJson(json: string): string {
  if (!json.includes('\\u')) return json;
  return json.replace(ESCAPE, (whole: string, hi?: string, lo?: string, one?: string) => {
    if (hi !== undefined) return String.fromCharCode(parseInt(hi, 16), parseInt(lo!, 16));
    if (one === undefined) return whole;
    const c = parseInt(one, 16);
    return c >= 0x80 && (c & 0xf800) !== 0xd800 ? String.fromCharCode(c) : whole;
  });
}

/** A JSON escape: a surrogate pair, one \uXXXX, or a backslash and the character it escapes. */
const ESCAPE = /\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})|\\u([0-9a-f]{4})|\\./gi;

/** Characters JSON takes inside quotes as they are: field keys, uids, op ids and node ids never have others. */
const PLAIN = /^[\w.:$@+-]*$/;

/** `t` as an ASCII JSON string (quoted as it is when plain: the common case, without a JSON.stringify call). */
function quoted(t: string): string {
  return PLAIN.test(t) ? `"${t}"` : toAsciiJson(t);
}

const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;

function fail(what: string, why: string): never {
  throw new StoreDecodeError(`${what}: ${why}`);
}

/**
 * One copy of each repeated string across a load: JSON.parse makes a new
 * string for every origin and field key of every entry, about a third of a
 * loaded contact's memory. Only for small vocabularies (bounded: past
 * INTERNED_MAX distinct strings it stops adding).
 */
export class Interner {
  private readonly strings = new Map<string, string>();

  intern<T extends string>(s: T): T {
    const had = this.strings.get(s);
    if (had !== undefined) return had as T;
    if (this.strings.size < INTERNED_MAX) this.strings.set(s, s);
    return s;
  }
}

/** Most distinct strings an Interner keeps (origins and field keys: a few dozen in practice). */
export const INTERNED_MAX = 10_000;

/** The state stored as `text` for contact `id`; throws StoreDecodeError naming the contact. */
export function decodeState(id: ContactId, text: string, interner: Interner = new Interner()): ContactState {
  const what = `contact ${id}`;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    fail(what, 'state is not JSON');
  }
  const o = raw as Partial<EncodedState> | null;
  if (o === null || typeof o !== 'object' || !Array.isArray(o.e)) fail(what, 'state has no entry list');
  const entries: Entry[] = [];
  let hlc: Hlc | undefined;
  for (let k = 0; k < o.e.length; k++) {
    const e = decodeEntry(what, k, o.e[k], interner, hlc);
    entries.push(e);
    hlc = e.hlc;
  }
  return { id, entries, ctx: decodeCloud(what, o.c), floor: decodeVector(what, o.f) };
}

/** One entry; `prevHlc` is shared when equal (a write's entries are adjacent and carry one timestamp). */
function decodeEntry(what: string, k: number, x: unknown, interner: Interner, prevHlc: Hlc | undefined): Entry {
  const a = x as unknown[];
  if (!Array.isArray(a) || a.length !== 7) fail(what, `entry ${k} is not a 7-item array`);
  const [key, uid, value, origin, seq, wallMs, logical] = a;
  if (typeof key !== 'string' || typeof uid !== 'string' || typeof origin !== 'string') fail(what, `entry ${k} has a non-text key, uid or origin`);
  if (!isCount(seq) || seq < 1 || !isCount(wallMs) || !isCount(logical)) fail(what, `entry ${k} has a bad seq or hlc`);
  const hlc = prevHlc && prevHlc.wallMs === wallMs && prevHlc.logical === logical ? prevHlc : { wallMs, logical };
  return { key: interner.intern(key as FieldKey), uid, value, dot: { origin: interner.intern(origin as NodeId), seq }, hlc };
}

/** A dot cloud as stored (ctx, applied ranges); throws StoreDecodeError. */
export function decodeCloud(what: string, x: unknown): DotCloud {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) fail(what, 'dot cloud is not an object');
  for (const [origin, ranges] of Object.entries(x)) checkRanges(what, origin, ranges);
  return x as DotCloud;
}

/** One origin's ranges [from, to, …] as stored; throws StoreDecodeError unless sorted, disjoint and ≥ 1. */
export function checkRanges(what: string, origin: string, ranges: unknown): readonly number[] {
  const r = ranges as number[];
  if (!Array.isArray(r) || r.length === 0 || r.length % 2 !== 0) fail(what, `ranges of ${origin} are not [from, to, …]`);
  for (let i = 0; i < r.length; i++) {
    // Each bound at least the previous one (+2 between ranges: canonical clouds never touch).
    const min = i === 0 ? 1 : i % 2 === 1 ? r[i - 1]! : r[i - 1]! + 2;
    if (!isCount(r[i]) || r[i]! < min) fail(what, `ranges of ${origin} are not sorted disjoint seqs`);
  }
  return r;
}

/** A version vector as stored; throws StoreDecodeError. */
export function decodeVector(what: string, x: unknown): VersionVector {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) fail(what, 'version vector is not an object');
  for (const [origin, seq] of Object.entries(x)) if (!isCount(seq)) fail(what, `vector entry ${origin} is not a count`);
  return x as VersionVector;
}

/** The clock as stored: "[wallMs, logical]". */
export function encodeClock(h: Hlc): string {
  return JSON.stringify([h.wallMs, h.logical]);
}

/** Inverse of encodeClock; throws StoreDecodeError. */
export function decodeClock(text: string): Hlc {
  const a = parseJson('node clock', text) as unknown[];
  if (!Array.isArray(a) || a.length !== 2 || !isCount(a[0]) || !isCount(a[1])) fail('node clock', 'is not [wallMs, logical]');
  return { wallMs: a[0], logical: a[1] };
}

/** A fence as its two columns: version (decimal text: a 64-bit value does not fit a double) and frontier (JSON). */
export function encodeFence(f: TombstoneFence): { version: string; frontier: VersionVector } {
  return { version: f.version.toString(), frontier: f.frontier };
}

/** Inverse of encodeFence; throws StoreDecodeError naming the contact. */
export function decodeFence(id: ContactId, version: string, frontier: string): TombstoneFence {
  const what = `fence of ${id}`;
  if (!/^[0-9]{1,20}$/.test(version)) fail(what, 'version is not a decimal count');
  return { version: BigInt(version), frontier: decodeVector(what, parseJson(what, frontier)) };
}

/** JSON.parse that throws StoreDecodeError naming `what`. */
export function parseJson(what: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    fail(what, 'is not JSON');
  }
}
