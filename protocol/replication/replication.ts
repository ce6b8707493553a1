/**
 * Replication of the contact list, sans-I/O, over the contact CRDT and its
 * store (protocol/contacts).
 *
 * How this works:
 * - Eager push: a client write is committed to the store (its journal
 *   becomes `persist` events, which the driver makes durable before it
 *   sends anything) and its delta goes at once to every live member.
 * - Catch-up: every sync interval a node sends a member its version
 *   vector, riding in the datagram of a probe's ping (membership probes
 *   the members in a shuffled round-robin, once a second: what catch-up
 *   wants, and riding saves a datagram; see catchUpRequestFor), or on its
 *   own to the next live member of its own round-robin when no probe went
 *   out for a while (Lifeguard stretches probing on a struggling node; a
 *   leaving node stops it). The request also lists what the node holds
 *   above its vector (the writes after a lost push). The member answers
 *   with the contacts touched by writes the node lacks (nothing at all when
 *   it lacks none), oldest first (the store's catch-up index), leaving out
 *   the writes it has held for less than a sync interval unless the node
 *   has seen a later one of their origin: those were pushed a moment ago
 *   and are most likely still on their way (see onAsk), in bounded
 *   batches, each closed by a claim "with these you hold every write of
 *   origin X up to s"; the claim is applied only once every contact of the
 *   batch arrived (counted by distinct contact: a duplicate never stands in
 *   for a loss). While the answers say there is more, the node asks again
 *   at once: a backlog streams one batch per round trip and never floods.
 *   A request says how many states it wants per batch: a node whose
 *   batches go incomplete (heavy loss) halves that, and doubles it again
 *   with every batch that completes, so catch-up still advances at 30%
 *   loss instead of bringing the same contacts every second.
 *   A node behind the index floor (away while tombstones were collected)
 *   gets a full sync instead, paged by contact id.
 * - Digest repair: every digest interval a node reconciles the versions of
 *   all its contacts with a random member (rateless IBLT, protocol/
 *   reconcile), pushes the contacts only it has and fetches those only the
 *   peer has. Whatever caused a divergence, this repairs it.
 * - A full state from a peer that turns out stale (it holds entries we know
 *   were removed, or lacks ones we hold) is answered once with ours.
 * - Stability: version vectors learned from members' catch-up requests give
 *   W (pointwise min, every member not reaped) and K (pointwise max); with
 *   them the store compacts, prunes its index and collects tombstones
 *   behind a fence (protocol/contacts/gc.ts).
 */
import type { Outbox } from '../outbox.ts';
import { encodeMessage, WireEncodeError } from '../wire/codec.ts';
import { TimerTable } from '../timers.ts';
import type { Address, NodeId, Rng, TimeMs } from '../types.ts';
import { shuffle } from '../rng.ts';
import type { Message, RepAsk, RepState, RepVv, WireSeq } from '../wire/messages.ts';
import type { MemberView } from '../membership/member-table.ts';
import {
  cloudAddRange, cloudTop, EMPTY_VV, vvEquals, vvGet, vvMax, vvMeet, type DotCloud, type VersionVector,
} from '../contacts/dots.ts';
import { collectTombstones, prepareWrite, receiveState, stateForPeer, storeWrite } from '../contacts/book.ts';
import type { ContactId } from '../contacts/ids.ts';
import type { WriteRequest } from '../contacts/patch.ts';
import { sameEntries, type ContactState } from '../contacts/state.ts';
import type { ContactStore, StoreChange } from '../contacts/store.ts';
import { version } from '../contacts/view.ts';
import type { WriteOutcome } from '../contacts/write.ts';
import { DigestSessions } from './digest-sessions.ts';
import { catchUpAsk, HeldNotes } from './catch-up-ask.ts';
import { canonicalRanges, fromRepState, repStateBytesBound, toRepState } from './wire-state.ts';

