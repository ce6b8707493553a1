/**
 * One contact as a CRDT: a dot kernel per contact (Almeida, Shoker,
 * Baquero, "Delta State Replicated Data Types", 2018), with a per-contact
 * causal context, as Riak keeps one per key.
 *
 * How this works:
 * - A state is a set of *entries* (field key, uid, value, dot, hlc), at most
 *   one per dot, and a *context*: the dots whose effect on this contact the
 *   state reflects. An entry whose dot is in the context but which is not
 *   held was removed. The context is `ctx ∪ ↓floor`: explicit dots of this
 *   contact above `floor`, plus every dot at or below the version vector
 *   `floor`, which is (at least) the stable vector W of the node that last
 *   compacted it: every member had applied those dots, so this state
 *   reflects them all.
 * - Single fields and extra properties are multi-value registers (entries
 *   under one key, uid ''); list fields are add-wins sets (entries under one
 *   key, one uid per list entry, several if edited concurrently). Existence:
 *   '$live' tokens (every create or edit adds one, replacing the ones it
 *   saw), '$del' markers (a delete replaces the live tokens it saw with
 *   one). '$op' entries remember recent op ids.
 * - Join: keep an entry both sides hold, or one side holds and the other has
 *   not seen; context := union (floors by pointwise max, which is exactly
 *   the union of their down-sets). This is the join of a semilattice, so it
 *   is commutative, associative and idempotent, and a write's delta, a full
 *   state and a retransmission are all merged by it.
 * - Compaction by a stable vector W raises the floor and drops explicit
 *   dots under it. It is valid at a node that has applied every dot ≤ W
 *   (then its state reflects them all); it never removes an entry. An entry
 *   ≤ W arriving later that we do not hold was removed here, and is refused:
 *   that is what stops a replica that was away from resurrecting anything.
 *
 * Each entry has its own dot (a write with n entries takes n consecutive
 * seqs): if entries shared a write's dot, a delta that overwrote one of them
 * would mark the dot seen and a receiver would then refuse the others.
 */
import {
  cloudAbove, cloudEquals, cloudFromDots, cloudHas, cloudUnion, EMPTY_CLOUD, EMPTY_VV, vvCovers, vvEquals, vvMax, type Dot, type DotCloud, type VersionVector,
} from './dots.ts';
import type { Hlc } from './hlc.ts';
import type { ContactId } from './ids.ts';
import { DEL_KEY, LIVE_KEY, type FieldKey } from './model.ts';
import { ProtocolUsageError } from '../types.ts';

/** One dotted value. Entries with equal dots are identical (a dot is issued once). */
export interface Entry {
  readonly key: FieldKey;
  /** '' for a register; the list entry uid for a list field; the op id for '$op'. */
  readonly uid: string;
  /** JSON-safe value (see model.ts); `true` for '$live' and '$del'. */
  readonly value: unknown;
  readonly dot: Dot;
  readonly hlc: Hlc;
}

/** One contact's replicated state. This is also what replication ships (with `floor` as its stable vector). */
export interface ContactState {
  readonly id: ContactId;
  /** Sorted by dot (origin, then seq), one per dot. */
  readonly entries: readonly Entry[];
  /** Dots of this contact seen above `floor`; never holds a dot ≤ floor. */
  readonly ctx: DotCloud;
  /** Every dot at or below it counts as seen. */
  readonly floor: VersionVector;
}

/** A contact nobody wrote (or, with a floor, one that was forgotten: see gc.ts). */
export function emptyState(id: ContactId, floor: VersionVector = EMPTY_VV): ContactState {
  return { id, entries: [], ctx: EMPTY_CLOUD, floor };
}

/** Canonical order of entries: by dot. */
export function compareDots(a: Dot, b: Dot): number {
  return a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : a.seq - b.seq;
}

