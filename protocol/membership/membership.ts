/**
 * SWIM membership with Lifeguard, sans-I/O.
 *
 * How this works:
 * - Probing (SWIM §4): every probe interval, ping the next member of a
 *   shuffled round-robin. No ack within the probe timeout → ask k others to
 *   ping it (ping-req). No ack by the end of the interval → suspect it.
 * - Suspicion (Lifeguard): a suspect that does not refute (raise its
 *   incarnation) before its suspicion timeout is declared dead. The timeout
 *   starts long and shrinks with independent confirmations.
 * - Local health (Lifeguard): missed nacks, being suspected and late timers
 *   raise a score that stretches our own probe interval and timeout.
 * - Dissemination: every state change is queued as a broadcast and rides on
 *   pings, acks and periodic gossip datagrams, each sent λ·log(n) times.
 * - Anti-entropy: a periodic full-state push/pull with one random member,
 *   and with one random dead member (so a healed partition merges by itself).
 * - Join: push/pull with the seeds, retried with backoff until one answers.
 * - Leave: broadcast our own death (`dead` from ourselves = left), keep
 *   gossiping for a bounded time, then report `left`.
 *
 * Time comes in as `now`; randomness from the seeded rng; datagrams go out
 * through the Outbox. Nothing here touches a clock, socket or file.
 */
import type { Alive, Dead, MemberState, Message, PushPull, Suspect } from '../wire/messages.ts';
import { encodeMessage } from '../wire/codec.ts';
import type { Outbox, Piggyback } from '../outbox.ts';
import { TimerTable } from '../timers.ts';
import type { Address, NodeId, Rng, TimeMs } from '../types.ts';
import { Awareness } from './awareness.ts';
import { BroadcastQueue } from './broadcast-queue.ts';
import { type MembershipConfig, pushPullIntervalFor, retransmitLimit } from './config.ts';
import { aliveOverrides, deadOverrides, isLiveState, type Member, MemberTable, type MemberView, suspectOverrides } from './member-table.ts';
import { AnsweredRequests, buildPushPullParts, memberState } from './push-pull.ts';
import { Suspicion, suspicionMinMs } from './suspicion.ts';
import { ProbeState, RelayTable } from './probe.ts';

/** What survives a restart: our incarnation, whom we last knew, and the seeds of a join still unanswered. */
export interface PersistedMembership {
  incarnation: number;
  members: { id: NodeId; name: string; addr: Address }[];
  /**
   * Where we were still trying to join (no seed had answered yet): a
   * restart goes on trying them. Without them a node that crashed before
   * its first join completed came back knowing only itself and started a
   * cluster of its own, for good (found by a replication simulation seed).
   */
  seeds?: Address[];
}

export type MembershipEvent =
  | { type: 'member'; member: MemberView; previous: Member['state'] | 'none' }
  | { type: 'member-removed'; member: MemberView }
  | { type: 'joined'; members: number }
  | { type: 'join-retry'; attempt: number; nextRetryMs: number }
  | { type: 'refuted'; incarnation: number }
  | { type: 'left' }
  | { type: 'persist'; key: 'membership'; value: PersistedMembership };

/** Counters a checker or the metrics endpoint reads. */
export interface MembershipStats {
  probes: number;
  probesFailed: number;
  probesInconclusive: number;
  indirectProbes: number;
  suspicionsRaised: number;
  suspicionsRefuted: number;
  refutations: number;
  deathsDeclared: number;
  pushPulls: number;
  relaysDropped: number;
  misdirectedPings: number;
}

type TimerName = 'probe' | 'probe-timeout' | 'gossip' | 'push-pull' | 'reconnect' | 'join' | 'reap' | 'persist' | 'leave' | `suspect:${string}` | `relay:${number}`;

export interface MembershipInit {
  id: NodeId;
  /** The address other members reach us at. */
  addr: Address;
  config: MembershipConfig;
  rng: Rng;
  outbox: Outbox;
  now: TimeMs;
  restored?: PersistedMembership | undefined;
  /** Another component's message for each probe target, sent in the ping's datagram (see ProbeRider). */
  probeRider?: ProbeRider | undefined;
}

