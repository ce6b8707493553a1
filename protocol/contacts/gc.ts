/**
 * Forgetting tombstones safely.
 *
 * How this works: the replication layer knows every member's version vector
 * (as last reported) and gives us two vectors: `stable` W, their pointwise
 * min (every member has applied every dot ≤ W), and `frontier` K, their
 * pointwise max. A deleted contact whose every dot is ≤ W is the same
 * tombstone at every member, but that is not yet enough to forget it: an
 * edit concurrent with the delete may have been made at some member O
 * before O applied the delete, and still be on its way. Such an edit has a
 * seq below what O reported once it had applied the delete, so below K
 * taken at the moment W first covered the tombstone. We record that K as the
 * tombstone's *fence*, and forget the tombstone once W has reached the
 * fence: by then every concurrent edit has reached every member, and if one
 * existed the contact would be live here, not a tombstone. (Forgetting on W
 * alone would let such a late edit revive the contact with only the fields
 * it wrote: the others are ≤ W, so every node would refuse them.)
 *
 * A fence holds for the tombstone it was taken for: it carries the state's
 * version and is ignored once the state changed. It is local bookkeeping,
 * kept beside the state by the store, never replicated.
 *
 * A forgotten contact is, to joins, `emptyState(id, W)`: nothing held, every
 * dot ≤ W seen. That is also what a node answers for it, so a replica that
 * was away comes back, offers its old copy, gets this in return, and drops
 * every old entry (they are ≤ W): it cannot resurrect the contact. Members
 * declared dead and removed do not count in W or K; a write such a node
 * made while it was out, to a contact forgotten meanwhile, comes back with
 * only the fields it wrote (documented limit).
 */
import { cloudCoveredBy, vvCovers, vvLeq, type VersionVector } from './dots.ts';
import { emptyState, isTombstone, type ContactState } from './state.ts';
import type { ContactId } from './ids.ts';
import { version } from './view.ts';

/** What the replication layer knows about every member's version vector. */
export interface Stability {
  /** W: pointwise min over members (every member applied every dot ≤ W). */
  readonly stable: VersionVector;
  /** K: pointwise max over members, from the same or later reports. */
  readonly frontier: VersionVector;
}

/** A tombstone's fence: forget it once W ≥ frontier, if it is still this version. */
export interface TombstoneFence {
  readonly version: bigint;
  readonly frontier: VersionVector;
}

/** What to do with a state at a collection pass. */
export type TombstoneDecision =
  | { readonly kind: 'keep'; readonly fence: TombstoneFence | undefined }
  | { readonly kind: 'forget' };

/**
 * True when every dot the state holds or has seen is ≤ `stable`, its floor
 * included: forgetting it then loses nothing `absentState(id, stable)` does
 * not also say.
 */
export function allStable(s: ContactState, stable: VersionVector): boolean {
  return vvLeq(s.floor, stable) && cloudCoveredBy(s.ctx, stable) && s.entries.every((e) => vvCovers(stable, e.dot));
}

/** One collection step for one contact: keep (with its fence, possibly new) or forget. */
export function tombstoneStep(s: ContactState, fence: TombstoneFence | undefined, at: Stability): TombstoneDecision {
  if (!isTombstone(s) || !allStable(s, at.stable)) return { kind: 'keep', fence: undefined };
  const v = version(s);
  if (!fence || fence.version !== v) return { kind: 'keep', fence: { version: v, frontier: at.frontier } };
  return vvLeq(fence.frontier, at.stable) ? { kind: 'forget' } : { kind: 'keep', fence };
}

/** What a node holds, to joins, for a contact it never had or has forgotten. */
export function absentState(id: ContactId, stable: VersionVector): ContactState {
  return emptyState(id, stable);
}
