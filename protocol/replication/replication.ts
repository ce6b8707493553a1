/**
 * Replication of the contact list, sans-I/O.
 *
 * How this works:
 * - Eager push: a local write is applied, persisted (a `persist` event the
 *   driver commits before anything is sent) and its delta sent at once to
 *   every live member.
 * - Catch-up: every sync interval a node sends a random live member its
 *   version vector; the member answers with the contacts touched by writes
 *   the vector lacks, oldest write first, in bounded batches, each closed by
 *   a claim "with these you hold every write of origin X up to s". A node
 *   that was down asks again at once while the answers say there is more,
 *   so a backlog streams one batch per round trip and never floods.
 * - Digest repair: every digest interval a node reconciles its whole set of
 *   contact versions with a random member (rateless IBLT, protocol/reconcile);
 *   it pushes the contacts only it has and fetches the ones only the peer has.
 *   Whatever caused a divergence, this repairs it.
 * - Any received state is joined (protocol/crdt); when our result holds
 *   something the sender lacks, we answer with our state (once: replies are
 *   never answered), so both sides converge from either direction.
 * - Stability: versions vectors learned from peers give the stable vector
 *   (pointwise min over every member not reaped), which compacts contexts
 *   and forgets tombstones every member has seen.
 */
import type { Outbox } from '../outbox.ts';
import { TimerTable } from '../timers.ts';
import type { Address, NodeId, Rng, TimeMs } from '../types.ts';
import type { Message, RepState, RepVv, WireSeq } from '../wire/messages.ts';
import { type ContactId, type ContactState, NO_STABLE, type StableVector } from '../crdt/contact-state.ts';
import { applyWrite, type WriteOp } from '../crdt/ops.ts';
import { HlcClock } from '../crdt/hlc.ts';
import type { MemberView } from '../membership/member-table.ts';
import { Replica } from './replica.ts';
import { DigestSessions } from './digest-sessions.ts';
import { fromRepState, toRepState } from './wire-state.ts';

export interface ReplicationConfig {
  /** How often a node asks a random member for what it lacks. */
  syncIntervalMs: number;
  /** Contacts per catch-up batch (one batch in flight per peer). */
  catchUpBatch: number;
  /** How often a node runs digest repair with a random member. */
  digestIntervalMs: number;
  /** Contacts pushed or fetched per digest session, each way. */
  digestRepairMax: number;
  /** How often the stable vector is recomputed. */
  stableIntervalMs: number;
  /** A deliberately broken merge that drops what it receives: only for proving the checkers catch loss. */
  brokenJoinForTests?: boolean;
}

export const DEFAULT_REPLICATION_CONFIG: ReplicationConfig = {
  syncIntervalMs: 1000,
  catchUpBatch: 200,
  digestIntervalMs: 10_000,
  digestRepairMax: 512,
  stableIntervalMs: 5_000,
};

export interface PersistedReplication {
  /** This node's write counter: never reused after a restart. */
  seq: number;
  stable: [NodeId, number][];
}

export type ReplicationEvent =
  | { type: 'persist'; key: `contact:${string}`; value: ReturnType<typeof toRepState> | null }
  | { type: 'persist'; key: 'replication'; value: PersistedReplication }
  | { type: 'contact-changed'; id: ContactId; state: ContactState; local: boolean };

export interface ReplicationStats {
  writes: number;
  statesIn: number;
  statesApplied: number;
  statesOut: number;
  badStates: number;
  catchUpBatches: number;
  digestSessions: number;
  digestDiffs: number;
  forgotten: number;
}

/** Who we can talk to: live members, and every member not yet reaped (for stability). */
export interface PeerView {
  live(): MemberView[];
  all(): MemberView[];
}

export interface ReplicationInit {
  id: NodeId;
  rng: Rng;
  outbox: Outbox;
  peers: PeerView;
  now: TimeMs;
  config?: Partial<ReplicationConfig>;
  restored?: { replication?: PersistedReplication; contacts?: ReturnType<typeof toRepState>[] };
}

type Timer = 'sync' | 'digest' | 'stable' | 'digest-retry';

export class Replication {
  readonly replica: Replica;
  readonly stats: ReplicationStats = { writes: 0, statesIn: 0, statesApplied: 0, statesOut: 0, badStates: 0, catchUpBatches: 0, digestSessions: 0, digestDiffs: 0, forgotten: 0 };
  private readonly cfg: ReplicationConfig;
  private readonly timers = new TimerTable<Timer>();
  private readonly events: ReplicationEvent[] = [];
  private readonly clock = new HlcClock();
  private readonly peerVectors = new Map<NodeId, Map<NodeId, number>>();
  private readonly digests: DigestSessions;
  private seq = 0;
  private batchSeq = 0;
  /** Catch-up batches from peers: states received per (peer, batch), claims waiting for them. */
  private readonly batches = new Map<string, { received: Set<string>; claim?: RepVv; fromAddr: Address }>();