/**
 * Another component's message for the member about to be pinged. Given the
 * bytes left in the ping's datagram, it returns one encoded message that
 * fits (it rides with the ping), or sends what it has on its own and
 * returns undefined. Replication's catch-up request rides so: it wants one
 * member after another in a shuffled round-robin, once a second, which is
 * what probing does, and riding saves a datagram per member per second.
 */
export type ProbeRider = (now: TimeMs, target: MemberView, roomBytes: number) => Uint8Array | undefined;

export class Membership {
  readonly id: NodeId;
  private readonly cfg: MembershipConfig;
  private readonly rng: Rng;
  private readonly outbox: Outbox;
  private readonly probeRider: ProbeRider | undefined;
  private readonly table: MemberTable;
  private readonly self: Member;
  private readonly timers = new TimerTable<TimerName>();
  private readonly broadcasts: BroadcastQueue;
  private readonly awareness: Awareness;
  private readonly suspicions = new Map<NodeId, Suspicion>();
  private readonly relays: RelayTable;
  private readonly answered = new AnsweredRequests(1024);
  private readonly events: MembershipEvent[] = [];
  private probe: ProbeState | undefined;
  private seq = 0;
  private joinSeeds: Address[] = [];
  private joinAttempt = 0;
  private joined = false;
  /** A fresh suspect to probe at the next tick (takeConfirmTarget). */
  private confirmNext: NodeId | undefined;
  private leaving = false;
  /**
   * The next gossip round: rounds fall on a grid (every gossipIntervalMs
   * from a random offset), but the 'gossip' timer is armed only while
   * something is queued. Why: most rounds have nothing to send, and at 100
   * members waking every node five times a second for nothing was a third
   * of what a simulated hour did. A broadcast queued while idle arms the
   * first round of the grid after it (armGossip), so news waits as it would
   * for a ticker that never stopped.
   */
  private gossipNextMs: TimeMs;
  /** The time of the latest input: another component may queue a broadcast (key statuses) without saying when. */
  private lastNowMs: TimeMs;
  readonly stats: MembershipStats = {
    probes: 0, probesFailed: 0, probesInconclusive: 0, indirectProbes: 0, suspicionsRaised: 0,
    suspicionsRefuted: 0, refutations: 0, deathsDeclared: 0, pushPulls: 0, relaysDropped: 0, misdirectedPings: 0,
  };

  constructor(init: MembershipInit) {
    this.id = init.id;
    this.cfg = init.config;
    this.rng = init.rng;
    this.outbox = init.outbox;
    this.probeRider = init.probeRider;
    this.table = new MemberTable(init.id, init.rng);
    this.broadcasts = new BroadcastQueue(init.config.broadcastQueueMax);
    this.awareness = new Awareness(init.config.awarenessMaxMultiplier);
    this.relays = new RelayTable(init.config.maxRelayedProbes);
    // A restarted node comes back one incarnation above anything it said before,
    // so its alive overrides the dead or left others remember.
    const incarnation = init.restored ? init.restored.incarnation + 1 : 0;
    this.self = {
      id: init.id, name: init.config.nodeName, addr: init.addr, incarnation,
      state: 'alive', stateSince: init.now, lastHeardAt: init.now,
    };
    this.table.add(this.self);
    if (init.restored) {
      this.joinSeeds = init.restored.members.filter((m) => m.id !== this.id).map((m) => m.addr).concat(init.restored.seeds ?? []);
    }
    // Persist at once: a restart must come back above this incarnation.
    this.persistNow();
    const { now } = init;
    // Stagger the periodic work so that nodes started together do not probe in lockstep.
    this.timers.set('probe', now + this.rng.int(this.cfg.probeIntervalMs));
    this.gossipNextMs = now + this.rng.int(this.cfg.gossipIntervalMs);
    this.lastNowMs = now;
    this.timers.set('push-pull', now + this.cfg.pushPullIntervalMs + this.rng.int(this.cfg.pushPullIntervalMs));
    this.timers.set('reconnect', now + this.cfg.reconnectIntervalMs + this.rng.int(this.cfg.reconnectIntervalMs));
    this.timers.set('reap', now + 60_000);
  }

  // ---------------------------------------------------------------- public API

