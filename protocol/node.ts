/**
 * One cluster node's protocol core: decodes each datagram once (dropping and
 * counting what is malformed or foreign), hands its messages to the component
 * that owns them, and exposes the sans-I/O contract of sans-io.ts to the
 * daemon and the simulator. Components (membership, replication, the client
 * protocol) share one Outbox and one header.
 *
 * Events: at the end of every input the node collects its components'
 * events into its own queue, notes the ones subscribers care about
 * (contacts and members changed) and queues the pushes they make, so a
 * change is pushed in the same drain that reports it (and, like any
 * datagram, only after the write it reports is durable: the driver holds
 * transmits behind its commit barrier).
 */
import { DECODE_FAILURES, decodePacket, encodeMessage, packetOverhead, type DecodeFailure } from './wire/codec.ts';
import { Outbox } from './outbox.ts';
import { Reassembler } from './fragments.ts';
import type { SansIoCore } from './sans-io.ts';
import { parseAddress, type Address, type ClientChannel, type NodeId, type Rng, type TimeMs, type Transmit } from './types.ts';
import { DEFAULT_MEMBERSHIP_CONFIG, type MembershipConfig } from './membership/config.ts';
import { Membership, type MembershipEvent, type PersistedMembership } from './membership/membership.ts';
import type { MemberView } from './membership/member-table.ts';
import { DEFAULT_REPLICATION_CONFIG, Replication, type ReplicationConfig, type ReplicationEvent } from './replication/replication.ts';
import type { ContactStore } from './contacts/store.ts';
import { MemoryStore } from './contacts/memory-store.ts';
import { ClientService } from './client/client-service.ts';
import { DEFAULT_SUBSCRIPTION_CONFIG, memberInfo, PUSH_OVERHEAD_BYTES, Subscriptions, type PushSource, type SubscriptionConfig } from './client/subscriptions.ts';
import { view } from './contacts/view.ts';
import { SecurityService, type NodeSecurityInit, type SecurityDrop, type SecurityEvent } from './security/security-service.ts';
import { SEAL_OVERHEAD_BYTES, SEALED_V1 } from './security/envelope.ts';
import { ClientGate, isLocalAddress, roleNeeded, type ClientDrop, type ClientIdentity } from './security/client-auth.ts';
import { ANONYMOUS, ANSWER_OVERHEAD_BYTES, CLIENT_REQUEST_V1, PLAIN_ANSWER_OVERHEAD_BYTES } from './security/client-envelope.ts';
import { roleAllows } from './security/credentials.ts';
import { DEFAULT_INBOUND_LIMITS, InboundGuard, type InboundLimits } from './security/inbound-guard.ts';
import { isAdminOp, runAdminOp, type AdminResult } from './security/admin-ops.ts';
import { parseJson, toAsciiJson } from './client/json.ts';
import type { ClientReq, ClientRes } from './wire/messages.ts';

export type NodeConfig = MembershipConfig & ReplicationConfig & SubscriptionConfig;
export const DEFAULT_NODE_CONFIG: NodeConfig = { ...DEFAULT_MEMBERSHIP_CONFIG, ...DEFAULT_REPLICATION_CONFIG, ...DEFAULT_SUBSCRIPTION_CONFIG };

export type NodeEvent = MembershipEvent | ReplicationEvent | SecurityEvent;

export interface NodeInit {
  id: NodeId;
  /** Address other nodes reach us at (the advertised one). */
  addr: Address;
  config?: Partial<NodeConfig>;
  rng: Rng;
  now: TimeMs;
  /** What a previous life of this node persisted, if any. */
  restored?: {
    membership?: PersistedMembership | undefined;
    /** The contact store as persisted (journaling on); a fresh empty one when absent. */
    store?: ContactStore | undefined;
  };
  /** Cluster keys and the cryptography to use them; absent: a plain node (no key, loopback only in the daemon). */
  security?: NodeSecurityInit | undefined;
  /** Rate limits on inbound datagrams (inbound-guard.ts). */
  inboundLimits?: Partial<InboundLimits> | undefined;
  /** This host's addresses the node binds and advertises (hosts only); `addr`'s host is always one. See isLocalAddress. */
  ownHosts?: readonly string[] | undefined;
}

/** Datagram counters, by outcome. */
export interface NodeStats {
  datagramsIn: number;
  bytesIn: number;
  /** Datagrams for a client whose credential was revoked meanwhile: not sent. */
  withheld: number;
  dropped: Partial<Record<NodeDropReason, number>>;
}