  constructor(private readonly init: ReplicationInit) {
    this.cfg = { ...DEFAULT_REPLICATION_CONFIG, ...init.config };
    this.replica = new Replica(this.cfg.brokenJoinForTests === true);
    this.digests = new DigestSessions(init.rng, init.outbox);
    const r = init.restored;
    if (r?.replication) {
      this.seq = r.replication.seq;
      this.replica.setStable(new Map(r.replication.stable));
    }
    for (const w of r?.contacts ?? []) {
      const parsed = fromRepState(w);
      if (parsed) this.replica.put(parsed.state);
    }
    const now = init.now;
    this.timers.set('sync', now + this.init.rng.int(this.cfg.syncIntervalMs));
    this.timers.set('digest', now + this.cfg.digestIntervalMs + this.init.rng.int(this.cfg.digestIntervalMs));
    this.timers.set('stable', now + this.cfg.stableIntervalMs);
  }

  // ---------------------------------------------------------------- local API

  /**
   * Applies a local write to contact `id` at physical time `now` and pushes
   * it to every live member. Returns the contact's new state.
   */
  write(now: TimeMs, id: ContactId, op: WriteOp): ContactState {
    const { state, delta } = applyWrite(id, this.replica.get(id), op, {
      origin: this.init.id,
      nextSeq: () => ++this.seq,
      hlc: this.clock.tick(now),
      stable: this.replica.stable,
    });
    this.replica.put(state);
    this.stats.writes++;
    // Persist the counter and the contact before anything leaves: the driver
    // commits events before it sends datagrams.
    this.events.push({ type: 'persist', key: 'replication', value: this.persisted() });
    this.persistContact(state);
    this.events.push({ type: 'contact-changed', id, state, local: true });
    // A delta is a partial state: it must not claim the stable vector, or a
    // receiver would read "stable and absent" as "removed" for everything else.
    const msg = toRepState(delta, NO_STABLE, false, 0);
    for (const m of this.init.peers.live()) this.send(m.addr, msg);
    return state;
  }