  /**
   * Joins through `seeds` (plus the members we knew before a restart),
   * retrying with backoff until one answers. With no seed and nobody known,
   * we are the first node of a new cluster and are joined at once.
   */
  join(now: TimeMs, seeds: Address[]): void {
    this.lastNowMs = now;
    const all = new Set<Address>([...seeds, ...this.joinSeeds]);
    all.delete(this.self.addr);
    this.joinSeeds = [...all];
    if (this.joinSeeds.length === 0) {
      this.markJoined();
      return;
    }
    this.persistNow(); // the seeds, until one answers
    this.joinAttempt = 0;
    this.sendJoin(now);
  }

  /** Announces that we leave; emits `left` once the news had time to spread. */
  leave(now: TimeMs): void {
    if (this.leaving) return;
    this.lastNowMs = now;
    this.leaving = true;
    this.timers.clear('probe');
    this.timers.clear('probe-timeout');
    this.probe = undefined;
    const msg: Dead = { type: 'dead', node: this.id, incarnation: this.self.incarnation, from: this.id };
    this.table.setState(this.self, 'left', now);
    this.broadcast(this.id, msg);
    // Push it straight to a few members too, rather than wait for the next gossip round.
    for (const m of this.table.randomMembers(this.cfg.gossipFanout, isLive)) this.outbox.sendBroadcasts(m.addr, this.piggyback());
    this.timers.set('leave', now + this.cfg.leavePropagateMs);
  }

  /**
   * Announces a new name or address for this node (a SIGHUP reload, a moved
   * host): raises our incarnation so the news overrides what others hold.
   */
  announce(now: TimeMs, change: { name?: string; addr?: Address }): void {
    this.lastNowMs = now;
    if (change.name !== undefined) this.self.name = change.name;
    if (change.addr !== undefined) this.table.setAddress(this.self, change.addr);
    this.raiseIncarnation(this.self.incarnation);
  }

  /** Queues a broadcast of another component (key statuses) on our gossip; a newer one under `key` replaces the older. */
  enqueueBroadcast(key: string, encoded: Uint8Array): void {
    this.broadcasts.push(key, encoded);
    this.armGossip();
  }

  /** Every member we know, ourselves included. */
  members(): MemberView[] {
    return [...this.table.all()].map((m) => ({ ...m }));
  }

  /**
   * Every member we know, ourselves included, uncopied: read-only, current
   * (not a snapshot). For lists rebuilt on every tick, where copying n
   * members each time was the cost; see membersVersion.
   */
  memberViews(): IterableIterator<MemberView> {
    return this.table.all();
  }

  /** Changes whenever a member is added, removed or changes state: a list built from memberViews() is stale once it moves. */
  get membersVersion(): number {
    return this.table.version;
  }

  /** Changes whenever a member is added or removed (not when one changes state): see membersVersion. */
  get memberSetVersion(): number {
    return this.table.setVersion;
  }

  /** Whether a member we list (in any state, ourselves included) is at `addr`. */
  isMemberAddress(addr: Address): boolean {
    return this.table.hasAddress(addr);
  }

  /** The member we list at `addr`, in any state (of two sharing it, the newer). */
  memberAt(addr: Address): NodeId | undefined {
    return this.table.memberAt(addr);
  }

  /** One member, or undefined. */
  member(id: NodeId): MemberView | undefined {
    const m = this.table.get(id);
    return m ? { ...m } : undefined;
  }

  get incarnation(): number {
    return this.self.incarnation;
  }

  get isJoined(): boolean {
    return this.joined;
  }

  get health(): number {
    return this.awareness.health;
  }

  get broadcastQueueDepth(): number {
    return this.broadcasts.size;
  }

  pollEvent(): MembershipEvent | undefined {
    return this.events.shift();
  }

  pollTimeout(): TimeMs | undefined {
    return this.timers.next();
  }

  /** Records that a datagram arrived from member `from` (Lifeguard treats any traffic as life). */
  heardFrom(now: TimeMs, from: NodeId): void {
    this.lastNowMs = now;
    const m = this.table.get(from);
    if (m && m !== this.self) m.lastHeardAt = now;
  }