export interface ReplicationConfig {
  /** How often a node asks a member for what it lacks (riding on probes, which come as often when healthy). */
  syncIntervalMs: number;
  /** Contacts per catch-up batch (one batch in flight per peer). */
  catchUpBatch: number;
  /** How often a node runs digest repair with a random member. */
  digestIntervalMs: number;
  /** Contacts pushed or fetched per digest session, each way. */
  digestRepairMax: number;
  /** How often stability is recomputed and tombstones collected. */
  stableIntervalMs: number;
  /**
   * A node that knows no other member may have lost track of them (it
   * restarted after every other member looked dead to it, and remembers no
   * one to rejoin through): it collects no tombstones until it hears of a
   * member, or for this long after it started. Like reapDeadAfterMs, the
   * grace a member that is down has.
   */
  aloneGraceMs: number;
}

/** Largest encoded contact state a write may produce (a packet is at most 65,507 bytes with its header). */
export const MAX_STATE_BYTES = 60_000;

export const DEFAULT_REPLICATION_CONFIG: ReplicationConfig = {
  syncIntervalMs: 1000,
  catchUpBatch: 200,
  digestIntervalMs: 10_000,
  digestRepairMax: 512,
  stableIntervalMs: 5_000,
  aloneGraceMs: 24 * 3600_000,
};

/**
 * Encoded deltas grouped into packets of at most `roomBytes` of messages
 * (and 255 messages, the count the outbox's room is sized for), in order; a delta larger than the room
 * goes alone (the outbox fragments it). Greedy: deltas of one batch are
 * about the same size.
 */
export function packDeltas(deltas: readonly Uint8Array[], roomBytes: number): Uint8Array[][] {
  const packets: Uint8Array[][] = [];
  let current: Uint8Array[] = [];
  let used = 0;
  for (const d of deltas) {
    if (current.length > 0 && (used + d.length > roomBytes || current.length >= 255)) {
      packets.push(current);
      current = [];
      used = 0;
    }
    current.push(d);
    used += d.length;
  }
  if (current.length > 0) packets.push(current);
  return packets;
}

/** Where a store change is kept: the simulator's durable map key (the daemon commits `change` itself). */
export function persistKey(c: StoreChange): string {
  switch (c.kind) {
    case 'put': return `contact:${c.state.id}`;
    case 'forget': return `contact:${c.id}`;
    case 'fence': return `fence:${c.id}`;
    case 'applied': return 'applied';
    case 'clock': return 'clock';
    case 'pruneIndex': return 'index-floor';
  }
}

export type ReplicationEvent =
  /** A store mutation to make durable before anything is sent (key/value for simple key-value drivers). */
  | { type: 'persist'; key: string; value: unknown; change: StoreChange }
  /** A contact's entries changed (locally or from a peer): for subscribers. */
  | { type: 'contact-changed'; id: ContactId; state: ContactState; local: boolean };

export interface ReplicationStats {
  writes: number;
  writesRejected: number;
  statesIn: number;
  statesApplied: number;
  statesOut: number;
  badStates: number;
  catchUpBatches: number;
  /** States sent in catch-up batches and full-sync pages. */
  catchUpStatesSent: number;
  fullSyncPages: number;
  digestSessions: number;
  digestDiffs: number;
  forgotten: number;
  oversizeStates: number;
}

/** Who we can talk to: live members, and every member not yet reaped (for stability). */
export interface PeerView {
  /** A new array whenever the list changed (callers compare identity to know); never changed in place. */
  live(): MemberView[];
  /** As live(): a new array whenever the list changed. */
  all(): MemberView[];
  /**
   * Whether we know the cluster: joined through a seed (or a member we knew
   * before a restart), or started as its first node. Until then our member
   * list is just ourselves, and what looks stable is not.
   */
  joined(): boolean;
}

export interface ReplicationInit {
  id: NodeId;
  rng: Rng;
  outbox: Outbox;
  peers: PeerView;
  now: TimeMs;
  /** The node's store, loaded with what it persisted (journaling on). */
  store: ContactStore;
  config?: Partial<ReplicationConfig>;
}

type Timer = 'sync' | 'digest' | 'stable' | 'digest-retry';

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

