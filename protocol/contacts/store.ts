/**
 * Storage as the contact core needs it: one interface, implemented in
 * memory for the simulator (memory-store.ts) and over SQLite by the daemon.
 *
 * How this works: the interface is synchronous on purpose. The core is
 * sans-I/O and its handlers never await; an async store would put promises
 * in every path and let two writes to one contact interleave. So a node
 * works on an in-memory copy of its whole contact list (an address book is
 * thousands of small records, not millions), and durability is a separate
 * step: every mutation is also appended to a journal of `StoreChange`s that
 * the shell drains (`drainChanges`) and commits to SQLite in one
 * transaction per tick (group commit, WAL, synchronous=FULL) *before* it
 * acknowledges the writes of that tick to clients and before it sends
 * their deltas. At start the SQLite store loads every row into a
 * MemoryStore and hands that to the core. This is what we recommend for the
 * daemon: the SQLite implementation is MemoryStore + load + journal commit,
 * not a second implementation of the indexes.
 *
 * What is stored: contact states (with the per-contact context and floor),
 * the node's applied dot cloud (its version vector for catch-up), the
 * node's last HLC, tombstone fences (gc.ts), and the catch-up index
 * (origin, seq) → contact id, which SQLite can keep as a table with a
 * primary key (origin, seq) or rebuild from the states at load.
 */
import type { DotCloud, VersionVector } from './dots.ts';
import type { TombstoneFence } from './gc.ts';
import type { Hlc } from './hlc.ts';
import type { ContactId } from './ids.ts';
import type { ContactState } from './state.ts';
import type { NodeId } from '../types.ts';

/** Contacts an origin's dots touched, oldest first, for catch-up. */
export interface TouchedPage {
  /** Each contact once, in order of the first of the origin's dots (after the cursor) that touched it. */
  readonly ids: ContactId[];
  /** Every indexed dot of the origin in (afterSeq, throughSeq] touched a contact in `ids`: resume after it. */
  readonly throughSeq: number;
  /** True when no indexed dot of the origin lies above throughSeq (up to TouchedRange.through). */
  readonly done: boolean;
}

/**
 * How many forgotten contacts a store remembers (forgottenFloor): the other
 * members forget a tombstone within a few stability rounds of us, so only
 * a contact created again, and written, soon after needs it.
 */
export const FORGOTTEN_KEPT = 4096;

/** Which of an origin's dots a catch-up page looks at (touchedAfter). */
export interface TouchedRange {
  /** None above this seq (default: all). */
  readonly through?: number;
  /** Dots to pass over, as flattened ascending ranges [from, to, …]: those the asker holds. */
  readonly skip?: readonly number[];
}

/** One durable mutation, in the order it happened. */
export type StoreChange =
  | { readonly kind: 'put'; readonly state: ContactState }
  | { readonly kind: 'forget'; readonly id: ContactId }
  /** forgottenFloor(id) became `bound`: kept durable, so a restart still knows where the contact's old life ended. */
  | { readonly kind: 'oldLife'; readonly id: ContactId; readonly bound: VersionVector }
  | { readonly kind: 'applied'; readonly dots: DotCloud }
  | { readonly kind: 'clock'; readonly hlc: Hlc }
  | { readonly kind: 'fence'; readonly id: ContactId; readonly fence: TombstoneFence | undefined }
  | { readonly kind: 'pruneIndex'; readonly below: VersionVector };

/** What a node keeps about contacts. Synchronous: see the header. */
export interface ContactStore {
  /** The contact's state, if held (live or tombstone). */
  get(id: ContactId): ContactState | undefined;
  /** Inserts or replaces a state, indexes its dots for catch-up and tracks whether it is a tombstone. */
  put(state: ContactState): void;
  /**
   * Forgets a collected tombstone (or a copy joined down to nothing): its
   * state, index rows and fence. `seenUpTo`: a floor the state was joined
   * with, which the remembered bound (forgottenFloor) takes in too.
   */
  forget(id: ContactId, seenUpTo?: VersionVector): void;
  /**
   * For a contact forgotten lately (the last FORGOTTEN_KEPT, across
   * restarts: each change of it is journaled as 'oldLife'), even if created
   * again since: a vector every dot of its old life is at or below. Writes
   * to it carry it in their deltas (write.ts).
   */
  forgottenFloor(id: ContactId): VersionVector | undefined;
  /**
   * Takes `bound` into forgottenFloor(id) (a state whose floor ended an old
   * life here, receiveState; or a forget): `id` becomes the most recently
   * remembered, and the joined bound is journaled ('oldLife').
   */
  rememberOldLife(id: ContactId, bound: VersionVector): void;
  /** How many contacts are held (tombstones included). */
  count(): number;
  /** Up to `limit` states with id greater than `after`, in id order: full-state sync and listing. */
  page(after: ContactId | undefined, limit: number): ContactState[];
  /** Contacts touched by `origin`'s dots above `afterSeq` (within `range`), up to `limit` of them. */
  touchedAfter(origin: NodeId, afterSeq: number, limit: number, range?: TouchedRange): TouchedPage;
  /** Drops index rows at or below `below` (stable dots: only a replica behind W asks for them, and it needs a full sync). */
  pruneIndex(below: VersionVector): void;
  /** Below this, index rows were pruned: a catch-up request under it must become a full sync. */
  indexFloor(): VersionVector;
  /** Ids of held tombstones. */
  tombstones(): ContactId[];
  fence(id: ContactId): TombstoneFence | undefined;
  setFence(id: ContactId, fence: TombstoneFence | undefined): void;
  /** Every dot this node has applied: its contiguous part is the node's version vector. */
  applied(): DotCloud;
  /** Records dots as applied (their effect is in the stored states). */
  addApplied(dots: DotCloud): void;
  /** The last HLC this node issued: persisted, so the clock never goes back across a restart. */
  clock(): Hlc;
  setClock(hlc: Hlc): void;
  /** Mutations since the last call, oldest first (empty unless the store keeps a journal). */
  drainChanges(): StoreChange[];
}