/** The entry with `dot`, if the state holds one (entries are sorted by dot: a binary search). */
export function entryWithDot(s: ContactState, dot: Dot): Entry | undefined {
  let lo = 0;
  let hi = s.entries.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const e = s.entries[mid]!;
    const c = compareDots(e.dot, dot);
    if (c === 0) return e;
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

/** True when the state's context includes `dot` (explicitly or under its floor). */
export function hasSeen(s: ContactState, dot: Dot): boolean {
  return vvCovers(s.floor, dot) || cloudHas(s.ctx, dot);
}

/** The semilattice join of two states of one contact (throws on different ids: our misuse). */
export function join(a: ContactState, b: ContactState): ContactState {
  if (a.id !== b.id) throw new ProtocolUsageError(`join of different contacts ${a.id} and ${b.id}`);
  const entries: Entry[] = [];
  let i = 0;
  let j = 0;
  while (i < a.entries.length || j < b.entries.length) {
    const x = a.entries[i];
    const y = b.entries[j];
    const order = x === undefined ? 1 : y === undefined ? -1 : compareDots(x.dot, y.dot);
    if (order === 0) entries.push(x!);
    else if (order < 0 && !hasSeen(b, x!.dot)) entries.push(x!);
    else if (order > 0 && !hasSeen(a, y!.dot)) entries.push(y!);
    if (order <= 0) i++;
    if (order >= 0) j++;
  }
  const floor = vvMax(a.floor, b.floor);
  return { id: a.id, entries, ctx: cloudAbove(cloudUnion(a.ctx, b.ctx), floor), floor };
}

/** Raises the floor to `stable` (the caller's node has applied every dot ≤ it) and drops explicit dots under it. */
export function compact(s: ContactState, stable: VersionVector): ContactState {
  const floor = vvMax(s.floor, stable);
  return { ...s, ctx: cloudAbove(s.ctx, floor), floor };
}

/** A delta: `added` entries (fresh dots) and the dots of the entries it removes. */
export function makeDelta(id: ContactId, added: readonly Entry[], removed: readonly Dot[]): ContactState {
  // A write numbers its entries in order: sorted already, unless a caller made them otherwise.
  const entries = added.every((e, k) => k === 0 || compareDots(added[k - 1]!.dot, e.dot) < 0) ? added : [...added].sort((x, y) => compareDots(x.dot, y.dot));
  // The added dots come sorted (one pass); the removed ones are few, or none.
  const ctx = cloudFromDots(entries.map((e) => e.dot));
  return { id, entries, ctx: removed.length === 0 ? ctx : cloudUnion(ctx, cloudFromDots(removed)), floor: EMPTY_VV };
}

/** Entries under `key` (and `uid`, when given). */
export function entriesOf(s: ContactState, key: FieldKey, uid?: string): Entry[] {
  return s.entries.filter((e) => e.key === key && (uid === undefined || e.uid === uid));
}

/** True when some live token remains: the contact is visible. */
export function isLive(s: ContactState): boolean {
  return s.entries.some((e) => e.key === LIVE_KEY);
}

/** True when the contact was written and then deleted (a tombstone: no live token, something held or seen). */
export function isTombstone(s: ContactState): boolean {
  return !isLive(s) && (s.entries.length > 0 || Object.keys(s.ctx).length > 0);
}

/** True when a delete marker sits beside a live token: an edit concurrent with a delete brought it back. */
export function isRevived(s: ContactState): boolean {
  return isLive(s) && s.entries.some((e) => e.key === DEL_KEY);
}

/** True when two states hold the same entries (compared by dot; entries with equal dots are identical). */
export function sameEntries(a: ContactState, b: ContactState): boolean {
  return a.entries.length === b.entries.length && a.entries.every((e, k) => compareDots(e.dot, b.entries[k]!.dot) === 0);
}

/** True when two states are equal as CRDT states: same entries, same context, same floor. */
export function sameState(a: ContactState, b: ContactState): boolean {
  return a.id === b.id && sameEntries(a, b) && cloudEquals(a.ctx, b.ctx) && vvEquals(a.floor, b.floor);
}