export class Replication {
  readonly store: ContactStore;
  readonly stats: ReplicationStats = {
    writes: 0, writesRejected: 0, statesIn: 0, statesApplied: 0, statesOut: 0, badStates: 0, catchUpBatches: 0,
    catchUpStatesSent: 0, fullSyncPages: 0, digestSessions: 0, digestDiffs: 0, forgotten: 0, oversizeStates: 0,
  };
  private readonly cfg: ReplicationConfig;
  private readonly timers = new TimerTable<Timer>();
  private readonly events: ReplicationEvent[] = [];
  private readonly peerVectors = new Map<NodeId, VersionVector>();
  /** Bumped when a member reports a vector other than the one we held for it. */
  private peerVectorsChanged = 0;
  /** What the last stability pass computed W and K from, and what it got (see onStableTick). */
  private stabilityFrom: { all: MemberView[]; vectors: number; applied: DotCloud; meet: VersionVector; frontier: VersionVector } | undefined;
  private readonly digests: DigestSessions;
  private readonly versions = new Map<bigint, ContactId>();
  private readonly versionOf = new Map<ContactId, bigint>();
  private stable: VersionVector = EMPTY_VV;
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

  constructor(private readonly init: ReplicationInit) {
    this.cfg = { ...DEFAULT_REPLICATION_CONFIG, ...init.config };
    this.catchUpWant = this.cfg.catchUpBatch;
    this.batchSeq = init.rng.nextU32();
    this.store = init.store;
    this.digests = new DigestSessions(init.rng, init.outbox);
    this.store.drainChanges(); // what loading produced is already durable
    // What was persisted before this start is settled.
    const grace = this.cfg.syncIntervalMs * TAIL_GRACE_SYNCS;
    this.held = new HeldNotes(init.now, this.store.applied(), grace, this.cfg.syncIntervalMs / HELD_SLICES_PER_SYNC);
    for (let page = this.store.page(undefined, 1000); page.length > 0; page = this.store.page(page[page.length - 1]!.id, 1000)) {
      for (const s of page) this.noteVersion(s);
    }
    const now = init.now;
    this.timers.set('sync', now + init.rng.int(this.cfg.syncIntervalMs));
    this.timers.set('digest', now + this.cfg.digestIntervalMs + init.rng.int(this.cfg.digestIntervalMs));
    this.timers.set('stable', now + this.cfg.stableIntervalMs);
  }

  // ---------------------------------------------------------------- local API

  /** Takes a client write at physical time `now`; an applied one is persisted, then pushed to every live member. */
  write(now: TimeMs, req: WriteRequest): WriteOutcome {
    return this.writeMany(now, [req])[0]!;
  }

  /**
   * Takes client writes at physical time `now`, in order, each on its own
   * (its own dot, op id and outcome: one refused write leaves the others
   * be). Applied ones are persisted (one journal, so they commit in one
   * transaction) and their deltas pushed to every live member, packed
   * several to a datagram when they fit.
   */
  writeMany(now: TimeMs, reqs: readonly WriteRequest[]): WriteOutcome[] {
    const deltas: Uint8Array[] = [];
    const outcomes = reqs.map((req) => {
      const outcome = this.applyOne(now, req);
      if (outcome.kind === 'applied') deltas.push(encodeMessage(toRepState(outcome.delta, { reply: false, full: false, batch: 0 })));
      return outcome;
    });
    if (deltas.length === 0) return outcomes;
    this.flushStore(true);
    this.held.note(now, this.store.applied());
    // Encoded and assembled once, sent to everyone.
    const live = this.init.peers.live();
    this.stats.statesOut += live.length * deltas.length;
    if (live.length > 0) {
      const to = live.map((m) => m.addr);
      for (const packet of packDeltas(deltas, this.init.outbox.payloadBudgetBytes)) this.init.outbox.sendEncodedToEach(to, packet);
    }
    return outcomes;
  }

  private applyOne(now: TimeMs, req: WriteRequest): WriteOutcome {
    const outcome = prepareWrite(this.store, this.init.id, req, now, this.stable);
    if (outcome.kind !== 'applied') {
      if (outcome.kind === 'rejected') this.stats.writesRejected++;
      return outcome;
    }
    const tooLarge = this.checkSize(outcome.state);
    if (tooLarge) {
      this.stats.writesRejected++;
      return tooLarge;
    }
    storeWrite(this.store, outcome);
    this.stats.writes++;
    return outcome;
  }