/** Why the node dropped an inbound datagram (or, for unknown-message, a message in one). */
export type NodeDropReason =
  | DecodeFailure | SecurityDrop | ClientDrop | 'from-self' | 'unknown-message' | 'stray-client-message'
  /** A client request its credential's role does not allow (answered with `forbidden`). */
  | 'forbidden'
  /** Over a rate limit (inbound-guard.ts): dropped before anything looked at it. */
  | 'rate-limited'
  /** A sealed datagram whose packet names another sender than its seal. */
  | 'sender-mismatch'
  /** A sealed datagram at a node without a key. */
  | 'no-key'
  /** A client request envelope from a member's address: forged (see handleClientDatagram). */
  | 'client-from-member';

/** Every inbound drop reason, for metrics that pre-register labels. */
export const NODE_DROP_REASONS: readonly NodeDropReason[] = [
  ...DECODE_FAILURES, 'unauthenticated', 'unknown-key', 'bad-seal', 'replay', 'stale-epoch', 'stale-receiver', 'derive-limited',
  'wrong-receiver', 'client-malformed', 'auth-required', 'client-replay', 'client-retarget', 'forbidden', 'rate-limited',
  'from-self', 'unknown-message', 'stray-client-message', 'sender-mismatch', 'no-key', 'client-from-member',
];

/** A member asking in a sealed datagram: it holds the cluster key. */
const MEMBER: ClientIdentity = { credential: 'member', role: 'admin' };
/** An anonymous client in a plain packet (a node without a key, or a rolling upgrade). */
const ANONYMOUS_WRITER: ClientIdentity = { credential: ANONYMOUS, role: 'write' };

export class ClusterNode implements SansIoCore<NodeEvent> {
  readonly id: NodeId;
  readonly config: NodeConfig;
  readonly membership: Membership;
  readonly replication: Replication;
  readonly client: ClientService;
  readonly subscriptions: Subscriptions;
  readonly outbox: Outbox;
  /** Keys, sealing and opening; undefined on a plain node. */
  readonly security: SecurityService | undefined;
  /** Who a client is and how to answer it (client-auth.ts). */
  readonly clientGate: ClientGate;
  /** Rate limits in front of everything (inbound-guard.ts). */
  readonly guard: InboundGuard;
  private readonly ownHosts: ReadonlySet<string>;
  readonly stats: NodeStats = { datagramsIn: 0, bytesIn: 0, withheld: 0, dropped: {} };
  private readonly reassembler = new Reassembler();
  private readonly events: NodeEvent[] = [];
  private readonly pushSource: PushSource;
  private readonly clientReassembler = new Reassembler();
  /** Fragments that arrived sealed are joined apart from plain ones: a plain piece must never complete a sealed packet. */
  private readonly sealedReassembler = new Reassembler();

