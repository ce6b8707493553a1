/**
 * Replication of the contact list, sans-I/O, over the contact CRDT and its
 * store (protocol/contacts).
 *
 * How this works:
 * - Eager push: a client write is committed to the store (its journal
 *   becomes `persist` events, which the driver makes durable before it
 *   sends anything) and its delta goes at once to every live member.
 * - Catch-up: every sync interval a node asks a member for the writes
 *   its version vector lacks, riding on membership's probes, and streams
 *   a backlog in batches, each closed by a claim (catch-up.ts).
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
import type { Message, RepState } from '../wire/messages.ts';
import type { MemberView } from '../membership/member-table.ts';
import { cloudTop, EMPTY_VV, vvEquals, vvMax, vvMeet, type DotCloud, type VersionVector } from '../contacts/dots.ts';
import { collectTombstones, prepareWrite, receiveState, stateForPeer, storeWrite } from '../contacts/book.ts';
import type { ContactId } from '../contacts/ids.ts';
import type { WriteRequest } from '../contacts/patch.ts';
import { sameEntries, type ContactState } from '../contacts/state.ts';
import type { ContactStore, StoreChange } from '../contacts/store.ts';
import { version } from '../contacts/view.ts';
import type { WriteOutcome } from '../contacts/write.ts';
import { DigestSessions } from './digest-sessions.ts';
import { CatchUp } from './catch-up.ts';
import { fromRepState, repStateBytesBound, toRepState } from './wire-state.ts';

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
    case 'oldLife': return `old-life:${c.id}`;
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
  private readonly catchUp: CatchUp;

  constructor(private readonly init: ReplicationInit) {
    this.cfg = { ...DEFAULT_REPLICATION_CONFIG, ...init.config };
    this.store = init.store;
    this.catchUp = new CatchUp({
      cfg: this.cfg, stats: this.stats, store: this.store, peers: init.peers, outbox: init.outbox, rng: init.rng,
      send: (to, msg) => this.send(to, msg),
      stable: () => this.stable,
      flushStore: () => this.flushStore(false),
      heardVector: (from, vv) => this.heardVector(from, vv),
      armSync: (at) => this.timers.set('sync', at),
    }, init.now);
    this.digests = new DigestSessions(init.rng, init.outbox);
    this.store.drainChanges(); // what loading produced is already durable
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
    this.catchUp.noteHeld(now);
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
      if (key === 'sync') this.catchUp.onSyncTick(now);
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
        if (msg.reply) this.catchUp.onClaim(now, fromAddr, fromId, msg);
        else this.catchUp.onAsk(now, fromAddr, fromId, { ...msg, held: [] });
        break;
      case 'repAsk':
        this.catchUp.onAsk(now, fromAddr, fromId, msg);
        break;
      case 'repFetch':
        this.onFetch(fromAddr, msg.items);
        break;
      default:
        if (msg.type.startsWith('rc')) this.onDigestMessage(now, fromAddr, fromId, msg);
    }
    this.catchUp.noteHeld(now);
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
    if (msg.batch > 0) this.catchUp.countBatchState(now, fromId, msg.batch, msg.id);
  }

  /**
   * Our catch-up request for `peer`, the member membership is about to
   * probe, to ride in the ping's datagram when it fits `roomBytes`
   * (catch-up.ts requestFor).
   */
  catchUpRequestFor(now: TimeMs, peer: MemberView, roomBytes: number): Uint8Array | undefined {
    return this.catchUp.requestFor(now, peer, roomBytes);
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

  /** A member asked for catch-up with vector `vv`: its last report, for W and K. */
  private heardVector(from: NodeId, vv: VersionVector): void {
    const before = this.peerVectors.get(from);
    if (!before || !vvEquals(before, vv)) this.peerVectorsChanged++;
    this.peerVectors.set(from, vv);
  }

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
        : c.kind === 'oldLife' ? c.bound : c.kind === 'applied' ? this.store.applied() : c.kind === 'clock' ? c.hlc : this.store.indexFloor();
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
