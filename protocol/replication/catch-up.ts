/**
 * Catch-up, sans-I/O: how a node learns the writes it missed from the
 * members, by version vector, and answers theirs (the replication layer
 * owns it: replication.ts).
 *
 * How this works: every sync interval a node sends a member its version
 * vector, riding in the datagram of a probe's ping (membership probes the
 * members in a shuffled round-robin, once a second: what catch-up wants,
 * and riding saves a datagram; see requestFor), or on its own to the next
 * live member of its own round-robin when no probe went out for a while
 * (Lifeguard stretches probing on a struggling node; a leaving node stops
 * it). The request also lists what the node holds above its vector (the
 * writes after a lost push: catch-up-ask.ts). The member answers with the
 * contacts touched by writes the node lacks (nothing at all when it lacks
 * none), oldest first (the store's catch-up index), leaving out the writes
 * it has held for less than a sync interval unless the node listed a later
 * one of their origin: those were pushed a moment ago and are most likely
 * still on their way (see onAsk), in bounded batches, each closed by a
 * claim "with these you hold every write of origin X up to s"; the claim
 * is applied only once every contact of the batch arrived (counted by
 * distinct contact: a duplicate never stands in for a loss). While the
 * answers say there is more, the node asks again at once: a backlog
 * streams one batch per round trip and never floods. A request says how
 * many states it wants per batch: a node whose batches go incomplete
 * (heavy loss) halves that, and doubles it again with every batch that
 * completes, so catch-up still advances at 30% loss instead of bringing
 * the same contacts every second. A node behind the index floor (away
 * while tombstones were collected) gets a full sync instead, paged by
 * contact id. The vectors members ask with are what stability is computed
 * from (heardVector).
 */
import type { Outbox } from '../outbox.ts';
import { encodeMessage, WireEncodeError } from '../wire/codec.ts';
import type { Address, NodeId, Rng, TimeMs } from '../types.ts';
import { shuffle } from '../rng.ts';
import type { Message, RepAsk, RepVv, WireSeq } from '../wire/messages.ts';
import type { MemberView } from '../membership/member-table.ts';
import { cloudAddRange, cloudTop, vvGet, type VersionVector } from '../contacts/dots.ts';
import { stateForPeer } from '../contacts/book.ts';
import type { ContactId } from '../contacts/ids.ts';
import type { ContactStore } from '../contacts/store.ts';
import { catchUpAsk, HeldNotes } from './catch-up-ask.ts';
import { canonicalRanges, toRepState, wireVector } from './wire-state.ts';
import type { PeerView, ReplicationConfig, ReplicationStats } from './replication.ts';

/** An incomplete catch-up batch is dropped after this many sync intervals. */
const BATCH_MAX_AGE_SYNCS = 10;
/**
 * Pacing of catch-up requests, in sync intervals. A probe carries one only
 * RIDE_MIN_GAP after the last (ridden or alone), so faster probing does not
 * make catch-up ask more often; one goes alone ALONE_AFTER after the last,
 * later than the next probe of a healthy node (probing runs at the sync
 * pace), so it fires only while probing is slowed (Lifeguard stretches it on
 * a struggling node; a leaving node stops it), and a probe soon carries the
 * next one again.
 */
const RIDE_MIN_GAP_SYNCS = 0.5;
const ALONE_AFTER_SYNCS = 1.25;
/**
 * A catch-up answer leaves out the writes the answering node has held for
 * less than this (in sync intervals) unless the asker listed a later one
 * of their origin (see onAsk). How finely their age is known: what the
 * node holds is noted once per 1/HELD_SLICES_PER_SYNC of an interval.
 */
const TAIL_GRACE_SYNCS = 1;
const HELD_SLICES_PER_SYNC = 8;

/** A catch-up request, in either wire form (repVv with reply false holds nothing above its vector). */
type Ask = Pick<RepAsk, 'count' | 'cursor' | 'vv' | 'held'>;

/** A catch-up batch being received: the distinct contacts that arrived, and the claim closing it. */
interface PendingBatch {
  received: Set<string>;
  claim?: RepVv;
  fromAddr: Address;
  /** When its first part arrived. */
  firstMs: TimeMs;
  /** Already counted as incomplete (once). */
  judged?: boolean;
}