  /** Handles one decoded membership message from `fromAddr`, sent by node `fromId`. */
  handleMessage(now: TimeMs, fromAddr: Address, fromId: NodeId, msg: Message): void {
    this.lastNowMs = now;
    switch (msg.type) {
      case 'ping': return this.onPing(fromAddr, msg.seq, msg.target);
      case 'pingReq': return this.onPingReq(now, fromAddr, msg.seq, msg.target, msg.wantNack);
      case 'ack': return this.onAck(now, msg.seq);
      case 'nack': return this.onNack(msg.seq);
      case 'alive': return this.onAlive(now, msg);
      case 'suspect': return this.onSuspect(now, msg);
      case 'dead': return this.onDead(now, msg);
      case 'pushPull': return this.onPushPull(now, fromAddr, fromId, msg);
    }
  }

  /** Runs every timer due at `now`. */
  handleTimeout(now: TimeMs): void {
    this.lastNowMs = now;
    for (const { key, at } of this.timers.due(now)) {
      const lateMs = now - at;
      if (key === 'probe') this.onProbeTick(now, lateMs);
      else if (key === 'probe-timeout') this.onProbeTimeout(now, lateMs);
      else if (key === 'gossip') this.onGossipTick(now);
      else if (key === 'push-pull') this.onPushPullTick(now);
      else if (key === 'reconnect') this.onReconnectTick(now);
      else if (key === 'join') this.onJoinRetry(now);
      else if (key === 'reap') this.onReapTick(now);
      else if (key === 'persist') this.persistNow();
      else if (key === 'leave') this.events.push({ type: 'left' });
      else if (key.startsWith('suspect:')) this.onSuspicionTimeout(now, key.slice(8) as NodeId);
      else if (key.startsWith('relay:')) this.onRelayTimeout(Number(key.slice(6)));
    }
  }

  // ---------------------------------------------------------------- probing

  private onProbeTick(now: TimeMs, lateMs: number): void {
    if (this.probe) this.finishProbe(now, lateMs);
    this.timers.set('probe', now + this.awareness.scale(this.cfg.probeIntervalMs));
    const target = this.takeConfirmTarget() ?? this.table.nextProbeTarget();
    if (!target) return;
    const seq = this.nextSeq();
    this.probe = new ProbeState(seq, target.id, target.incarnation);
    this.stats.probes++;
    const msgs: Uint8Array[] = [encodeMessage({ type: 'ping', seq, target: target.id })];
    // Lifeguard's buddy system: tell a suspect it is suspected, on the ping itself.
    if (target.state === 'suspect') msgs.push(encodeMessage({ type: 'suspect', node: target.id, incarnation: target.incarnation, from: this.id }));
    const rider = this.probeRider?.(now, target, this.outbox.payloadBudgetBytes - msgs.reduce((n, m) => n + m.length, 0));
    if (rider) msgs.push(rider);
    this.outbox.sendEncoded(target.addr, msgs, this.piggyback());
    this.timers.set('probe-timeout', now + this.awareness.scale(this.cfg.probeTimeoutMs));
  }

  /**
   * A member someone else just started suspecting, to probe out of turn.
   * Why: Lifeguard shortens a suspicion as independent confirmations come
   * in, and those come from members that probe the suspect themselves; in
   * round-robin that takes seconds. A few members (about k + 1, chosen at
   * random: not everyone, so a merely slow member is not flooded) probe it
   * at their next tick instead, so a dead member is confirmed dead sooner
   * and a live one is heard from.
   */
  private takeConfirmTarget(): Member | undefined {
    const id = this.confirmNext;
    this.confirmNext = undefined;
    const m = id === undefined ? undefined : this.table.get(id);
    return m?.state === 'suspect' ? m : undefined;
  }

  private onProbeTimeout(now: TimeMs, lateMs: number): void {
    const probe = this.probe;
    if (!probe || probe.acked) return;
    // A timer that fires far past its deadline means we were paused or starved:
    // whatever did not arrive may be sitting unread, so this probe proves nothing.
    if (lateMs > this.cfg.probeTimeoutMs / 2) {
      probe.inconclusive = true;
      return;
    }
    const target = this.table.get(probe.target);
    if (!target) return;
    const helpers = this.table.randomMembers(this.cfg.indirectChecks, (m) => m.state === 'alive', target.id);
    probe.expectedNacks = helpers.length;
    // The direct ping again under the same seq, in parallel with the relays (memberlist
    // does this over TCP), in directRetryCopies datagrams: on a lossy link one lost
    // datagram should not start a suspicion.
    const again = encodeMessage({ type: 'ping', seq: probe.seq, target: target.id });
    for (let i = 0; i < this.cfg.directRetryCopies; i++) this.outbox.sendEncoded(target.addr, [again]);
    for (const h of helpers) {
      this.stats.indirectProbes++;
      this.outbox.send(h.addr, [{ type: 'pingReq', seq: probe.seq, target: target.id, targetAddr: target.addr, wantNack: true }], this.piggyback());
    }
  }