  /**
   * Refuses, before anything is stored, a write whose contact would no
   * longer fit one replication packet (the model's limits allow a photo and
   * a long note together to pass it): a write must never be acknowledged
   * if it cannot reach the other members. The bound is cheap and almost
   * always enough; only a contact near the limit is encoded to be sure.
   */
  private checkSize(state: ContactState): WriteOutcome | undefined {
    if (repStateBytesBound(state) <= MAX_STATE_BYTES) return undefined;
    const bytes = encodeMessage(toRepState(state, { reply: false, full: true, batch: 0 })).length;
    if (bytes <= MAX_STATE_BYTES) return undefined;
    return {
      kind: 'rejected',
      error: { code: 'too-large', issues: [], message: `contact ${state.id} would take ${bytes} bytes to replicate, over the ${MAX_STATE_BYTES}-byte limit: shrink the photo or the note` },
    };
  }

  /** The stable vector this node has established. */
  get stableVector(): VersionVector {
    return this.stable;
  }

  /** Digest items: the version of every contact held. */
  digestItems(): bigint[] {
    return [...this.versions.keys()];
  }

  pollEvent(): ReplicationEvent | undefined {
    return this.events.shift();
  }

  pollTimeout(): TimeMs | undefined {
    return this.timers.next();
  }

  handleTimeout(now: TimeMs): void {
    for (const { key } of this.timers.due(now)) {
      if (key === 'sync') this.onSyncTick(now);
      else if (key === 'digest') this.onDigestTick(now);
      else if (key === 'digest-retry') this.onDigestRetry(now);
      else if (key === 'stable') this.onStableTick(now);
    }
  }

  handleMessage(now: TimeMs, fromAddr: Address, fromId: NodeId, msg: Message): void {
    switch (msg.type) {
      case 'repState':
        this.onState(now, fromAddr, fromId, msg);
        break;
      case 'repVv':
        if (msg.reply) this.onClaim(now, fromAddr, fromId, msg);
        else this.onAsk(now, fromAddr, fromId, { ...msg, held: [] });
        break;
      case 'repAsk':
        this.onAsk(now, fromAddr, fromId, msg);
        break;
      case 'repFetch':
        this.onFetch(fromAddr, msg.items);
        break;
      default:
        if (msg.type.startsWith('rc')) this.onDigestMessage(now, fromAddr, fromId, msg);
    }
    this.held.note(now, this.store.applied());
  }

  // ---------------------------------------------------------------- receiving states

  private onState(now: TimeMs, fromAddr: Address, fromId: NodeId, msg: RepState): void {
    this.stats.statesIn++;
    const incoming = fromRepState(msg, this.store.get(msg.id as ContactId));
    if (!incoming) {
      this.stats.badStates++;
      return;
    }
    const r = receiveState(this.store, incoming, this.stable);
    if (r.changed) this.stats.statesApplied++;
    this.flushStore(false);
    // Answer a stale sender once (never a reply: no ping-pong).
    const stale = r.senderStale || (msg.full && !(r.state ? sameEntries(r.state, incoming) : incoming.entries.length === 0));
    if (stale && !msg.reply) this.send(fromAddr, toRepState(stateForPeer(this.store, incoming.id, this.stable), { reply: true, full: true, batch: 0 }));
    if (msg.batch > 0) this.countBatchState(now, fromId, msg.batch, msg.id);
  }