/** What catch-up needs from the replication layer it belongs to. */
export interface CatchUpHost {
  readonly cfg: ReplicationConfig;
  readonly stats: ReplicationStats;
  readonly store: ContactStore;
  readonly peers: PeerView;
  readonly outbox: Outbox;
  readonly rng: Rng;
  /** Sends one message (counted; an oversize one dropped and counted). */
  send(to: Address, msg: Message): void;
  /** The stable vector W, which states sent are compacted under. */
  stable(): VersionVector;
  /** Turns the store's journal into persist events (after a claim moved what we applied). */
  flushStore(): void;
  /** A member asked with this vector: what stability is computed from. */
  heardVector(from: NodeId, vv: VersionVector): void;
  /** Sets the time of the next request that goes alone (the 'sync' timer). */
  armSync(at: TimeMs): void;
}

/** One node's catch-up: its requests, the batches they bring, and its answers to the members' requests. */
export class CatchUp {
  /** Catch-up targets left in this round, and the live list (by id) they are checked against. */
  private syncRound: NodeId[] = [];
  private syncLive: MemberView[] | undefined;
  private syncLiveById = new Map<NodeId, MemberView>();
  /**
   * Our catch-up batch numbers. Each life of the node starts at a random
   * point: a peer may still hold part of a batch from our previous life, and
   * a new batch with its number would meet that part (other contacts) and
   * have its claim applied without its own states, marking writes applied
   * that the peer never got (found by a seed of the faults scenario).
   */
  private batchSeq: number;
  /** Catch-up batches from peers, by (peer, batch). */
  private readonly batches = new Map<string, PendingBatch>();
  /** States per catch-up batch we ask for: halved when a batch goes incomplete, doubled when one completes (up to catchUpBatch). */
  private catchUpWant: number;
  /** When our last catch-up request went (riding a probe or alone). */
  private lastRequestMs = -Infinity;
  /** What we had applied over the last tail grace: which writes a catch-up answer counts as settled. */
  private readonly held: HeldNotes;

  constructor(
    private readonly host: CatchUpHost,
    now: TimeMs,
  ) {
    this.catchUpWant = host.cfg.catchUpBatch;
    this.batchSeq = host.rng.nextU32();
    // What was persisted before this start is settled.
    const grace = host.cfg.syncIntervalMs * TAIL_GRACE_SYNCS;
    this.held = new HeldNotes(now, host.store.applied(), grace, host.cfg.syncIntervalMs / HELD_SLICES_PER_SYNC);
  }

  /** Notes what we have applied at `now`, after every message and write (catch-up-ask.ts HeldNotes). */
  noteHeld(now: TimeMs): void {
    this.held.note(now, this.host.store.applied());
  }

  /** Counts distinct contacts received in a batch; applies the claim once all arrived. */
  countBatchState(now: TimeMs, fromId: NodeId, batch: number, id: string): void {
    const b = this.batchOf(now, `${fromId}/${batch}`);
    b.received.add(id);
    if (b.claim) this.tryClaim(`${fromId}/${batch}`);
  }

  private batchOf(now: TimeMs, key: string): PendingBatch {
    let b = this.batches.get(key);
    if (!b) {
      b = { received: new Set(), fromAddr: '' as Address, firstMs: now };
      this.batches.set(key, b);
      while (this.batches.size > 64) this.batches.delete(this.batches.keys().next().value as string);
    }
    return b;
  }

  /**
   * Our catch-up request for `peer`, the member membership is about to
   * probe: encoded, to ride in the ping's datagram when it fits `roomBytes`
   * (undefined when it does not: then it went on its own). Postpones the
   * request we would send alone at the sync tick.
   */
  requestFor(now: TimeMs, peer: MemberView, roomBytes: number): Uint8Array | undefined {
    // Probing also pings suspects; a request is for a member that answers (the slot stays for the next probe, or goes alone).
    if (peer.state !== 'alive') return undefined;
    if (now - this.lastRequestMs < this.host.cfg.syncIntervalMs * RIDE_MIN_GAP_SYNCS) return undefined;
    this.lastRequestMs = now;
    this.host.armSync(now + Math.round(this.host.cfg.syncIntervalMs * ALONE_AFTER_SYNCS));
    this.judgeBatches(now);
    try {
      const bytes = encodeMessage(this.request(''));
      if (bytes.length <= roomBytes) return bytes;
      this.host.outbox.sendEncoded(peer.addr, [bytes]);
    } catch (err) {
      // Never thrown into membership's probe (catchUpAsk keeps a request to one small datagram).
      if (!(err instanceof WireEncodeError)) throw err;
      this.host.stats.oversizeStates++;
    }
    return undefined;
  }

