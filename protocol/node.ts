/**
 * One cluster node's protocol core: decodes each datagram once (dropping and
 * counting what is malformed or foreign), hands its messages to the component
 * that owns them, and exposes the sans-I/O contract of sans-io.ts to the
 * daemon and the simulator. Components (membership, replication, the client
 * protocol) share one Outbox and one header.
 */
import { decodePacket, type DecodeFailure } from './wire/codec.ts';
import { Outbox } from './outbox.ts';
import { Reassembler } from './fragments.ts';
import type { SansIoCore } from './sans-io.ts';
import type { Address, NodeId, Rng, TimeMs, Transmit } from './types.ts';
import { DEFAULT_MEMBERSHIP_CONFIG, type MembershipConfig } from './membership/config.ts';
import { Membership, type MembershipEvent, type PersistedMembership } from './membership/membership.ts';
import type { MemberView } from './membership/member-table.ts';
import { DEFAULT_REPLICATION_CONFIG, Replication, type ReplicationConfig, type ReplicationEvent } from './replication/replication.ts';
import type { ContactStore } from './contacts/store.ts';
import { MemoryStore } from './contacts/memory-store.ts';
import { ClientService } from './client/client-service.ts';

export type NodeConfig = MembershipConfig & ReplicationConfig;
export const DEFAULT_NODE_CONFIG: NodeConfig = { ...DEFAULT_MEMBERSHIP_CONFIG, ...DEFAULT_REPLICATION_CONFIG };

export type NodeEvent = MembershipEvent | ReplicationEvent;

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
}

/** Datagram counters, by outcome. */
export interface NodeStats {
  datagramsIn: number;
  bytesIn: number;
  dropped: Partial<Record<DecodeFailure | 'from-self' | 'unknown-message' | 'stray-client-response', number>>;
}

export class ClusterNode implements SansIoCore<NodeEvent> {
  readonly id: NodeId;
  readonly config: NodeConfig;
  readonly membership: Membership;
  readonly replication: Replication;
  readonly client: ClientService;
  readonly outbox: Outbox;
  readonly stats: NodeStats = { datagramsIn: 0, bytesIn: 0, dropped: {} };
  private readonly reassembler = new Reassembler();

  constructor(init: NodeInit) {
    this.id = init.id;
    this.config = { ...DEFAULT_NODE_CONFIG, ...init.config };
    const header = { cluster: this.config.clusterName, from: init.id };
    this.outbox = new Outbox(header, this.config.datagramBudgetBytes);
    this.membership = new Membership({
      id: init.id, addr: init.addr, config: this.config, rng: init.rng, outbox: this.outbox, now: init.now,
      restored: init.restored?.membership,
    });
    const membership = this.membership;
    this.replication = new Replication({
      id: init.id, rng: init.rng, outbox: this.outbox, now: init.now, config: this.config,
      peers: {
        live: membersWhere(membership, (m) => m.id !== init.id && m.state === 'alive'),
        all: membersWhere(membership, () => true),
        joined: () => membership.isJoined,
      },
      store: init.restored?.store ?? new MemoryStore({ journal: true }),
    });
    this.client = new ClientService({
      id: init.id, header, outbox: this.outbox, replication: this.replication,
      members: () => membership.members(), member: (id) => membership.member(id),
      nodeStats: () => ({ node: this.stats, membership: membership.stats, replication: this.replication.stats }),
    });
  }

  /** Starts joining through `seeds` (see Membership.join). */
  join(now: TimeMs, seeds: Address[]): void {
    this.membership.join(now, seeds);
  }

  /** Starts a graceful leave; a `left` event follows. */
  leave(now: TimeMs): void {
    this.membership.leave(now);
  }

  handleDatagram(now: TimeMs, from: Address, bytes: Uint8Array): void {
    this.stats.datagramsIn++;
    this.stats.bytesIn += bytes.length;
    this.handlePacketBytes(now, from, bytes, false);
  }

  private handlePacketBytes(now: TimeMs, from: Address, bytes: Uint8Array, reassembled: boolean): void {
    const result = decodePacket(bytes, this.config.clusterName);
    if (!result.ok) return this.drop(result.reason);
    const packet = result.packet;
    // Skipped unknown message types are a newer peer's additions, not an attack: count, keep the rest.
    if (result.unknownMessages > 0) this.stats.dropped['unknown-message'] = (this.stats.dropped['unknown-message'] ?? 0) + result.unknownMessages;
    if (packet.from === this.id) return this.drop('from-self');
    this.membership.heardFrom(now, packet.from);
    for (const msg of packet.messages) {
      if (msg.type === 'frag') {
        // A reassembled packet made of pieces again is nobody's honest traffic.
        if (reassembled) return this.drop('bad-schema');
        const whole = this.reassembler.add(now, packet.from, msg);
        if (whole) this.handlePacketBytes(now, from, whole, true);
      } else if (msg.type === 'clientReq') this.client.handleRequest(now, from, packet.from, msg, bytes.length);
      // Servers never ask anything of clients: a response here is misdirected.
      else if (msg.type === 'clientRes') this.drop('stray-client-response');
      else if (msg.type.startsWith('rep') || msg.type.startsWith('rc')) this.replication.handleMessage(now, from, packet.from, msg);
      else this.membership.handleMessage(now, from, packet.from, msg);
    }
  }

  handleTimeout(now: TimeMs): void {
    this.membership.handleTimeout(now);
    this.replication.handleTimeout(now);
  }

  pollTransmit(): Transmit | undefined {
    return this.outbox.poll();
  }

  pollEvent(): NodeEvent | undefined {
    return this.membership.pollEvent() ?? this.replication.pollEvent();
  }

  pollTimeout(): TimeMs | undefined {
    const a = this.membership.pollTimeout();
    const b = this.replication.pollTimeout();
    return a === undefined ? b : b === undefined ? a : Math.min(a, b);
  }

  private drop(reason: keyof NodeStats['dropped']): void {
    this.stats.dropped[reason] = (this.stats.dropped[reason] ?? 0) + 1;
  }
}

/**
 * The members `keep` accepts, as a list rebuilt only when the membership
 * changed: replication asks for its peers every second, and copying every
 * member each time was a tenth of a simulated hour at 100 nodes. The list is
 * shared between calls: read it, do not change it.
 */
function membersWhere(membership: Membership, keep: (m: MemberView) => boolean): () => MemberView[] {
  let version = -1;
  let list: MemberView[] = [];
  return () => {
    if (version !== membership.membersVersion) {
      list = [];
      for (const m of membership.memberViews()) if (keep(m)) list.push(m);
      version = membership.membersVersion;
    }
    return list;
  };
}
