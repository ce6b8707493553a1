/**
 * The two halves of a catch-up request's bookkeeping, pure: what a node
 * asks with (its vector and what it holds above it), and, at the answering
 * node, how long it has held what it holds (replication.ts onAsk).
 *
 * How this works:
 * - A request carries the asker's vector (the contiguous part of its
 *   applied cloud) and, per origin, the lowest ranges it holds above it:
 *   after a lost push, the writes that came after the gap, which the answer
 *   then passes over. The ranges share one budget (HELD_NUMBERS_MAX
 *   numbers, at most HELD_NUMBERS_PER_ORIGIN an origin), dealt one range
 *   per origin per round, lowest first, so the request stays one small
 *   datagram whatever the cloud looks like (up to LIMITS.maxOrigins
 *   origins, each with any number of gaps); what is left out is only sent
 *   again, never lost. A node without gaps asks in the first wire
 *   version's form (repVv), which every member understands.
 * - HeldNotes remembers what the node had applied over the last grace
 *   period, one note per slice of it, so an answer can tell writes held
 *   for the grace (settled) from writes a moment old (most likely still
 *   on their way to the asker by push).
 */
import type { DotCloud, VersionVector } from '../contacts/dots.ts';
import { cloudTop, EMPTY_VV } from '../contacts/dots.ts';
import type { NodeId, TimeMs } from '../types.ts';
import type { RepAsk, RepVv, WireDots, WireSeq } from '../wire/messages.ts';

/** Numbers (a range is two) of held ranges one request lists, over all origins. */
export const HELD_NUMBERS_MAX = 256;
/** And per origin. */
export const HELD_NUMBERS_PER_ORIGIN = 64;

/** The catch-up request for a node whose applied cloud is `applied`. */
export function catchUpAsk(applied: DotCloud, count: number, cursor: string): RepAsk | RepVv {
  const origins = Object.keys(applied).sort();
  const vv: WireSeq[] = [];
  const above: { origin: NodeId; ranges: readonly number[]; from: number; taken: number[] }[] = [];
  for (const origin of origins) {
    const ranges = applied[origin]!;
    const from = ranges[0] === 1 ? 2 : 0;
    if (from === 2) vv.push({ origin: origin as NodeId, seq: ranges[1]! });
    if (ranges.length > from) above.push({ origin: origin as NodeId, ranges, from, taken: [] });
  }
  if (above.length === 0) return { type: 'repVv', reply: false, batch: 0, count, more: false, cursor, vv };
  // One range per origin per round, lowest first, until the budget or the ranges run out.
  let budget = HELD_NUMBERS_MAX;
  for (let round = 0, dealt = true; dealt && budget >= 2; round++) {
    dealt = false;
    for (const a of above) {
      const at = a.from + 2 * round;
      if (budget < 2 || at >= a.ranges.length || a.taken.length >= HELD_NUMBERS_PER_ORIGIN) continue;
      a.taken.push(a.ranges[at]!, a.ranges[at + 1]!);
      budget -= 2;
      dealt = true;
    }
  }
  const held: WireDots[] = above.filter((a) => a.taken.length > 0).map((a) => ({ origin: a.origin, ranges: a.taken }));
  return { type: 'repAsk', count, cursor, vv, held };
}

/**
 * What a node had applied, noted over the last `graceMs` and just before
 * it, one note per `sliceMs`: a change within a slice joins the slice's
 * note, so a write may count as held up to a slice longer than it was.
 */
export class HeldNotes {
  /** Oldest first; the first is at least the grace old once there is a later one. */
  private readonly notes: { at: TimeMs; applied: DotCloud }[];

  /** `applied` at `now` counts as settled already (what was persisted before a start). */
  constructor(
    now: TimeMs,
    applied: DotCloud,
    private readonly graceMs: number,
    private readonly sliceMs: number,
  ) {
    this.notes = [{ at: now - graceMs, applied }];
  }

  /** Notes that the node has applied `applied` at `now` (time never goes back). */
  note(now: TimeMs, applied: DotCloud): void {
    const notes = this.notes;
    const last = notes[notes.length - 1]!;
    if (last.applied === applied) return;
    if (now - last.at < this.sliceMs) last.applied = applied;
    else notes.push({ at: now, applied });
    const settledAt = now - this.graceMs;
    while (notes.length > 1 && notes[1]!.at <= settledAt) notes.shift();
  }

  /** The vector the node had a grace ago: the writes it holds that count as settled at `now`. */
  settled(now: TimeMs): VersionVector {
    const settledAt = now - this.graceMs;
    let settled: DotCloud | undefined;
    for (const n of this.notes) {
      if (n.at > settledAt) break;
      settled = n.applied;
    }
    return settled ? cloudTop(settled) : EMPTY_VV;
  }

  /** How many notes are kept (bounded by about graceMs / sliceMs + 2). */
  get size(): number {
    return this.notes.length;
  }
}
