/**
 * Contact states to and from their wire message (RepState). Field values
 * travel as JSON text (the codec allows no CBOR maps, and JSON keeps the
 * value's shape exact); a value that does not parse makes the whole state
 * invalid, dropped and counted by the caller.
 */
import type { RepState } from '../wire/messages.ts';
import { compareEntries, type ContactId, type ContactState, type Entry, type StableVector } from '../crdt/contact-state.ts';
import { DotCloud } from '../crdt/dots.ts';
import type { NodeId } from '../types.ts';

/** The wire message for `s`, compacted under `stable`. */
export function toRepState(s: ContactState, stable: StableVector, reply: boolean, batch: number): RepState {
  return {
    type: 'repState',
    reply,
    batch,
    id: s.id,
    entries: s.entries.map((e) => ({ key: e.key, uid: e.uid, value: JSON.stringify(e.value), origin: e.origin, seq: e.seq, t: e.hlc.t, c: e.hlc.c })),
    ctx: s.ctx.origins().map((origin) => ({ origin, top: s.ctx.contiguous(origin), extra: s.ctx.exceptions(origin) })),
    stable: [...stable].map(([origin, seq]) => ({ origin, seq })),
  };
}

/** The state a message carries, or undefined when a value is not JSON. */
export function fromRepState(m: Omit<RepState, 'type' | 'reply' | 'batch'>): { state: ContactState; stable: StableVector } | undefined {
  const entries: Entry[] = [];
  for (const w of m.entries) {
    let value: unknown;
    try {
      value = JSON.parse(w.value);
    } catch {
      return undefined;
    }
    entries.push({ key: w.key, uid: w.uid, value, origin: w.origin, seq: w.seq, hlc: { t: w.t, c: w.c } });
  }
  entries.sort(compareEntries);
  const ctx = new DotCloud();
  for (const d of m.ctx) {
    ctx.addRange(d.origin, d.top);
    for (const s of d.extra) ctx.add(d.origin, s);
  }
  // Every entry's dot belongs to the context, whatever the sender claims.
  for (const e of entries) ctx.add(e.origin, e.seq);
  const stable = new Map<NodeId, number>(m.stable.map((s) => [s.origin, s.seq]));
  return { state: { id: m.id as ContactId, entries, ctx }, stable };
}