  /** Closes the probe in flight at the end of its interval: success, inconclusive, or suspect. */
  private finishProbe(now: TimeMs, lateMs: number): void {
    const probe = this.probe!;
    this.probe = undefined;
    this.timers.clear('probe-timeout');
    if (probe.acked) {
      this.awareness.apply(-1);
      return;
    }
    if (probe.inconclusive || lateMs > this.cfg.probeTimeoutMs / 2) {
      this.stats.probesInconclusive++;
      this.awareness.apply(1);
      return;
    }
    this.awareness.apply(probe.expectedNacks > 0 ? Math.max(0, probe.expectedNacks - probe.nacks) : 1);
    const target = this.table.get(probe.target);
    if (!target || target.incarnation !== probe.incarnation || (target.state !== 'alive' && target.state !== 'suspect')) return;
    this.stats.probesFailed++;
    this.onSuspect(now, { type: 'suspect', node: target.id, incarnation: target.incarnation, from: this.id });
  }

  private onPing(fromAddr: Address, seq: number, target: NodeId): void {
    // A ping meant for a previous owner of this address must not be acked by us.
    if (target !== this.id) {
      this.stats.misdirectedPings++;
      return;
    }
    this.outbox.send(fromAddr, [{ type: 'ack', seq }], this.piggyback());
  }

  private onPingReq(now: TimeMs, fromAddr: Address, seq: number, targetId: NodeId, wantNack: boolean): void {
    // Only probe members we know, at the address we know: never a third party named by a packet.
    const target = this.table.get(targetId);
    if (!target || target === this.self || target.state === 'dead' || target.state === 'left') return;
    const localSeq = this.nextSeq();
    if (!this.relays.add(localSeq, { to: fromAddr, seq, wantNack })) {
      this.stats.relaysDropped++;
      return;
    }
    this.outbox.send(target.addr, [{ type: 'ping', seq: localSeq, target: targetId }], this.piggyback());
    this.timers.set(`relay:${localSeq}`, now + Math.floor(this.cfg.probeTimeoutMs * 0.8));
  }

  private onAck(now: TimeMs, seq: number): void {
    const probe = this.probe;
    if (probe && probe.seq === seq) {
      probe.acked = true;
      const target = this.table.get(probe.target);
      if (target) target.lastHeardAt = now;
      this.timers.clear('probe-timeout');
      return;
    }
    const relay = this.relays.take(seq);
    if (relay) {
      this.timers.clear(`relay:${seq}`);
      this.outbox.send(relay.to, [{ type: 'ack', seq: relay.seq }], this.piggyback());
    }
  }

  private onNack(seq: number): void {
    if (this.probe && this.probe.seq === seq) this.probe.nacks++;
  }

  private onRelayTimeout(seq: number): void {
    const relay = this.relays.take(seq);
    if (relay?.wantNack) this.outbox.send(relay.to, [{ type: 'nack', seq: relay.seq }]);
  }

  // ---------------------------------------------------------------- state changes

