/**
 * Contact states (protocol/contacts) to and from their wire message
 * (RepState). Field values travel as JSON text (the codec allows no CBOR
 * maps, and JSON keeps a value's shape exact); the per-contact floor travels
 * as `stable`. A value that does not parse, an entry this version could not
 * have written (an unknown field, a value of the wrong shape: see
 * isValidEntry), or a malformed range list, makes the whole state invalid:
 * dropped and counted by the caller.
 */
import type { RepState } from '../wire/messages.ts';
import type { ContactState, Entry } from '../contacts/state.ts';
import { compareDots } from '../contacts/state.ts';
import type { ContactId } from '../contacts/ids.ts';
import type { Dot, DotCloud, VersionVector } from '../contacts/dots.ts';
import type { FieldKey } from '../contacts/model.ts';
import { isValidEntry } from '../contacts/validate.ts';

/** The wire message for `s`. */
export function toRepState(s: ContactState, opts: { reply: boolean; full: boolean; batch: number }): RepState {
  return {
    type: 'repState',
    ...opts,
    id: s.id,
    entries: s.entries.map((e) => ({
      key: e.key, uid: e.uid, value: asciiJson(e.value), origin: e.dot.origin, seq: e.dot.seq, t: e.hlc.wallMs, c: e.hlc.logical,
    })),
    ctx: Object.keys(s.ctx).sort().map((origin) => ({ origin: origin as never, ranges: [...s.ctx[origin]!] })),
    stable: Object.keys(s.floor).sort().map((origin) => ({ origin: origin as never, seq: s.floor[origin]! })),
  };
}

/**
 * JSON with every non-ASCII character escaped (\uXXXX): the decoder's gate
 * bounds non-ASCII text per datagram (cbor-x decodes it ~10x slower), and a
 * contact's values must never be what makes its own state unsendable.
 */
function asciiJson(v: unknown): string {
  return JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * The state a message carries, or undefined when it is malformed. Entries
 * for which `known(dot)` is true (the receiver holds them or saw them
 * removed, so its join will not take them) skip the value check.
 */
export function fromRepState(m: Pick<RepState, 'id' | 'entries' | 'ctx' | 'stable'>, known?: (dot: Dot) => boolean): ContactState | undefined {
  const entries: Entry[] = [];
  for (const w of m.entries) {
    let value: unknown;
    try {
      value = JSON.parse(w.value);
    } catch {
      return undefined;
    }
    const dot = { origin: w.origin, seq: w.seq };
    if (!known?.(dot) && !isValidEntry(w.key, w.uid, value)) return undefined;
    entries.push({ key: w.key as FieldKey, uid: w.uid, value, dot: { origin: w.origin, seq: w.seq }, hlc: { wallMs: w.t, logical: w.c } });
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
function canonicalRanges(r: readonly number[]): boolean {
  if (r.length % 2 !== 0) return false;
  for (let i = 0; i < r.length; i += 2) {
    if (r[i]! < 1 || r[i]! > r[i + 1]!) return false;
    if (i > 0 && r[i]! <= r[i - 1]! + 1) return false;
  }
  return true;
}