  /** No probe carried a request for a while (see ALONE_AFTER_SYNCS): one goes alone, to the next member of our own round-robin. */
  onSyncTick(now: TimeMs): void {
    this.lastRequestMs = now;
    this.host.armSync(now + Math.round(this.host.cfg.syncIntervalMs * ALONE_AFTER_SYNCS));
    this.judgeBatches(now);
    const peer = this.nextSyncPeer();
    if (peer) this.requestCatchUp(peer.addr, '');
  }

  /**
   * A batch still incomplete a sync interval after its first part came
   * lost a part (a state or its claim), and its claim, which needs every
   * state, is void: the next request then asks for half as many states.
   * Under heavy loss a big batch almost never arrives whole, and every
   * request would bring the same contacts again without moving our vector;
   * small batches go through, and each complete one doubles the size again.
   * Its states were joined all the same: only the claim waits.
   */
  private judgeBatches(now: TimeMs): void {
    for (const [key, b] of this.batches) {
      // Long incomplete: what is missing is not coming; drop it, so no later batch can meet it.
      if (now - b.firstMs > BATCH_MAX_AGE_SYNCS * this.host.cfg.syncIntervalMs) this.batches.delete(key);
      if (b.judged || now - b.firstMs < this.host.cfg.syncIntervalMs) continue;
      b.judged = true;
      this.catchUpWant = Math.max(1, this.catchUpWant >> 1);
    }
  }

  /**
   * The next live member to ask for what we lack: round-robin over a
   * shuffled order, reshuffled every round. Each member thus hears our
   * vector once per round (n - 1 sync intervals) rather than at random
   * (where the last of them waits a coupon collector's n·H(n)): the stable
   * vector, and with it tombstone collection, lags behind by one round.
   */
  private nextSyncPeer(): MemberView | undefined {
    const live = this.host.peers.live();
    if (live !== this.syncLive) {
      this.syncLive = live;
      this.syncLiveById = new Map(live.map((m) => [m.id, m]));
    }
    for (;;) {
      if (this.syncRound.length === 0) {
        if (live.length === 0) return undefined;
        this.syncRound = shuffle(live.map((m) => m.id), this.host.rng);
      }
      // A member no longer live is skipped; the round goes on with the others.
      const m = this.syncLiveById.get(this.syncRound.pop()!);
      if (m) return m;
    }
  }

  private requestCatchUp(to: Address, cursor: string): void {
    this.host.send(to, this.request(cursor));
  }

  /** Our vector and the lowest ranges we hold above it (catch-up-ask.ts). */
  private request(cursor: string): RepAsk | RepVv {
    return catchUpAsk(this.host.store.applied(), this.catchUpWant, cursor);
  }

  onClaim(now: TimeMs, fromAddr: Address, fromId: NodeId, msg: RepVv): void {
    const key = `${fromId}/${msg.batch}`;
    const b = this.batchOf(now, key);
    b.claim = msg;
    b.fromAddr = fromAddr;
    this.tryClaim(key);
  }