  get(id: ContactId): ContactState | undefined {
    return this.replica.get(id);
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
      case 'repState': return this.onState(fromAddr, fromId, msg);
      case 'repVv': return this.onVv(fromAddr, fromId, msg);
      case 'repFetch': return this.onFetch(fromAddr, msg.items);
      default:
        if (msg.type.startsWith('rc')) this.onDigestMessage(now, fromAddr, fromId, msg);
    }
  }

  // ---------------------------------------------------------------- receiving states

  private onState(fromAddr: Address, fromId: NodeId, msg: RepState): void {
    this.stats.statesIn++;
    const parsed = fromRepState(msg);
    if (!parsed) {
      this.stats.badStates++;
      return;
    }
    for (const e of parsed.state.entries) this.clock.observe(e.hlc);
    const { changed, result, dominates } = this.replica.merge(parsed.state, parsed.stable);
    if (changed) {
      this.stats.statesApplied++;
      this.persistContact(changed);
      this.events.push({ type: 'contact-changed', id: changed.id, state: changed, local: false });
    }
    if (dominates && !msg.reply) this.send(fromAddr, toRepState(result, this.replica.stable, true, 0));
    if (msg.batch > 0) this.countBatchState(fromId, msg.batch, msg.id);
  }

  /** Counts distinct contacts received in a batch (a duplicated datagram must not stand in for a lost one). */
  private countBatchState(fromId: NodeId, batch: number, id: string): void {
    const key = `${fromId}/${batch}`;
    const b = this.batches.get(key);
    if (!b) {
      this.batches.set(key, { received: new Set([id]), fromAddr: '' as Address });
      this.boundBatches();
      return;
    }
    b.received.add(id);
    if (b.claim) this.tryClaim(key);
  }

  // ---------------------------------------------------------------- catch-up

  private onSyncTick(now: TimeMs): void {
    this.timers.set('sync', now + this.cfg.syncIntervalMs);
    const live = this.init.peers.live();
    if (live.length === 0) return;
    const peer = live[this.init.rng.int(live.length)]!;
    this.requestCatchUp(peer.addr);
  }

  private requestCatchUp(to: Address): void {
    this.send(to, { type: 'repVv', reply: false, batch: 0, count: 0, more: false, vv: this.vector() });
  }

  private onVv(fromAddr: Address, fromId: NodeId, msg: RepVv): void {
    const theirs = new Map(msg.vv.map((s) => [s.origin, s.seq] as const));
    if (msg.reply) {
      const key = `${fromId}/${msg.batch}`;
      const b = this.batches.get(key) ?? { received: new Set<string>(), fromAddr };
      b.claim = msg;
      b.fromAddr = fromAddr;
      this.batches.set(key, b);
      this.boundBatches();
      this.tryClaim(key);
      return;
    }
    this.peerVectors.set(fromId, theirs);
    const { ids, upTo, more } = this.replica.missingFor(theirs, this.cfg.catchUpBatch);
    const batch = ++this.batchSeq;
    for (const id of ids) this.send(fromAddr, toRepState(this.replica.get(id)!, this.replica.stable, false, batch));
    this.stats.catchUpBatches++;
    const claim: WireSeq[] = [...upTo].map(([origin, seq]) => ({ origin, seq }));
    this.send(fromAddr, { type: 'repVv', reply: true, batch, count: ids.length, more, vv: claim });
  }

  /** Applies a batch's claim once all its states have arrived; asks for more at once if there is more. */
  private tryClaim(key: string): void {
    const b = this.batches.get(key)!;
    const claim = b.claim;
    if (!claim || b.received.size < claim.count) return;
    this.batches.delete(key);
    for (const { origin, seq } of claim.vv) this.replica.applied.addRange(origin, seq);
    if (claim.more) this.requestCatchUp(b.fromAddr);
  }

  private boundBatches(): void {
    while (this.batches.size > 64) this.batches.delete(this.batches.keys().next().value as string);
  }

  /** Our version vector (contiguous part), for catch-up requests. */
  private vector(): WireSeq[] {
    return this.replica.applied.origins().map((origin) => ({ origin, seq: this.replica.applied.contiguous(origin) }));
  }

  // ---------------------------------------------------------------- digest repair

  private onDigestTick(now: TimeMs): void {
    this.timers.set('digest', now + Math.floor(this.cfg.digestIntervalMs * (0.75 + this.init.rng.next() / 2)));
    const live = this.init.peers.live();
    if (live.length === 0 || this.digests.busy) return;
    const peer = live[this.init.rng.int(live.length)]!;
    this.stats.digestSessions++;
    this.digests.start(now, peer.id, peer.addr, this.replica.digestItems());
    this.timers.set('digest-retry', now + 500);
  }

  private onDigestRetry(now: TimeMs): void {
    if (!this.digests.busy) return;
    this.digests.retry(now);
    if (this.digests.busy) this.timers.set('digest-retry', now + 500);
  }

  private onDigestMessage(now: TimeMs, fromAddr: Address, fromId: NodeId, msg: Message): void {
    const result = this.digests.handle(now, fromAddr, fromId, msg, () => this.replica.digestItems());
    if (!result) return;
    this.stats.digestDiffs += result.localOnly.length + result.remoteOnly.length;
    // Ours only: push them. Theirs only: fetch them (8 bytes an item, bounded).
    for (const v of result.localOnly.slice(0, this.cfg.digestRepairMax)) {
      const id = this.replica.byVersion(v);
      if (id) this.send(result.peerAddr, toRepState(this.replica.get(id)!, this.replica.stable, false, 0));
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
      const id = this.replica.byVersion(view.getBigUint64(k, true));
      if (id) this.send(fromAddr, toRepState(this.replica.get(id)!, this.replica.stable, false, 0));
    }
  }

  // ---------------------------------------------------------------- stability

  private onStableTick(now: TimeMs): void {
    this.timers.set('stable', now + this.cfg.stableIntervalMs);
    const members = this.init.peers.all().filter((m) => m.id !== this.init.id);
    const origins = this.replica.applied.origins();
    // Stability only grows: once every member had a dot, that stays true.
    const stable = new Map<NodeId, number>(this.replica.stable);
    for (const o of origins) {
      let min = this.replica.applied.contiguous(o);
      for (const m of members) min = Math.min(min, this.peerVectors.get(m.id)?.get(o) ?? 0);
      if (min > (stable.get(o) ?? 0)) stable.set(o, min);
    }
    if (!advances(stable, this.replica.stable)) return;
    const forgotten = this.replica.setStable(stable);
    this.stats.forgotten += forgotten.length;
    for (const id of forgotten) this.events.push({ type: 'persist', key: `contact:${id}`, value: null });
    this.events.push({ type: 'persist', key: 'replication', value: this.persisted() });
  }

  // ---------------------------------------------------------------- helpers

  private persisted(): PersistedReplication {
    return { seq: this.seq, stable: [...this.replica.stable] };
  }

  private persistContact(s: ContactState): void {
    this.events.push({ type: 'persist', key: `contact:${s.id}`, value: toRepState(s, this.replica.stable, false, 0) });
  }

  private send(to: Address, msg: Message): void {
    if (msg.type === 'repState') this.stats.statesOut++;
    this.init.outbox.send(to, [msg]);
  }
}

/** True when `next` is ahead of `prev` for some origin (and behind for none that matters). */
function advances(next: StableVector, prev: StableVector): boolean {
  for (const [o, s] of next) if (s > (prev.get(o) ?? 0)) return true;
  return false;
}

export { NO_STABLE };