  constructor(init: NodeInit) {
    this.id = init.id;
    this.config = { ...DEFAULT_NODE_CONFIG, ...init.config };
    this.ownHosts = new Set([parseAddress(init.addr)?.host ?? '', ...(init.ownHosts ?? [])].map((h) => h.toLowerCase()).filter((h) => h !== ''));
    const header = { cluster: this.config.clusterName, from: init.id };
    // A keyed node's datagrams grow by the seal (or a client answer's envelope): the packets inside stay within the
    // budget with it. A plain node keeps its budget (and its gossip exactly as before); only its answers to anonymous
    // clients grow, by PLAIN_ANSWER_OVERHEAD_BYTES (14: 1,414 bytes at the default, well within Ethernet's 1,472).
    // Packet ids a thousand apart per millisecond of start time: each life of the node uses its own (outbox.ts).
    this.outbox = new Outbox(
      header,
      this.config.datagramBudgetBytes - (init.security ? Math.max(SEAL_OVERHEAD_BYTES, ANSWER_OVERHEAD_BYTES) : 0),
      undefined,
      (init.now * 1000) % 2 ** 32,
    );
    this.membership = new Membership({
      id: init.id, addr: init.addr, config: this.config, rng: init.rng, outbox: this.outbox, now: init.now,
      restored: init.restored?.membership,
      // Catch-up requests ride on probes (built when the probe goes out; replication exists by then).
      probeRider: (now, target, roomBytes) => this.replication.catchUpRequestFor(now, target, roomBytes),
    });
    const membership = this.membership;
    this.security = init.security && new SecurityService({
      id: init.id, cluster: this.config.clusterName, security: init.security, outbox: this.outbox, rng: init.rng, now: init.now,
      members: () => membership.memberViews(), broadcast: (key, encoded) => membership.enqueueBroadcast(key, encoded),
      member: (id) => membership.member(id), memberAt: (addr) => membership.memberAt(addr),
    });
    this.replication = new Replication({
      id: init.id, rng: init.rng, outbox: this.outbox, now: init.now, config: this.config,
      peers: {
        live: membersWhere(() => membership.membersVersion, membership, (m) => m.id !== init.id && m.state === 'alive'),
        // Views are live objects: a change of state needs no new list, only a member added or removed does.
        all: membersWhere(() => membership.memberSetVersion, membership, () => true),
        joined: () => membership.isJoined,
      },
      store: init.restored?.store ?? new MemoryStore({ journal: true }),
    });
    this.subscriptions = new Subscriptions(init.rng, this.config);
    this.client = new ClientService({
      id: init.id, header, outbox: this.outbox, replication: this.replication, subscriptions: this.subscriptions,
      members: () => membership.members(), member: (id) => membership.member(id),
      nodeStats: () => ({
        badInput: this.badInput(),
        node: this.stats, membership: membership.stats, replication: this.replication.stats,
        subscriptions: { ...this.subscriptions.stats, active: this.subscriptions.size },
        outbox: { datagramsSent: this.outbox.datagramsSent, bytesSent: this.outbox.bytesSent, droppedFull: this.outbox.droppedFull, repliesCapped: this.outbox.repliesCapped },
      }),
    });
    this.guard = new InboundGuard({ ...DEFAULT_INBOUND_LIMITS, ...init.inboundLimits });
    const security = this.security;
    this.clientGate = new ClientGate({
      crypto: init.security?.crypto, self: init.id, epoch: security?.packets.epoch ?? 0,
      access: () => (!security ? 'open' : security.mode === 'require' ? 'required' : 'optional'),
      credentials: () => security?.credentials, isLocal: (a) => this.isLocal(a),
    });
    this.pushSource = {
      contact: (id) => {
        const s = this.replication.store.get(id);
        return s && view(s);
      },
      memberInfo: (m) => memberInfo(m, init.id, this.nowMs),
    };
  }

  private nowMs: TimeMs = 0;

  /**
   * Input dropped because it was malformed, foreign or misdirected, by
   * reason, every reason listed (zeros too, so an operator sees what is
   * checked): datagrams the codec refused, messages of unknown types
   * skipped, client messages sent to a server, replicated states that did
   * not parse, fragmented packets never completed, and client requests
   * refused as malformed or of an unknown op.
   */
  badInput(): { total: number; byReason: Record<string, number> } {
    const byReason: Record<string, number> = {};
    for (const r of NODE_DROP_REASONS) byReason[r] = this.stats.dropped[r] ?? 0;
    byReason['bad-state'] = this.replication.stats.badStates;
    byReason['fragments-incomplete'] = this.reassembler.dropped + this.sealedReassembler.dropped;
    byReason['client-bad-request'] = this.client.stats.errorsByCode['bad-request'] ?? 0;
    byReason['client-unknown-op'] = this.client.stats.errorsByCode['unknown-op'] ?? 0;
    let total = 0;
    for (const n of Object.values(byReason)) total += n;
    return { total, byReason };
  }

  /** Starts joining through `seeds` (see Membership.join). */
  join(now: TimeMs, seeds: Address[]): void {
    this.membership.join(now, seeds);
    this.settle(now);
  }

  /** Starts a graceful leave; a `left` event follows. */
  leave(now: TimeMs): void {
    this.membership.leave(now);
    this.settle(now);
  }

  handleDatagram(now: TimeMs, from: Address, bytes: Uint8Array): void {
    this.stats.datagramsIn++;
    this.stats.bytesIn += bytes.length;
    this.receive(now, from, bytes);
    this.settle(now);
  }

