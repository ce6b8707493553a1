/**
 * What a reader sees of a contact state, and the state's digest version.
 *
 * How this works: entries are grouped by register (a single field, an
 * extra property, or one list entry uid). Equal values in a group are one
 * value (a write retried at two servers, or two users typing the same
 * thing, is no conflict). When a group holds distinct values the one with
 * the greatest (hlc, origin, seq) is shown, and the group is listed in
 * `conflicts` with every distinct value, its origin and its HLC time, until
 * a write that read them all replaces them. The view is a pure function of
 * the entries, so every replica holding the same entries shows the same
 * contact, whatever order it learnt them in.
 *
 * `version` hashes (id, the set of entry dots): a dot names one immutable
 * value, so equal entry sets mean equal contacts, and contexts (whose
 * compaction timing differs by node) do not enter. It is the 64-bit item
 * the digest repair reconciles.
 */
import { cloudFromDots } from './dots.ts';
import { compareStamped, HLC_ZERO, hlcMax } from './hlc.ts';
import type { EntryUid } from './ids.ts';
import { DEL_KEY, LIST_FIELDS, LIVE_KEY, OP_KEY, SINGLE_FIELDS, type Contact, type FieldConflict, type ListField, type SingleField } from './model.ts';
import { isLive, type ContactState, type Entry } from './state.ts';
import { mix32 } from '../reconcile/hash.ts';

/** A stable text form of a JSON-safe value: object keys sorted, so equal values compare equal. */
export function valueKey(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(valueKey).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${valueKey(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'undefined';
}

/** A register's entries reduced to its distinct values, winner first. */
function distinct(group: Entry[]): Entry[] {
  // One value (nearly every register): nothing to compare.
  if (group.length === 1) return group;
  const sorted = [...group].sort((a, b) => -compareStamped(a, b));
  const seen = new Set<string>();
  return sorted.filter((e) => {
    const k = valueKey(e.value);
    return seen.has(k) ? false : (seen.add(k), true);
  });
}

function groupEntries(s: ContactState): Map<string, Entry[]> {
  const groups = new Map<string, Entry[]>();
  for (const e of s.entries) {
    if (e.key === LIVE_KEY || e.key === DEL_KEY || e.key === OP_KEY) continue;
    const k = `${e.key}\u0000${e.uid}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(e);
  }
  return groups;
}

function conflictOf(values: readonly Entry[]): FieldConflict {
  const w = values[0]!;
  const c: FieldConflict = { field: w.key, values: values.map((e) => ({ value: e.value, origin: e.dot.origin, hlc: e.hlc })) };
  if (w.uid !== '') c.uid = w.uid as EntryUid;
  return c;
}

/**
 * The state viewed last and its view. A write's answer to its client and
 * its full-text row (daemon/store) read the view of the same new state one
 * after the other; states are never changed in place, so the second read
 * is the first one's view.
 */
let lastState: ContactState | undefined;
let lastView: Contact | undefined;

/** The reader's view of a live contact; undefined when it is deleted (or was never written). Shared: read it, do not change it. */
export function view(s: ContactState): Contact | undefined {
  if (s !== lastState) {
    lastView = buildView(s);
    lastState = s;
  }
  return lastView;
}

function buildView(s: ContactState): Contact | undefined {
  if (!isLive(s)) return undefined;
  const contact: Record<string, unknown> = { id: s.id, formattedName: '' };
  for (const f of LIST_FIELDS) contact[f] = [];
  const extra: Record<string, string[]> = {};
  const conflicts: FieldConflict[] = [];
  let updated = HLC_ZERO;
  for (const group of groupEntries(s).values()) {
    const values = distinct(group);
    const w = values[0]!;
    updated = hlcMax(updated, w.hlc);
    if (values.length > 1) conflicts.push(conflictOf(values));
    if (w.key.startsWith('x:')) extra[w.key.slice(2)] = w.value as string[];
    else if (SINGLE_FIELDS.includes(w.key as SingleField)) contact[w.key] = w.value;
    else (contact[w.key] as unknown[]).push({ uid: w.uid, ...(w.value as object) });
  }
  // List entries in uid order (clients make uids ULIDs, so that is creation order).
  for (const f of LIST_FIELDS) {
    // Entries come in dot order, which for one writer is uid order already: sort only when not.
    const list = contact[f] as { uid: string }[];
    if (list.some((e, k) => k > 0 && list[k - 1]!.uid > e.uid)) list.sort((a, b) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0));
  }
  if (conflicts.length > 1) conflicts.sort((a, b) => (a.field + (a.uid ?? '') < b.field + (b.uid ?? '') ? -1 : 1));
  contact.extra = Object.fromEntries(Object.keys(extra).sort().map((k) => [k, extra[k]!]));
  contact.revived = s.entries.some((e) => e.key === DEL_KEY);
  contact.conflicts = conflicts;
  contact.seen = cloudFromDots(s.entries.map((e) => e.dot));
  contact.updated = updated;
  return contact as unknown as Contact;
}

/** Conflicts of one field (all of them, for a list field: one per conflicting entry). */
export function conflictsOf(c: Contact, field: SingleField | ListField | `x:${string}`): FieldConflict[] {
  return c.conflicts.filter((x) => x.field === field);
}

function mixWord(h: number, k: number): number {
  // One MurmurHash3 round: absorbs 32 bits of input.
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** The 32-bit number that 8 hex digits of a node id at `from` spell (as parseInt would, without the slice). */
function hexWord(id: string, from: number): number {
  let w = 0;
  for (let i = from; i < from + 8; i++) {
    const c = id.charCodeAt(i);
    w = (w << 4) | (c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57);
  }
  return w >>> 0;
}

/** The digest version of a state: 64 bits over (id, entry dots), as an unsigned bigint. */
export function version(s: ContactState): bigint {
  // Two independent 32-bit lanes (different seeds) make the 64 bits; each word goes into both.
  let hi = 0x3c6ef372;
  let lo = 0xa54ff53a;
  for (let i = 0; i < s.id.length; i++) {
    const w = s.id.charCodeAt(i);
    hi = mixWord(hi, w);
    lo = mixWord(lo, w ^ 0x5bd1e995);
  }
  hi = mixWord(hi, 0xffffffff);
  lo = mixWord(lo, 0xffffffff ^ 0x5bd1e995);
  // Entries come sorted by dot: an origin's words are read once per run of its entries.
  let origin = '';
  let o1 = 0;
  let o2 = 0;
  for (const e of s.entries) {
    // The words of the dot: its origin's two halves, then its seq's low and high 32 bits.
    if (e.dot.origin !== origin) {
      origin = e.dot.origin;
      o1 = hexWord(origin, 0);
      o2 = hexWord(origin, 8);
    }
    const s1 = e.dot.seq >>> 0;
    const s2 = Math.floor(e.dot.seq / 0x100000000);
    hi = mixWord(mixWord(mixWord(mixWord(hi, o1), o2), s1), s2);
    lo = mixWord(mixWord(mixWord(mixWord(lo, o1 ^ 0x5bd1e995), o2 ^ 0x5bd1e995), s1 ^ 0x5bd1e995), s2 ^ 0x5bd1e995);
  }
  return (BigInt(mix32(hi ^ s.entries.length)) << 32n) | BigInt(mix32(lo ^ (s.entries.length * 0x9e3779b1)));
}