  /**
   * @param firstHand false for a member first heard of in a third party's
   *   push/pull: its news is spread with a smaller budget (see mergeRemote).
   */
  private onAlive(now: TimeMs, msg: Alive, firstHand = true): void {
    if (msg.node === this.id) {
      // Someone claims a newer us (a previous life): out-bid it.
      if (msg.incarnation > this.self.incarnation && !this.leaving) this.refute(msg.incarnation);
      return;
    }
    const current = this.table.get(msg.node);
    if (!aliveOverrides(current, msg.incarnation)) return;
    if (!current) {
      if (this.table.size >= this.cfg.maxMembers) return;
      const m: Member = { id: msg.node, name: msg.name, addr: msg.addr, incarnation: msg.incarnation, state: 'alive', stateSince: now, lastHeardAt: undefined };
      this.table.add(m);
      this.events.push({ type: 'member', member: { ...m }, previous: 'none' });
      this.schedulePersist(now);
    } else {
      const previous = current.state;
      const moved = current.addr !== msg.addr || current.name !== msg.name;
      current.incarnation = msg.incarnation;
      this.table.setAddress(current, msg.addr);
      current.name = msg.name;
      if (previous === 'suspect') this.stats.suspicionsRefuted++;
      this.clearSuspicion(current.id);
      this.table.setState(current, 'alive', now);
      if (previous !== 'alive' || moved) this.events.push({ type: 'member', member: { ...current }, previous });
      // What is persisted is who is live and where: a suspect coming back changes neither.
      if (moved || previous === 'dead' || previous === 'left') this.schedulePersist(now);
    }
    this.broadcast(msg.node, msg, !firstHand && !current);
  }

  private onSuspect(now: TimeMs, msg: Suspect): void {
    if (msg.node === this.id) {
      if (msg.incarnation >= this.self.incarnation && !this.leaving) {
        this.awareness.apply(1);
        this.refute(msg.incarnation);
      }
      return;
    }
    const current = this.table.get(msg.node);
    if (!current) return;
    if (current.state === 'suspect' && msg.incarnation === current.incarnation) {
      const s = this.suspicions.get(current.id);
      if (s?.confirm(msg.from)) {
        this.timers.set(`suspect:${current.id}`, s.deadline());
        this.broadcast(current.id, msg);
      }
      return;
    }
    if (!suspectOverrides(current, msg.incarnation)) return;
    const previous = current.state;
    current.incarnation = msg.incarnation;
    this.table.setState(current, 'suspect', now);
    if (msg.from === this.id) this.stats.suspicionsRaised++;
    const n = this.table.liveCount();
    const minMs = suspicionMinMs(this.cfg.suspicionMult, n, this.cfg.probeIntervalMs);
    // Too few members to ever collect k confirmations: do not wait for them.
    const k = n - 2 < this.cfg.suspicionConfirmations ? 0 : this.cfg.suspicionConfirmations;
    const s = new Suspicion(now, minMs, minMs * this.cfg.suspicionMaxTimeoutMult, k, msg.from);
    this.suspicions.set(current.id, s);
    if (msg.from !== this.id && this.rng.next() * (n - 1) < k + 1) this.confirmNext = current.id;
    this.timers.set(`suspect:${current.id}`, s.deadline());
    this.events.push({ type: 'member', member: { ...current }, previous });
    this.broadcast(current.id, msg);
  }

  private onDead(now: TimeMs, msg: Dead): void {
    if (msg.node === this.id) {
      if (!this.leaving && msg.incarnation >= this.self.incarnation) this.refute(msg.incarnation);
      return;
    }
    const current = this.table.get(msg.node);
    if (!current || !deadOverrides(current, msg.incarnation)) return;
    const previous = current.state;
    current.incarnation = msg.incarnation;
    this.table.setState(current, msg.from === msg.node ? 'left' : 'dead', now);
    this.clearSuspicion(current.id);
    if (this.probe?.target === current.id) this.probe.acked = true; // nothing left to learn from it
    this.events.push({ type: 'member', member: { ...current }, previous });
    this.broadcast(current.id, msg);
    this.schedulePersist(now);
  }

  private onSuspicionTimeout(now: TimeMs, id: NodeId): void {
    const m = this.table.get(id);
    this.suspicions.delete(id);
    if (!m || m.state !== 'suspect') return;
    this.stats.deathsDeclared++;
    this.onDead(now, { type: 'dead', node: id, incarnation: m.incarnation, from: this.id });
  }

  private clearSuspicion(id: NodeId): void {
    this.suspicions.delete(id);
    this.timers.clear(`suspect:${id}`);
  }

  /** Answers a suspicion or death notice about us: alive, one incarnation above `seen`. */
  private refute(seen: number): void {
    this.stats.refutations++;
    this.raiseIncarnation(seen);
    this.events.push({ type: 'refuted', incarnation: this.self.incarnation });
  }

  /** Raises our incarnation above `seen`, tells everyone, and persists it before anything else. */
  private raiseIncarnation(seen: number): void {
    this.self.incarnation = Math.max(this.self.incarnation, seen) + 1;
    this.broadcast(this.id, this.selfAlive());
    this.persistNow();
  }