  private receive(now: TimeMs, from: Address, bytes: Uint8Array): void {
    // Rate limits come first: a flood costs a lookup per datagram, nothing more. Members have a lane of their own.
    if (!this.guard.admit(now, from, this.isMemberAddress(from))) return this.drop('rate-limited');
    if (bytes[0] === CLIENT_REQUEST_V1) return this.handleClientDatagram(now, from, bytes);
    if (!this.security) {
      if (bytes[0] === SEALED_V1) return this.drop('no-key');
      return this.handlePlainPacket(now, from, bytes);
    }
    // Nothing is decoded before security has admitted it.
    const admitted = this.security.admit(now, from, bytes);
    if (!admitted.ok) return this.drop(admitted.reason);
    if (!admitted.sealedBy) return this.handlePlainPacket(now, from, admitted.packet);
    this.guard.authenticated(now, from);
    this.handlePacketBytes(now, from, admitted.packet, false, admitted.sealedBy);
  }

  /**
   * A plain packet (a node without a key, or a rolling upgrade's modes):
   * it proves nothing, so while its source is not a member (a join makes it
   * one midway) nor on this host, what it draws back is no larger than it
   * is and carries no gossip: a stranger's ping gets a bare ack, or nothing
   * when a sealed one would be larger; an anonymous `list` gets no page.
   * (A forged join still draws the member list to the address it names:
   * whoever takes plain datagrams lets anyone join; see README, Security.)
   */
  private handlePlainPacket(now: TimeMs, from: Address, bytes: Uint8Array): void {
    if (this.isMemberAddress(from) || this.isLocal(from)) return this.handlePacketBytes(now, from, bytes, false, undefined);
    const sealedOut = this.security !== undefined && this.security.mode !== 'accept';
    const cap = { to: from, maxBytes: bytes.length - (sealedOut ? SEAL_OVERHEAD_BYTES : 0), applies: () => !this.isMemberAddress(from) };
    this.outbox.withReplyCap(cap, () => this.handlePacketBytes(now, from, bytes, false, undefined));
  }

  /** Whether `a` is on this host (loopback, or an address of ours). */
  private isLocal(a: Address): boolean {
    return isLocalAddress(a, this.ownHosts);
  }

  /** Whether `a` is the address of a member we list, in any state (the member table's index: asked for every datagram). */
  private isMemberAddress(a: Address): boolean {
    return this.membership.isMemberAddress(a);
  }


  /**
   * Handles one plain packet; `sealedBy` is the sender its seal proved
   * (undefined: it came plain). What a sealed packet makes us send goes to
   * its sender's address in the member table, not to the datagram's source:
   * a recording replayed from a forged source (where the replay windows
   * still let it through: a first contact, once per receiver) must not make
   * us send anything to that source. A sender we do not know yet (a node
   * joining) is answered at the source.
   */
  private handlePacketBytes(now: TimeMs, source: Address, bytes: Uint8Array, reassembled: boolean, sealedBy: NodeId | undefined): void {
    const result = decodePacket(bytes, this.config.clusterName);
    if (!result.ok) return this.drop(result.reason);
    const packet = result.packet;
    // Skipped unknown message types are a newer peer's additions, not an attack: count, keep the rest.
    if (result.unknownMessages > 0) this.stats.dropped['unknown-message'] = (this.stats.dropped['unknown-message'] ?? 0) + result.unknownMessages;
    if (packet.from === this.id) return this.drop('from-self');
    if (sealedBy !== undefined && packet.from !== sealedBy) return this.drop('sender-mismatch');
    const from = (sealedBy !== undefined ? this.membership.member(sealedBy)?.addr : undefined) ?? source;
    this.membership.heardFrom(now, packet.from);
    for (const msg of packet.messages) {
      if (msg.type === 'frag') {
        // A reassembled packet made of pieces again is nobody's honest traffic.
        if (reassembled) return this.drop('bad-schema');
        const whole = (sealedBy ? this.sealedReassembler : this.reassembler).add(now, packet.from, msg);
        if (whole) this.handlePacketBytes(now, source, whole, true, sealedBy);
        // A member (it proved the cluster key) may ask anything; a plain packet is an anonymous client's.
      } else if (msg.type === 'clientReq') this.handleClientRequest(now, from, packet.from, msg, bytes.length, sealedBy ? MEMBER : ANONYMOUS_WRITER);
      // Servers never ask anything of clients: a response or a push here is misdirected.
      else if (msg.type === 'clientRes' || msg.type === 'clientPush') this.drop('stray-client-message');
      else if (msg.type.startsWith('rep') || msg.type.startsWith('rc')) this.replication.handleMessage(now, from, packet.from, msg);
      else if (msg.type === 'secState' || msg.type === 'secDigest' || msg.type === 'keyStatus') {
        // Keyring news only counts from a member that proved it holds a key.
        if (!this.security) this.drop('no-key');
        else if (!sealedBy) this.drop('unauthenticated');
        else this.security.handleMessage(now, from, sealedBy, msg);
      }
      else this.membership.handleMessage(now, from, packet.from, msg);
    }
  }

