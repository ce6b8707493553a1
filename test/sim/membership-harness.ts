/**
 * Builds simulated clusters of real protocol cores (ClusterNode) and reads
 * their membership views, for the SWIM scenarios and benchmarks.
 *
 * Node i has a fixed id derived from i (stable across restarts, as the
 * daemon's persisted id is); node 0 bootstraps the cluster, every other
 * node joins through node 0 unless told otherwise; a restarted node is
 * handed what it persisted and rejoins through the members it last knew.
 */
import { ClusterNode, type NodeConfig } from '../../protocol/node.ts';
import type { PersistedMembership } from '../../protocol/membership/membership.ts';
import { MemoryStore } from '../../protocol/contacts/memory-store.ts';
import type { ContactState } from '../../protocol/contacts/state.ts';
import type { DotCloud, VersionVector } from '../../protocol/contacts/dots.ts';
import type { Hlc } from '../../protocol/contacts/hlc.ts';
import type { TombstoneFence } from '../../protocol/contacts/gc.ts';
import type { ContactId } from '../../protocol/contacts/ids.ts';
import type { MemberStateName } from '../../protocol/wire/messages.ts';
import type { Address, NodeId } from '../../protocol/types.ts';
import type { LinkConfig } from './link-model.ts';
import type { NodeContext, NodeFactory } from './node-slot.ts';
import type { SecurityCrypto } from '../../protocol/security/crypto.ts';
import type { NodeSecurityInit, SecurityConfig, SecurityMode } from '../../protocol/security/security-service.ts';
import { securityFromJson } from '../../protocol/security/security-state.ts';
import { Simulation } from './sim.ts';

/** Node i's id: stable, distinct, 16 hex digits. */
export function nodeIdOf(i: number): NodeId {
  // Memoised: convergence checks ask for n² ids every 100 virtual ms.
  return (nodeIds[i] ??= (0x1000000 + i).toString(16).padStart(16, '0') as NodeId);
}
const nodeIds: NodeId[] = [];

export interface ClusterOptions {
  seed: number;
  name?: string;
  config?: Partial<NodeConfig>;
  network?: Partial<LinkConfig>;
  /** Seeds for a node that joins (default: node 0; node 0 itself bootstraps). */
  seedsFor?: (index: number, sim: Simulation<ClusterNode>) => Address[];
  /** Builds a node's store from its durable map (default: restoreStore). */
  storeFactory?: (storage: ReadonlyMap<string, unknown>) => MemoryStore;
  /** Keyed nodes: the security a node starts with (its ring and peer epochs come from its durable map). */
  security?: (ctx: NodeContext) => SimSecurity | undefined;
  quiet?: boolean;
}

/** What a keyed simulated node starts with; the rest is restored from its storage. */
export interface SimSecurity {
  crypto: SecurityCrypto;
  mode?: SecurityMode;
  /** As if given by --key-file. */
  keyFileKey?: Uint8Array;
  config?: Partial<SecurityConfig>;
}

/** A keyed node's security init: epoch = starts + 1 (the slot keeps `starts` across crashes), ring and epochs from storage. */
export function restoreSecurity(ctx: NodeContext, s: SimSecurity): NodeSecurityInit {
  const saved = ctx.storage.get('security');
  const state = saved === undefined ? undefined : securityFromJson(saved);
  if (typeof state === 'string') throw new Error(`node ${ctx.index}: persisted security state unreadable: ${state}`);
  return {
    crypto: s.crypto, epoch: ctx.starts + 1, mode: s.mode, keyFileKey: s.keyFileKey, config: s.config,
    restored: { state, peerEpochs: ctx.storage.get('peer-epochs') as Record<string, number> | undefined },
  };
}

/** A factory building ClusterNodes that join at start and restore what they persisted. */
export function clusterFactory(opts: ClusterOptions, sim: () => Simulation<ClusterNode>): NodeFactory<ClusterNode> {
  return (ctx) => {
    const restored = ctx.storage.get('membership') as PersistedMembership | undefined;
    const store = (opts.storeFactory ?? restoreStore)(ctx.storage);
    const security = opts.security?.(ctx);
    const node = new ClusterNode({
      security: security && restoreSecurity(ctx, security),
      id: nodeIdOf(ctx.index),
      addr: ctx.address,
      rng: ctx.rng,
      now: ctx.now(),
      config: { nodeName: `n${ctx.index}`, ...opts.config },
      restored: { membership: restored, store },
    });
    const seeds = opts.seedsFor ? opts.seedsFor(ctx.index, sim()) : ctx.index === 0 ? [] : [sim().address(0)];
    node.join(ctx.now(), restored ? [] : seeds);
    return node;
  };
}

/**
 * Rebuilds a node's contact store from what its persist events left in the
 * durable map, in the order the daemon's SQLite load uses: index floor,
 * then every state at once (bulkLoad), then the rest. Old lives come in
 * the order their keys were first written (the durable map keeps a key's
 * place), not of their last change as in SQLite, and the map keeps every
 * one: the same while a node has forgotten fewer than FORGOTTEN_KEPT
 * contacts, which no simulation comes near.
 */