  /**
   * Answers a catch-up request with a batch: the contacts touched by the
   * writes the asker lacks, and a claim closing it.
   *
   * How this works: per origin, the writes above the asker's vector that
   * it does not list as held, oldest first. A gap below the last write it
   * lists for an origin is a lost push: filled now. (It lists only its
   * lowest ranges: a gap above those waits like a young write.) Above, only the
   * writes we have held for the tail grace go: in a write stream the
   * asker's vector is always a little behind the pushes on their way to
   * it, and answering with those sent a tenth of all writes twice (3
   * nodes, a write every 2 ms, 5-50 ms links, simulated); one lost at the
   * tail goes in the next answer. The claim covers only what we hold
   * contiguously, up to where the batch looked.
   */
  onAsk(now: TimeMs, fromAddr: Address, fromId: NodeId, msg: Ask): void {
    // As many states per batch as they asked for (0: our choice), never more than ours.
    const limit = msg.count > 0 ? Math.min(msg.count, this.host.cfg.catchUpBatch) : this.host.cfg.catchUpBatch;
    const theirs: Record<string, number> = {};
    for (const s of msg.vv) theirs[s.origin] = s.seq;
    this.host.heardVector(fromId, theirs);
    const batch = ++this.batchSeq;
    const floor = this.host.store.indexFloor();
    const behindFloor = Object.keys(floor).some((o) => vvGet(theirs, o) < vvGet(floor, o));
    if (behindFloor || msg.cursor !== '') {
      this.host.stats.catchUpBatches++;
      return this.fullSyncPage(fromAddr, batch, msg.cursor, limit);
    }
    // What they hold above their vector, by origin; a list out of form counts as holding nothing.
    const held = new Map<string, readonly number[]>();
    for (const d of msg.held) if (canonicalRanges(d.ranges) && d.ranges.length > 0) held.set(d.origin, d.ranges);
    const ours = cloudTop(this.host.store.applied());
    const settled = this.held.settled(now);
    const ids = new Set<ContactId>();
    const claim: WireSeq[] = [];
    let more = false;
    for (const origin of Object.keys(ours).sort()) {
      const top = vvGet(ours, origin);
      const after = vvGet(theirs, origin);
      const skip = held.get(origin) ?? [];
      const listedTop = skip.length > 0 ? skip[skip.length - 1]! : after;
      // Claim only what we hold contiguously: never a dot we lack ourselves.
      const through = Math.min(top, Math.max(listedTop, vvGet(settled, origin)));
      if (through <= after) continue;
      const room = limit - ids.size;
      if (room <= 0) {
        more = true;
        continue;
      }
      const page = this.host.store.touchedAfter(origin as NodeId, after, room, { through, skip });
      for (const id of page.ids) ids.add(id);
      const upTo = page.done ? through : Math.min(page.throughSeq, through);
      if (!page.done) more = true;
      if (upTo > after) claim.push({ origin: origin as NodeId, seq: upTo });
    }
    // Nothing they lack (most requests): an empty claim would tell them nothing.
    if (ids.size === 0 && claim.length === 0 && !more) return;
    this.host.stats.catchUpBatches++;
    this.host.stats.catchUpStatesSent += ids.size;
    for (const id of ids) this.host.send(fromAddr, toRepState(stateForPeer(this.host.store, id, this.host.stable()), { reply: false, full: true, batch }));
    this.host.send(fromAddr, { type: 'repVv', reply: true, batch, count: ids.size, more, cursor: '', vv: claim });
  }

  /** One page of a full sync, by contact id; the last page claims everything we hold. */
  private fullSyncPage(fromAddr: Address, batch: number, cursor: string, limit: number): void {
    this.host.stats.fullSyncPages++;
    const page = this.host.store.page(cursor === '' ? undefined : (cursor as ContactId), limit);
    this.host.stats.catchUpStatesSent += page.length;
    for (const s of page) this.host.send(fromAddr, toRepState(stateForPeer(this.host.store, s.id, this.host.stable()), { reply: false, full: true, batch }));
    const done = page.length < limit;
    const claim = done ? wireVector(cloudTop(this.host.store.applied())) : [];
    const next = done ? '' : page[page.length - 1]!.id;
    this.host.send(fromAddr, { type: 'repVv', reply: true, batch, count: page.length, more: !done, cursor: next, vv: claim });
  }

  /** Applies a batch's claim once all its states arrived; asks for more at once if there is more. */
  private tryClaim(key: string): void {
    const b = this.batches.get(key)!;
    const claim = b.claim;
    if (!claim || b.received.size < claim.count) return;
    this.batches.delete(key);
    if (!b.judged) this.catchUpWant = Math.min(this.host.cfg.catchUpBatch, this.catchUpWant * 2);
    let dots = this.host.store.applied();
    const before = dots;
    for (const { origin, seq } of claim.vv) dots = cloudAddRange(dots, origin, 1, seq);
    if (dots !== before) {
      this.host.store.addApplied(dots);
      this.host.flushStore();
    }
    if (claim.more) this.requestCatchUp(b.fromAddr, claim.cursor);
  }
}