  /** Counts distinct contacts received in a batch; applies the claim once all arrived. */
  private countBatchState(now: TimeMs, fromId: NodeId, batch: number, id: string): void {
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

  // ---------------------------------------------------------------- catch-up

  /**
   * Our catch-up request for `peer`, the member membership is about to
   * probe: encoded, to ride in the ping's datagram when it fits `roomBytes`
   * (undefined when it does not: then it went on its own). Postpones the
   * request we would send alone at the sync tick.
   */
  catchUpRequestFor(now: TimeMs, peer: MemberView, roomBytes: number): Uint8Array | undefined {
    // Probing also pings suspects; a request is for a member that answers (the slot stays for the next probe, or goes alone).
    if (peer.state !== 'alive') return undefined;
    if (now - this.lastRequestMs < this.cfg.syncIntervalMs * RIDE_MIN_GAP_SYNCS) return undefined;
    this.lastRequestMs = now;
    this.timers.set('sync', now + Math.round(this.cfg.syncIntervalMs * ALONE_AFTER_SYNCS));
    this.judgeBatches(now);
    try {
      const bytes = encodeMessage(this.catchUpRequest(''));
      if (bytes.length <= roomBytes) return bytes;
      this.init.outbox.sendEncoded(peer.addr, [bytes]);
    } catch (err) {
      // Never thrown into membership's probe (catchUpAsk keeps a request to one small datagram).
      if (!(err instanceof WireEncodeError)) throw err;
      this.stats.oversizeStates++;
    }
    return undefined;
  }

  /** No probe carried a request for a while (see ALONE_AFTER_SYNCS): one goes alone, to the next member of our own round-robin. */
  private onSyncTick(now: TimeMs): void {
    this.lastRequestMs = now;
    this.timers.set('sync', now + Math.round(this.cfg.syncIntervalMs * ALONE_AFTER_SYNCS));
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
      if (now - b.firstMs > BATCH_MAX_AGE_SYNCS * this.cfg.syncIntervalMs) this.batches.delete(key);
      if (b.judged || now - b.firstMs < this.cfg.syncIntervalMs) continue;
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
    const live = this.init.peers.live();
    if (live !== this.syncLive) {
      this.syncLive = live;
      this.syncLiveById = new Map(live.map((m) => [m.id, m]));
    }
    for (;;) {
      if (this.syncRound.length === 0) {
        if (live.length === 0) return undefined;
        this.syncRound = shuffle(live.map((m) => m.id), this.init.rng);
      }
      // A member no longer live is skipped; the round goes on with the others.
      const m = this.syncLiveById.get(this.syncRound.pop()!);
      if (m) return m;
    }
  }

  private requestCatchUp(to: Address, cursor: string): void {
    this.send(to, this.catchUpRequest(cursor));
  }

  /** Our vector and the lowest ranges we hold above it (catch-up-ask.ts). */
  private catchUpRequest(cursor: string): RepAsk | RepVv {
    return catchUpAsk(this.store.applied(), this.catchUpWant, cursor);
  }

  private onClaim(now: TimeMs, fromAddr: Address, fromId: NodeId, msg: RepVv): void {
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
  private onAsk(now: TimeMs, fromAddr: Address, fromId: NodeId, msg: Ask): void {
    // As many states per batch as they asked for (0: our choice), never more than ours.
    const limit = msg.count > 0 ? Math.min(msg.count, this.cfg.catchUpBatch) : this.cfg.catchUpBatch;
    const theirs: Record<string, number> = {};
    for (const s of msg.vv) theirs[s.origin] = s.seq;
    const before = this.peerVectors.get(fromId);
    if (!before || !vvEquals(before, theirs)) this.peerVectorsChanged++;
    this.peerVectors.set(fromId, theirs);
    const batch = ++this.batchSeq;
    const floor = this.store.indexFloor();
    const behindFloor = Object.keys(floor).some((o) => vvGet(theirs, o) < vvGet(floor, o));
    if (behindFloor || msg.cursor !== '') {
      this.stats.catchUpBatches++;
      return this.fullSyncPage(fromAddr, batch, msg.cursor, limit);
    }
    // What they hold above their vector, by origin; a list out of form counts as holding nothing.
    const held = new Map<string, readonly number[]>();
    for (const d of msg.held) if (canonicalRanges(d.ranges) && d.ranges.length > 0) held.set(d.origin, d.ranges);
    const ours = cloudTop(this.store.applied());
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
      const page = this.store.touchedAfter(origin as NodeId, after, room, { through, skip });
      for (const id of page.ids) ids.add(id);
      const upTo = page.done ? through : Math.min(page.throughSeq, through);
      if (!page.done) more = true;
      if (upTo > after) claim.push({ origin: origin as NodeId, seq: upTo });
    }
    // Nothing they lack (most requests): an empty claim would tell them nothing.
    if (ids.size === 0 && claim.length === 0 && !more) return;
    this.stats.catchUpBatches++;
    this.stats.catchUpStatesSent += ids.size;
    for (const id of ids) this.send(fromAddr, toRepState(stateForPeer(this.store, id, this.stable), { reply: false, full: true, batch }));
    this.send(fromAddr, { type: 'repVv', reply: true, batch, count: ids.size, more, cursor: '', vv: claim });
  }

  /** One page of a full sync, by contact id; the last page claims everything we hold. */
  private fullSyncPage(fromAddr: Address, batch: number, cursor: string, limit: number): void {
    this.stats.fullSyncPages++;
    const page = this.store.page(cursor === '' ? undefined : (cursor as ContactId), limit);
    this.stats.catchUpStatesSent += page.length;
    for (const s of page) this.send(fromAddr, toRepState(stateForPeer(this.store, s.id, this.stable), { reply: false, full: true, batch }));
    const done = page.length < limit;
    const ours = cloudTop(this.store.applied());
    const claim = done ? Object.keys(ours).sort().map((origin) => ({ origin: origin as NodeId, seq: ours[origin]! })) : [];
    const next = done ? '' : page[page.length - 1]!.id;
    this.send(fromAddr, { type: 'repVv', reply: true, batch, count: page.length, more: !done, cursor: next, vv: claim });
  }

  /** Applies a batch's claim once all its states arrived; asks for more at once if there is more. */
  private tryClaim(key: string): void {
    const b = this.batches.get(key)!;
    const claim = b.claim;
    if (!claim || b.received.size < claim.count) return;
    this.batches.delete(key);
    if (!b.judged) this.catchUpWant = Math.min(this.cfg.catchUpBatch, this.catchUpWant * 2);
    let dots = this.store.applied();
    const before = dots;
    for (const { origin, seq } of claim.vv) dots = cloudAddRange(dots, origin, 1, seq);
    if (dots !== before) {
      this.store.addApplied(dots);
      this.flushStore(false);
    }
    if (claim.more) this.requestCatchUp(b.fromAddr, claim.cursor);
  }

  // ---------------------------------------------------------------- digest repair

  private onDigestTick(now: TimeMs): void {
    this.timers.set('digest', now + Math.floor(this.cfg.digestIntervalMs * (0.75 + this.init.rng.next() / 2)));
    const live = this.init.peers.live();
    if (live.length === 0 || this.digests.busy) return;
    const peer = live[this.init.rng.int(live.length)]!;
    this.stats.digestSessions++;
    this.digests.start(now, peer.id, peer.addr, this.digestItems());
    this.timers.set('digest-retry', now + 500);
  }

  private onDigestRetry(now: TimeMs): void {
    if (!this.digests.busy) return;
    this.digests.retry(now);
    if (this.digests.busy) this.timers.set('digest-retry', now + 500);
  }

  private onDigestMessage(now: TimeMs, fromAddr: Address, fromId: NodeId, msg: Message): void {
    const result = this.digests.handle(now, fromAddr, fromId, msg, () => this.digestItems());
    // Our session ended (most end at once: the fingerprints are equal): its retry timer has nothing to do.
    if (!this.digests.busy) this.timers.clear('digest-retry');
    if (!result) return;
    this.stats.digestDiffs += result.localOnly.length + result.remoteOnly.length;
    // Ours only: push them. Theirs only: fetch them (8 bytes an item, bounded).
    for (const v of result.localOnly.slice(0, this.cfg.digestRepairMax)) {
      const id = this.versions.get(v);
      if (id) this.send(result.peerAddr, toRepState(stateForPeer(this.store, id, this.stable), { reply: false, full: true, batch: 0 }));
    }
    const want = result.remoteOnly.slice(0, this.cfg.digestRepairMax);
    for (let i = 0; i < want.length; i += 150) {
      const chunk = want.slice(i, i + 150);
      const items = new Uint8Array(chunk.length * 8);
      const view = new DataView(items.buffer);
      chunk.forEach((v, k) => view.setBigUint64(k * 8, v, true));
      this.send(result.peerAddr, { type: 'repFetch', items });
    }
  }

  private onFetch(fromAddr: Address, items: Uint8Array): void {
    const view = new DataView(items.buffer, items.byteOffset, items.byteLength);
    for (let k = 0; k + 8 <= items.length; k += 8) {
      const id = this.versions.get(view.getBigUint64(k, true));
      if (id) this.send(fromAddr, toRepState(stateForPeer(this.store, id, this.stable), { reply: false, full: true, batch: 0 }));
    }
  }

  // ---------------------------------------------------------------- stability

  private onStableTick(now: TimeMs): void {
    this.timers.set('stable', now + this.cfg.stableIntervalMs);
    // A node still trying to reach its seeds knows no other member, so every
    // dot it holds would look seen by all, and it would collect tombstones
    // nobody else has (simulation seed 6 lost the writes under one this way).
    if (!this.init.peers.joined() || this.lostTrackOfMembers(now)) return;
    const { meet, frontier } = this.stability();
    // Stability only grows: once every member had a dot, that stays true.
    this.stable = vvMax(this.stable, meet);
    const forgotten = collectTombstones(this.store, { stable: this.stable, frontier });
    this.stats.forgotten += forgotten.length;
    this.store.pruneIndex(this.stable);
    this.flushStore(false);
  }

  /**
   * The pointwise min (W before it is merged into `stable`) and max (K) of
   * our vector and every member's last report. Recomputed only when one of
   * them moved: the member list, a member's report, or what we applied.
   * Why: most ticks change nothing, and at 100 members the pass over every
   * member's vector was a twentieth of a simulated hour.
   */
  private stability(): { meet: VersionVector; frontier: VersionVector } {
    const all = this.init.peers.all();
    const applied = this.store.applied();
    const last = this.stabilityFrom;
    if (last && last.all === all && last.vectors === this.peerVectorsChanged && last.applied === applied) return last;
    const vectors: VersionVector[] = [cloudTop(applied)];
    for (const m of all) {
      if (m.id === this.init.id) continue;
      vectors.push(this.peerVectors.get(m.id) ?? EMPTY_VV);
    }
    let frontier: VersionVector = EMPTY_VV;
    for (const v of vectors) frontier = vvMax(frontier, v);
    this.stabilityFrom = { all, vectors: this.peerVectorsChanged, applied, meet: vvMeet(vectors), frontier };
    return this.stabilityFrom;
  }

  /**
   * True while we know no other member, within aloneGraceMs of our start.
   * Counting only ourselves, every dot we hold would look seen by all, and
   * we would collect the tombstone of a delete nobody else has: when their
   * copies come back, the contact lives again (simulation seed 30 lost a
   * delete so: a node that had seen every other member as dead restarted
   * with no one to rejoin through). A node alone from its start does not
   * know whether it ever had peers, so it waits as for a member that is
   * down; as soon as it hears of one, their vectors decide.
   */
  private lostTrackOfMembers(now: TimeMs): boolean {
    return now - this.init.now < this.cfg.aloneGraceMs && !this.init.peers.all().some((m) => m.id !== this.init.id);
  }

  // ---------------------------------------------------------------- helpers

  /** Turns the store's journal into persist events (and keeps the digest index current). */
  private flushStore(local: boolean): void {
    for (const c of this.store.drainChanges()) {
      if (c.kind === 'put') {
        const before = this.versionOf.get(c.state.id);
        this.noteVersion(c.state);
        // A put that only compacted the context shows nothing new: subscribers are not told.
        if (this.versionOf.get(c.state.id) !== before) this.events.push({ type: 'contact-changed', id: c.state.id, state: c.state, local });
      } else if (c.kind === 'forget') this.dropVersion(c.id);
      const value = c.kind === 'put' ? c.state : c.kind === 'forget' ? null : c.kind === 'fence' ? c.fence ?? null
        : c.kind === 'applied' ? this.store.applied() : c.kind === 'clock' ? c.hlc : this.store.indexFloor();
      this.events.push({ type: 'persist', key: persistKey(c), value, change: c });
    }
  }

  private noteVersion(s: ContactState): void {
    this.dropVersion(s.id);
    const v = version(s);
    this.versions.set(v, s.id);
    this.versionOf.set(s.id, v);
  }

  private dropVersion(id: ContactId): void {
    const old = this.versionOf.get(id);
    if (old === undefined) return;
    this.versions.delete(old);
    this.versionOf.delete(id);
  }

  private send(to: Address, msg: Message): void {
    try {
      this.init.outbox.send(to, [msg]);
      if (msg.type === 'repState') this.stats.statesOut++;
    } catch (err) {
      // A state grown past the packet limit by merges: count it, never crash the node.
      if (!(err instanceof WireEncodeError)) throw err;
      this.stats.oversizeStates++;
    }
  }
}