  /**
   * A client request envelope: the gate decides who it is; only client
   * requests (and their pieces) are taken from it. One from a member's
   * address is forged (the member's socket owns it, and members talk in
   * sealed or plain cluster packets): it is dropped unanswered.
   */
  private handleClientDatagram(now: TimeMs, from: Address, bytes: Uint8Array): void {
    if (this.isMemberAddress(from)) return this.drop('client-from-member');
    const r = this.clientGate.admit(now, from, bytes);
    if (!r.ok) {
      this.drop(r.reason);
      if (r.answer) this.outbox.pushRaw(from, r.answer);
      return;
    }
    if (r.who.credential !== ANONYMOUS) this.guard.authenticated(now, from);
    // An answer in the envelope grows by it (a plain one to an anonymous client: PLAIN_ANSWER_OVERHEAD_BYTES).
    this.handleClientPacket(now, from, r.packet, r.who, r.channel, bytes.length - PLAIN_ANSWER_OVERHEAD_BYTES, false);
  }

  private handleClientPacket(now: TimeMs, from: Address, bytes: Uint8Array, who: ClientIdentity, channel: ClientChannel, requestBytes: number, reassembled: boolean): void {
    const result = decodePacket(bytes, this.config.clusterName);
    if (!result.ok) return this.drop(result.reason);
    for (const msg of result.packet.messages) {
      if (msg.type === 'clientReq') this.handleClientRequest(now, from, result.packet.from, msg, requestBytes, who, channel);
      else if (msg.type === 'frag' && !reassembled) {
        const whole = this.clientReassembler.add(now, result.packet.from, msg);
        if (whole) this.handleClientPacket(now, from, whole, who, channel, requestBytes, true);
      } else this.drop('client-malformed'); // a client has nothing else to say
    }
  }

  /**
   * Runs one client request if `who` may: admin ops here, the rest in the
   * client service. Answers go back on `channel` (the client envelope it
   * came in), or, for a request in a cluster packet, as cluster packets do.
   */
  private handleClientRequest(now: TimeMs, from: Address, fromId: NodeId, msg: ClientReq, requestBytes: number, who: ClientIdentity, channel?: ClientChannel): void {
    // An op nobody serves is answered unknown-op by the client service, whoever asks.
    const needed = isAdminOp(msg.op) || this.client.knows(msg.op) ? roleNeeded(msg.op) : 'read';
    const allowed = who.role === 'bootstrap' ? msg.op === 'credentials.bootstrap' : roleAllows(who.role, needed);
    if (!allowed) {
      this.drop('forbidden');
      const message = who.role === 'bootstrap'
        ? `this cluster has no client credentials yet: make the first admin with \`contacts credentials bootstrap\` on a member's host, then use it (--credential-file or CONTACTS_CREDENTIAL)`
        : who.credential === ANONYMOUS
        ? `${msg.op} needs a credential with role ${needed}: give one (CONTACTS_CREDENTIAL or --credential-file; an admin makes it with contacts credentials create --role ${needed})`
        : `credential ${who.credential} has role ${who.role}; ${msg.op} needs ${needed}: ask an admin for a ${needed} credential (contacts credentials create --role ${needed})`;
      return this.answerClient(from, channel, msg.reqId, { ok: false, code: 'forbidden', message }, who.credential === ANONYMOUS ? requestBytes : undefined);
    }
    // An anonymous client on another host proved nothing: no answer to it is larger than its request.
    const capped = who.credential === ANONYMOUS && !this.isLocal(from);
    if (!isAdminOp(msg.op)) return this.client.handleRequest(now, from, fromId, msg, requestBytes, channel, capped);
    const args = parseJson(msg.args);
    const obj = args.ok && typeof args.value === 'object' && args.value !== null && !Array.isArray(args.value) ? (args.value as Record<string, unknown>) : undefined;
    this.answerClient(from, channel, msg.reqId, obj ? runAdminOp(this.security, now, msg.op, obj) : { ok: false, code: 'bad-request', message: `args of ${msg.op} must be a JSON object` });
  }

