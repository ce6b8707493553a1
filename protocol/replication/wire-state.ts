/**
 * Contact states (protocol/contacts) to and from their wire message
 * (RepState). Field values travel as JSON text (the codec allows no CBOR
 * maps, and JSON keeps a value's shape exact); the per-contact floor travels
 * as `stable`. A value that does not parse, an entry this version could not
 * have written (an unknown field, a value of the wrong shape: see
 * isValidEntry), or a malformed range list, makes the whole state invalid:
 * dropped and counted by the caller.
 */
import type { RepState, WireEntry, WireSeq } from '../wire/messages.ts';
import type { ContactState, Entry } from '../contacts/state.ts';
import { compareDots, entryWithDot, hasSeen } from '../contacts/state.ts';
import type { ContactId } from '../contacts/ids.ts';
import type { DotCloud, VersionVector } from '../contacts/dots.ts';
import type { FieldKey } from '../contacts/model.ts';
import type { NodeId } from '../types.ts';
import { isValidEntry } from '../contacts/validate.ts';
import { entryJson } from '../contacts/entry-json.ts';

/**
 * The wire message for `s`. Values travel as JSON with every non-ASCII
 * character escaped (\uXXXX): the decoder's gate bounds non-ASCII text per
 * datagram (cbor-x decodes it ~10x slower), and a contact's values must
 * never be what makes its own state unsendable.
 */
export function toRepState(s: ContactState, opts: { reply: boolean; full: boolean; batch: number }): RepState {
  return {
    type: 'repState',
    ...opts,
    id: s.id,
    entries: s.entries.map((e): WireEntry => [e.key, e.uid, entryJson(e), e.dot.origin, e.dot.seq, e.hlc.wallMs, e.hlc.logical]),
    ctx: Object.keys(s.ctx).sort().map((origin) => ({ origin: origin as never, ranges: [...s.ctx[origin]!] })),
    stable: wireVector(s.floor),
  };
}

/** `vv` as the wire lists a vector: one entry per origin, by origin. */
export function wireVector(vv: VersionVector): WireSeq[] {
  return Object.keys(vv).sort().map((origin) => ({ origin: origin as NodeId, seq: vv[origin]! }));
}

/**
 * An upper bound on the bytes of `encodeMessage(toRepState(s, …))`, found
 * without encoding the message: every CBOR head counted at its widest (9 bytes), text
 * at 3 UTF-8 bytes per UTF-16 unit, values at the length of their JSON
 * (ASCII: a byte a character; entry-json.ts keeps it for the delta that
 * follows). A write checks its contact against the packet limit with this,
 * and encodes exactly only when the bound says it might not fit.
 */
export function repStateBytesBound(s: ContactState): number {
  let n = 1 + 1 + 1 + 1 + HEAD + text(s.id) + HEAD;
  for (const e of s.entries) n += 1 + text(e.key) + text(e.uid) + HEAD + entryJson(e).length + text(e.dot.origin) + 3 * HEAD;
  n += HEAD;
  for (const origin in s.ctx) n += 1 + text(origin) + HEAD + HEAD * s.ctx[origin]!.length;
  n += HEAD;
  for (const origin in s.floor) n += 1 + text(origin) + HEAD;
  return n;
}

/** The widest CBOR head: a 1-byte initial byte and an 8-byte argument. */
const HEAD = 9;

/** The most bytes a text string takes: its widest head and 3 UTF-8 bytes per UTF-16 unit. */
function text(t: string): number {
  return HEAD + 3 * t.length;
}

/**
 * The state a message carries, or undefined when it is malformed. An entry
 * whose dot `held` (our state of the contact) already holds is taken from
 * it without parsing: a dot names one immutable entry, and a join keeps
 * ours anyway. Full states are mostly entries the receiver has. Entries we
 * saw removed are dropped by the join unread; only the rest are checked.
 */
export function fromRepState(m: Pick<RepState, 'id' | 'entries' | 'ctx' | 'stable'>, held?: ContactState): ContactState | undefined {
  const entries: Entry[] = [];
  for (const [key, uid, json, origin, seq, t, c] of m.entries) {
    const dot = { origin, seq };
    const known = held && entryWithDot(held, dot);
    if (known) {
      entries.push(known);
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(json);
    } catch {
      return undefined;
    }
    if (!(held && hasSeen(held, dot)) && !isValidEntry(key, uid, value)) return undefined;
    entries.push({ key: key as FieldKey, uid, value, dot, hlc: { wallMs: t, logical: c } });
  }
  entries.sort((a, b) => compareDots(a.dot, b.dot));
  for (let i = 1; i < entries.length; i++) if (compareDots(entries[i - 1]!.dot, entries[i]!.dot) === 0) return undefined;
  const ctx: Record<string, readonly number[]> = {};
  for (const d of m.ctx) {
    if (!canonicalRanges(d.ranges)) return undefined;
    if (d.ranges.length > 0) ctx[d.origin] = d.ranges;
  }
  const floor: Record<string, number> = {};
  for (const s of m.stable) if (s.seq > 0) floor[s.origin] = s.seq;
  return { id: m.id as ContactId, entries, ctx: ctx as DotCloud, floor: floor as VersionVector };
}

/** Sorted, disjoint, non-adjacent inclusive [from, to] pairs, from ≥ 1: the only form dots.ts accepts. */
export function canonicalRanges(r: readonly number[]): boolean {
  if (r.length % 2 !== 0) return false;
  for (let i = 0; i < r.length; i += 2) {
    if (r[i]! < 1 || r[i]! > r[i + 1]!) return false;
    if (i > 0 && r[i]! <= r[i - 1]! + 1) return false;
  }
  return true;
}