export function restoreStore(storage: ReadonlyMap<string, unknown>, store = new MemoryStore({ journal: true })): MemoryStore {
  const floor = storage.get('index-floor');
  if (floor) store.pruneIndex(floor as VersionVector);
  const states: ContactState[] = [];
  for (const [key, value] of storage) if (key.startsWith('contact:') && value) states.push(value as ContactState);
  store.bulkLoad(states);
  for (const [key, value] of storage) {
    if (value === null || value === undefined) continue;
    if (key.startsWith('fence:')) store.setFence(key.slice(6) as ContactId, value as TombstoneFence);
    else if (key.startsWith('old-life:')) store.rememberOldLife(key.slice(9) as ContactId, value as VersionVector);
    else if (key === 'applied') store.addApplied(value as DotCloud);
    else if (key === 'clock') store.setClock(value as Hlc);
  }
  store.drainChanges();
  return store;
}

/** A simulation with no nodes yet; add them with `sim.addNode()` or `addNodes`. */
export function newCluster(opts: ClusterOptions): Simulation<ClusterNode> {
  // eslint-disable-next-line prefer-const
  let sim: Simulation<ClusterNode>;
  sim = new Simulation<ClusterNode>({
    seed: opts.seed,
    name: opts.name,
    quiet: opts.quiet,
    network: opts.network,
    factory: clusterFactory(opts, () => sim),
    // Contact states and membership snapshots are never mutated after they are persisted.
    persistByReference: true,
    describeEvent: describeNodeEvent,
  });
  return sim;
}

/** Adds `n` nodes spread evenly over `overMs` from now (all at once when 0). */
export function addStaggered(sim: Simulation<ClusterNode>, n: number, overMs: number): void {
  for (let k = 0; k < n; k++) {
    const at = sim.now + (n <= 1 ? 0 : Math.floor((overMs * k) / (n - 1)));
    if (at === sim.now) sim.addNode();
    else sim.at(at, () => sim.addNode());
  }
}

/** Node i's core, or undefined while it is crashed or not yet started. */
export function coreOf(sim: Simulation<ClusterNode>, i: number): ClusterNode | undefined {
  return i < sim.size ? sim.core(i) : undefined;
}

/** What node `observer` believes about node `subject` (undefined: never heard of it). */
export function stateSeenBy(sim: Simulation<ClusterNode>, observer: number, subject: number): MemberStateName | undefined {
  return coreOf(sim, observer)?.membership.member(nodeIdOf(subject))?.state;
}

/** True when every running node in `observers` sees every node in `subjects` in `state`. */
export function allSee(sim: Simulation<ClusterNode>, observers: number[], subjects: number[], state: MemberStateName): boolean {
  // Convergence loops poll this every 100 virtual ms, and the pair that failed last
  // time usually still fails: trying it first gives the same answer without a scan
  // of up to n² pairs (at 1,000 nodes that scan was a tenth of the run).
  const miss = lastMiss.get(sim);
  if (miss && miss.state === state && observers.includes(miss.o) && subjects.includes(miss.s) && !pairSees(sim, miss.o, miss.s, state)) return false;
  for (const o of observers) {
    if (o >= sim.size) return false;
    const core = sim.core(o);
    if (!core) continue;
    for (const s of subjects) {
      if (core.membership.member(nodeIdOf(s))?.state !== state) {
        lastMiss.set(sim, { o, s, state });
        return false;
      }
    }
  }
  return true;
}

/** Per simulation, the pair at which `allSee` last found a node not seeing another as asked. */
const lastMiss = new WeakMap<Simulation<ClusterNode>, { o: number; s: number; state: MemberStateName }>();

/** allSee for one pair: a crashed observer counts as seeing, one not yet added does not. */
function pairSees(sim: Simulation<ClusterNode>, o: number, s: number, state: MemberStateName): boolean {
  if (o >= sim.size) return false;
  const core = sim.core(o);
  return !core || core.membership.member(nodeIdOf(s))?.state === state;
}

/** Counts (observer, subject) pairs where a running observer sees a subject in `state`. */
export function countSeen(sim: Simulation<ClusterNode>, observers: number[], subjects: number[], state: MemberStateName): number {
  let n = 0;
  for (const o of observers) {
    const core = coreOf(sim, o);
    if (!core) continue;
    for (const s of subjects) if (core.membership.member(nodeIdOf(s))?.state === state) n++;
  }
  return n;
}

/** Indices 0..n-1. */
export function range(n: number, from = 0): number[] {
  return Array.from({ length: n }, (_, i) => from + i);
}

/** Compact trace text for membership events (persist events carry whole member lists). */
function describeNodeEvent(e: ClusterNode extends { pollEvent(): infer E } ? NonNullable<E> : never): string {
  switch (e.type) {
    case 'member': return `member ${e.member.id} ${e.previous}->${e.member.state}@${e.member.incarnation}`;
    case 'member-removed': return `removed ${e.member.id}`;
    case 'persist': return `persist ${e.key}`;
    case 'key-file-retired': return `key-file-retired ${e.keyId}`;
    case 'key-file-unused': return `key-file-unused ${e.keyId} ${e.reason}`;
    case 'key-alert': return `key-alert ${e.keyId} from ${e.from}`;
    case 'keyring-changed': return `keyring ${e.keys.join(',')} primary ${e.primary}`;
    case 'contact-changed': return `contact ${e.id} ${e.state.entries.length}`;
    default: return JSON.stringify(e);
  }
}
