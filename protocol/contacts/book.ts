/**
 * A node's contact list: the CRDT functions wired to a ContactStore, in the
 * four moves a node makes: take a client write, take a state from a peer,
 * answer a peer about one contact, and collect tombstones.
 *
 * How this works: every state a node keeps is compacted under its own
 * stable vector W (every member applied every dot ≤ W, so its states reflect
 * them). A contact it does not hold is, to joins, `absentState(id, W)`, so a
 * stale copy offered by a replica that was away is refused entry by entry
 * and the sender is told it is stale; the replication layer then answers
 * with `stateForPeer`, which makes the sender drop what we refused. The
 * node's applied dot cloud grows by the explicit dots of everything joined:
 * those dots' effects are now in its states. Dots known only through a
 * floor are not added: the node has not seen their other contacts.
 */
import { cloudFromDots, cloudMax, cloudUnion, vvCovers, vvGet, type VersionVector } from './dots.ts';
import { absentState, tombstoneStep, type Stability } from './gc.ts';
import type { ContactId } from './ids.ts';
import type { WriteRequest } from './patch.ts';
import { compact, entryWithDot, join, sameState, type ContactState } from './state.ts';
import type { ContactStore } from './store.ts';
import { applyWrite, type WriteOutcome } from './write.ts';
import type { NodeId } from '../types.ts';

/** What joining a peer's state did here. */
export interface Received {
  /** Our state changed (persisted; tell subscribers if the view changed). */
  readonly changed: boolean;
  /** Our state after the join; undefined when we hold nothing for it. */
  readonly state: ContactState | undefined;
  /** The sender holds entries we know were removed: send it our state (stateForPeer). */
  readonly senderStale: boolean;
}

/** The first seq this node's next write may use: above every own dot known anywhere (even learnt back from peers). */
export function nextSeqOf(store: ContactStore, node: NodeId): number {
  return vvGet(cloudMax(store.applied()), node) + 1;
}

/** Takes a client write at this node and persists its effects; ship `delta` of an applied outcome to peers. */
export function commitWrite(store: ContactStore, node: NodeId, req: WriteRequest, nowMs: number, stable?: VersionVector): WriteOutcome {
  const outcome = prepareWrite(store, node, req, nowMs, stable);
  if (outcome.kind === 'applied') storeWrite(store, outcome);
  return outcome;
}

/** What `commitWrite` would do, without storing anything: the caller may still refuse it, then `storeWrite` it. */
export function prepareWrite(store: ContactStore, node: NodeId, req: WriteRequest, nowMs: number, stable?: VersionVector): WriteOutcome {
  const id = req.patch.kind === 'create' ? req.patch.contact.id : req.patch.id;
  const current = store.get(id);
  const forgottenFloor = store.forgottenFloor(id);
  const env = { node, nextSeq: nextSeqOf(store, node), clock: store.clock(), nowMs, ...(stable ? { stable } : {}), ...(forgottenFloor ? { forgottenFloor } : {}) };
  return applyWrite(current, req, env);
}

/** Stores an applied outcome of `prepareWrite`, made against this store with nothing stored in between. */
export function storeWrite(store: ContactStore, outcome: Extract<WriteOutcome, { kind: 'applied' }>): void {
  store.put(outcome.state);
  store.addApplied(outcome.delta.ctx);
  store.setClock(outcome.clock);
}

/** Joins a state from a peer (a delta, a full state, or an absent state) into ours. */
export function receiveState(store: ContactStore, incoming: ContactState, stable: VersionVector): Received {
  const held = store.get(incoming.id);
  const local = held ?? absentState(incoming.id, stable);
  const joined = compact(join(local, incoming), stable);
  store.addApplied(cloudUnion(incoming.ctx, cloudFromDots(incoming.entries.map((e) => e.dot))));
  const senderStale = incoming.entries.some((e) => entryWithDot(joined, e.dot) === undefined);
  // A floor that took entries of ours away ended what we held (a create after the tombstone was collected
  // elsewhere, or our copy was stale): our next writes to the contact carry that floor too (write.ts).
  if (held && held.entries.some((e) => vvCovers(incoming.floor, e.dot) && entryWithDot(joined, e.dot) === undefined)) {
    store.rememberOldLife(incoming.id, incoming.floor);
  }
  const empty = joined.entries.length === 0 && Object.keys(joined.ctx).length === 0;
  if (!held && empty) return { changed: false, state: undefined, senderStale };
  if (held && empty) {
    // Joined down to nothing (a stale copy met a collected tombstone): hold
    // nothing, exactly as the nodes that collected it hold nothing.
    store.forget(incoming.id, joined.floor);
    return { changed: true, state: undefined, senderStale };
  }
  if (held && sameState(held, joined)) return { changed: false, state: held, senderStale };
  store.put(joined);
  return { changed: true, state: joined, senderStale };
}

/** What we send a peer about `id`: our state compacted under W, or the absent state if we hold none. */
export function stateForPeer(store: ContactStore, id: ContactId, stable: VersionVector): ContactState {
  const held = store.get(id);
  return held ? compact(held, stable) : absentState(id, stable);
}

/** One collection pass over the tombstones; returns the ids forgotten. */
export function collectTombstones(store: ContactStore, at: Stability): ContactId[] {
  const forgotten: ContactId[] = [];
  for (const id of store.tombstones()) {
    const decision = tombstoneStep(store.get(id)!, store.fence(id), at);
    if (decision.kind === 'forget') {
      store.forget(id);
      forgotten.push(id);
    } else {
      store.setFence(id, decision.fence);
    }
  }
  return forgotten;
}