  /** Answers a client; to an anonymous one (`maxBytes` given), an error never larger than its request: cut to its code, or not sent. */
  private answerClient(to: Address, channel: ClientChannel | undefined, reqId: number, r: AdminResult, maxBytes?: number): void {
    const res = (result: unknown): ClientRes => ({ type: 'clientRes', reqId, ok: r.ok, result: toAsciiJson(result), cursor: '', more: false });
    let answer = res(r.ok ? r.result : { code: r.code, message: r.message });
    if (maxBytes !== undefined && !r.ok) {
      // (`maxBytes` already leaves room for the answer envelope: handleClientDatagram.)
      const size = (m: ClientRes) => packetOverhead(this.outbox.header, 1) + encodeMessage(m).length;
      if (size(answer) > maxBytes) answer = res({ code: r.code, message: '' });
      if (size(answer) > maxBytes) return;
    }
    if (channel) this.outbox.sendToClient(to, [answer], channel);
    else this.outbox.send(to, [answer]);
  }

  handleTimeout(now: TimeMs): void {
    this.membership.handleTimeout(now);
    this.replication.handleTimeout(now);
    this.security?.handleTimeout(now);
    this.subscriptions.handleTimeout(now);
    this.settle(now);
  }

  pollTransmit(): Transmit | undefined {
    for (let t = this.outbox.poll(); t; t = this.outbox.poll()) {
      if (t.raw) return t;
      if (!t.client) return this.security ? this.security.seal(t) : t;
      // To a client: in the envelope of the request it answers, under that credential's key.
      const bytes = this.clientGate.wrap(t.client, t.bytes);
      if (bytes) return { to: t.to, bytes };
      this.stats.withheld++; // revoked since: never in the clear, never under the cluster key
    }
    return undefined;
  }

  pollEvent(): NodeEvent | undefined {
    // Events of a component called directly (membership.announce) are pushed at the next input.
    return this.events.shift() ?? this.collectOne();
  }

  pollTimeout(): TimeMs | undefined {
    const components = earliest(earliest(this.membership.pollTimeout(), this.replication.pollTimeout()), this.subscriptions.pollTimeout());
    return earliest(components, this.security?.pollTimeout());
  }

  /** Collects the components' events and sends subscribers what they report. */
  private settle(now: TimeMs): void {
    this.nowMs = now;
    for (let e = this.collectOne(); e !== undefined; e = this.collectOne()) this.events.push(e);
    const budget = this.outbox.payloadBudgetBytes - PUSH_OVERHEAD_BYTES;
    for (const { to, push, channel } of this.subscriptions.flush(now, this.pushSource, budget)) {
      if (channel) this.outbox.sendToClient(to, [push], channel);
      else this.outbox.send(to, [push]);
    }
  }

  /** One component event, noted for subscribers. */
  private collectOne(): NodeEvent | undefined {
    const e = this.security?.pollEvent() ?? this.membership.pollEvent() ?? this.replication.pollEvent();
    if (e === undefined) return undefined;
    if (e.type === 'contact-changed') this.subscriptions.noteContact(e.id);
    else if (e.type === 'member') this.subscriptions.noteMember(e.member, e.previous);
    else if (e.type === 'member-removed') this.subscriptions.noteForgotten(e.member);
    else if (e.type === 'refuted') {
      const self = this.membership.member(this.id);
      if (self) this.subscriptions.noteMember(self, 'alive');
    }
    return e;
  }

  private drop(reason: NodeDropReason): void {
    this.stats.dropped[reason] = (this.stats.dropped[reason] ?? 0) + 1;
  }
}

/** The earlier of two optional deadlines. */
function earliest(a: TimeMs | undefined, b: TimeMs | undefined): TimeMs | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

/**
 * The members `keep` accepts, as a list rebuilt only when `versionOf()`
 * moves (keep must depend on nothing else): replication asks for its peers
 * every second, and copying every member each time was a tenth of a
 * simulated hour at 100 nodes. The list is shared between calls: read it,
 * do not change it.
 */
function membersWhere(versionOf: () => number, membership: Membership, keep: (m: MemberView) => boolean): () => MemberView[] {
  let version = -1;
  let list: MemberView[] = [];
  return () => {
    const now = versionOf();
    if (version !== now) {
      list = [];
      for (const m of membership.memberViews()) if (keep(m)) list.push(m);
      version = now;
    }
    return list;
  };
}