  private selfAlive(): Alive {
    return { type: 'alive', node: this.id, incarnation: this.self.incarnation, name: this.self.name, addr: this.self.addr };
  }

  // ---------------------------------------------------------------- dissemination

  /**
   * Queues news about a member for gossip. Second-hand news (see mergeRemote)
   * gets retransmitMult sends, the budget of a cluster under ten, instead of
   * retransmitMult · ceil(log10(n + 1)), and waits behind first-hand news.
   */
  private broadcast(about: NodeId, msg: Alive | Suspect | Dead, secondHand = false): void {
    const alreadySent = secondHand ? Math.max(0, this.piggyback().limit - this.cfg.retransmitMult) : 0;
    this.broadcasts.push(`m:${about}`, encodeMessage(msg), alreadySent);
    this.armGossip();
  }

  /** Arms the next gossip round on the grid after the latest input, unless one is armed (see gossipNextMs). */
  private armGossip(): void {
    if (this.timers.has('gossip')) return;
    const intervalMs = this.cfg.gossipIntervalMs;
    if (this.gossipNextMs <= this.lastNowMs) this.gossipNextMs += (Math.floor((this.lastNowMs - this.gossipNextMs) / intervalMs) + 1) * intervalMs;
    this.timers.set('gossip', this.gossipNextMs);
  }

  private piggyback(): Piggyback {
    return { queue: this.broadcasts, limit: retransmitLimit(this.cfg.retransmitMult, this.table.liveCount()) };
  }

  private onGossipTick(now: TimeMs): void {
    this.gossipNextMs = now + this.cfg.gossipIntervalMs;
    if (this.broadcasts.size === 0) return; // idle until the next broadcast (armGossip)
    this.timers.set('gossip', this.gossipNextMs);
    const targets = this.table.randomMembers(this.cfg.gossipFanout, (m) =>
      isLive(m) || (m.state === 'dead' && now - m.stateSince < this.cfg.gossipToTheDeadMs));
    const pb = this.piggyback();
    for (const t of targets) {
      // One datagram per target, more (up to the burst bound) while fresh news is still waiting.
      for (let i = 0; i < this.cfg.gossipBurstDatagrams; i++) {
        if (!this.outbox.sendBroadcasts(t.addr, pb)) break;
        if (this.broadcasts.unsent === 0) break;
      }
    }
  }

  // ---------------------------------------------------------------- push/pull, join, reconnect

  private onPushPullTick(now: TimeMs): void {
    const n = this.table.liveCount();
    const base = pushPullIntervalFor(this.cfg.pushPullIntervalMs, n);
    this.timers.set('push-pull', now + Math.floor(base * (0.75 + this.rng.next() / 2)));
    const [peer] = this.table.randomMembers(1, (m) => m.state === 'alive');
    if (peer) this.sendPushPull(peer.addr, false, false, this.nextSeq());
  }

  private onReconnectTick(now: TimeMs): void {
    this.timers.set('reconnect', now + Math.floor(this.cfg.reconnectIntervalMs * (0.75 + this.rng.next() / 2)));
    if (this.leaving) return;
    const [dead] = this.table.randomMembers(1, (m) => m.state === 'dead');
    if (dead) this.sendPushPull(dead.addr, false, false, this.nextSeq());
  }

  private sendJoin(now: TimeMs): void {
    const reqId = this.nextSeq();
    for (const addr of this.joinSeeds) this.sendPushPull(addr, true, false, reqId);
    const delay = Math.min(this.cfg.joinRetryMaxMs, this.cfg.joinRetryInitialMs * 2 ** this.joinAttempt);
    this.joinAttempt++;
    this.timers.set('join', now + delay);
  }

  private onJoinRetry(now: TimeMs): void {
    if (this.joined) return;
    this.sendJoin(now);
    this.events.push({ type: 'join-retry', attempt: this.joinAttempt, nextRetryMs: (this.timers.get('join') ?? now) - now });
  }

  private sendPushPull(to: Address, join: boolean, reply: boolean, reqId: number): void {
    this.stats.pushPulls++;
    const states: MemberState[] = [];
    for (const m of this.table.all()) states.push(memberState(m));
    for (const part of buildPushPullParts(states, { reqId, join, reply }, this.outbox.payloadBudgetBytes)) {
      this.outbox.send(to, [part]);
    }
  }

  private onPushPull(now: TimeMs, fromAddr: Address, fromId: NodeId, msg: PushPull): void {
    for (const s of msg.members) this.mergeRemote(now, fromId, s);
    if (!msg.reply && this.answered.firstTime(fromId, msg.reqId)) this.sendPushPull(fromAddr, false, true, msg.reqId);
    if (msg.reply && !this.joined) {
      this.markJoined();
      this.timers.clear('join');
    }
  }

  /**
   * Merges one remote entry as if it had arrived by gossip (memberlist's
   * mergeState), with one difference: news of a member we first hear of from
   * a third party's full state is second-hand. It is already spreading from
   * those who heard it first (the seed it joined through, and whoever heard
   * it from the seed), so we pass it on with a small budget, behind fresher
   * news.
   * Gossiping a whole table learned in a join at the full budget put a
   * thousand stale broadcasts in every joiner's queue at 1,000 members, and
   * real news waited behind them (the join took 16 s to settle, 14 s now);
   * not passing it on at all left the news of a member joined a moment
   * earlier to its few first-hand spreaders, and old members missed it. A
   * change to a member we knew (a newer incarnation, the dead coming back
   * after a partition) is news and spreads in full.
   */
  private mergeRemote(now: TimeMs, fromId: NodeId, s: MemberState): void {
    switch (s.state) {
      case 'alive':
        return this.onAlive(now, { type: 'alive', node: s.node, incarnation: s.incarnation, name: s.name, addr: s.addr }, s.node === fromId);
      case 'left':
        return this.onDead(now, { type: 'dead', node: s.node, incarnation: s.incarnation, from: s.node });
      // A remote "dead" is only a suspicion here, so the member gets its chance
      // to refute (this is also how each side of a healed partition learns the other lives).
      case 'suspect':
      case 'dead': {
        const known = this.table.get(s.node);
        if (!known && s.node !== this.id) {
          // First we hear of it: record it as the remote sees it, without gossiping a rumour.
          if (this.table.size >= this.cfg.maxMembers) return;
          this.table.add({ id: s.node, name: s.name, addr: s.addr, incarnation: s.incarnation, state: s.state, stateSince: now, lastHeardAt: undefined });
          return;
        }
        return this.onSuspect(now, { type: 'suspect', node: s.node, incarnation: s.incarnation, from: fromId });
      }
    }
  }

  private markJoined(): void {
    if (this.joined) return;
    this.joined = true;
    this.events.push({ type: 'joined', members: this.table.liveCount() });
    // Whom we now know must survive a crash right after joining, or a restart would start a new cluster.
    this.persistNow();
  }

  // ---------------------------------------------------------------- housekeeping

  private onReapTick(now: TimeMs): void {
    this.timers.set('reap', now + 60_000);
    for (const m of [...this.table.all()]) {
      if (m === this.self) continue;
      const age = now - m.stateSince;
      if ((m.state === 'dead' && age > this.cfg.reapDeadAfterMs) || (m.state === 'left' && age > this.cfg.reapLeftAfterMs)) {
        this.table.remove(m.id);
        this.broadcasts.invalidate(`m:${m.id}`);
        this.events.push({ type: 'member-removed', member: { ...m } });
        this.schedulePersist(now);
      }
    }
  }

  private schedulePersist(now: TimeMs): void {
    if (!this.timers.has('persist')) this.timers.set('persist', now + 5_000);
  }

  private persistNow(): void {
    this.timers.clear('persist');
    const members = [...this.table.all()]
      .filter((m) => m.state === 'alive' || m.state === 'suspect')
      .map((m) => ({ id: m.id, name: m.name, addr: m.addr }));
    const value: PersistedMembership = { incarnation: this.self.incarnation, members };
    if (!this.joined && this.joinSeeds.length > 0) value.seeds = [...this.joinSeeds];
    this.events.push({ type: 'persist', key: 'membership', value });
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) % 0x7fffffff;
    return this.seq;
  }
}

function isLive(m: Member): boolean {
  return isLiveState(m.state);
}
