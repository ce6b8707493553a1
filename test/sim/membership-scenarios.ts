/**
 * The SWIM scenarios the issue asks for, as functions that run one seeded
 * simulation and return what they measured. The tests assert on the results
 * at CI size; the benchmarks run the same functions at full size and print
 * them.
 */
import type { ClusterNode } from '../../protocol/node.ts';
import type { NodeId } from '../../protocol/types.ts';
import { DEFAULT_MEMBERSHIP_CONFIG } from '../../protocol/membership/config.ts';
import { addStaggered, allSee, newCluster, nodeIdOf, range } from './membership-harness.ts';
import { simCrypto } from './sim-crypto.ts';
import type { Simulation } from './sim.ts';

const LOSSY = { lossRate: 0.1, delay: { kind: 'uniform', minMs: 1, maxMs: 50 } } as const;

/** Watches member events: which live members were ever marked dead, and by whom. */
function watchFalseDeaths(sim: Simulation<ClusterNode>, isReallyDown: (subject: number) => boolean): { count: () => number } {
  const index = new Map<NodeId, number>();
  let count = 0;
  sim.onEvent((e) => {
    if (e.type !== 'member' || e.member.state !== 'dead') return;
    if (index.size !== sim.size) for (let i = 0; i < sim.size; i++) index.set(nodeIdOf(i), i);
    const subject = index.get(e.member.id);
    if (subject !== undefined && !isReallyDown(subject)) count++;
  });
  return { count: () => count };
}

export interface JoinResult {
  seed: number;
  /** Virtual ms from the last node's start until every node lists every node alive. */
  convergedAfterLastJoinMs: number | undefined;
}

/** n nodes join through node 0, started evenly over `staggerMs`. */
export function joinScenario(seed: number, n: number, staggerMs: number, quiet = true): JoinResult {
  return joinCluster(seed, n, staggerMs, quiet).result;
}

/**
 * As `joinScenario`, also handing back the simulation, converged (when it
 * did), so a benchmark can measure more on a cluster that cost a minute to build.
 */
export function joinCluster(seed: number, n: number, staggerMs: number, quiet = true): { result: JoinResult; sim: Simulation<ClusterNode> } {
  const sim = newCluster({ seed, name: `join ${n}`, quiet });
  addStaggered(sim, n, staggerMs);
  sim.runUntil(staggerMs);
  const everyone = range(n);
  const ok = sim.runUntilCondition(() => allSee(sim, everyone, everyone, 'alive'), 120_000, 100);
  return { result: { seed, convergedAfterLastJoinMs: ok ? sim.now - staggerMs : undefined }, sim };
}

export interface DetectionResult {
  seed: number;
  firstSuspectMs: number;
  allDeadMs: number;
  falseDeaths: number;
}

/** n members, settled; one is crashed; how long until it is suspected, and until all mark it dead. */
export function detection(seed: number, n: number): DetectionResult {
  const sim = newCluster({ seed, name: `detection ${n}`, quiet: true });
  addStaggered(sim, n, 2000);
  sim.runUntilCondition(() => allSee(sim, range(n), range(n), 'alive'), 60_000);
  sim.runFor(5_000);
  const victim = n - 1;
  const victimId = nodeIdOf(victim);
  const falseDeaths = watchFalseDeaths(sim, (s) => s === victim);
  let firstSuspect = -1;
  const crashAt = sim.now;
  sim.onEvent((e) => {
    if (e.type === 'member' && e.member.id === victimId && e.member.state === 'suspect' && firstSuspect < 0) firstSuspect = sim.now - crashAt;
  });
  sim.crash(victim);
  const others = range(n - 1);
  sim.runUntilCondition(() => allSee(sim, others, [victim], 'dead'), 60_000, 10);
  return { seed, firstSuspectMs: firstSuspect, allDeadMs: sim.now - crashAt, falseDeaths: falseDeaths.count() };
}

export interface DisseminationResult {
  seed: number;
  /** Gossip rounds (gossip intervals) until every member holds the update. */
  rounds: number;
}

/** n members, settled; one announces a change; rounds until all n hold it. */
export function dissemination(seed: number, n: number, lossRate: number): DisseminationResult {
  const sim = newCluster({ seed, name: `dissemination ${n}`, quiet: true, network: { lossRate } });
  addStaggered(sim, n, 2000);
  const everyone = range(n);
  // With every node running this is countSeen(...) === n * n, stopping at the first miss.
  sim.runUntilCondition(() => lossRate > 0 || allSee(sim, everyone, everyone, 'alive'), 60_000);
  sim.runFor(lossRate > 0 ? 20_000 : 5_000);
  return { seed, rounds: updateRounds(sim, n, 1)[0]! };
}

/**
 * On a settled cluster of n (every node running): once no node has more
 * queued than one gossip datagram carries (a backlog would speed the
 * update up by bursting), `updates` changes announced one after another,
 * each by the next member from `firstOrigin`, 1 s after the previous one
 * reached everyone. Returns the gossip rounds each took to reach all n.
 */
export function updateRounds(sim: Simulation<ClusterNode>, n: number, updates: number, firstOrigin = 1): number[] {
  const everyone = range(n);
  const gossipMs = sim.core(0)!.config.gossipIntervalMs;
  sim.runUntilCondition(() => everyone.every((i) => sim.core(i)!.membership.broadcastQueueDepth <= QUIET_QUEUE), 60_000);
  const rounds: number[] = [];
  for (let u = 0; u < updates; u++) {
    if (u > 0) sim.runFor(1_000);
    const origin = 1 + ((firstOrigin - 1 + u) % (n - 1));
    let incarnation = 0;
    sim.poke(origin, (core, now) => {
      core.membership.announce(now, { name: 'renamed' });
      incarnation = core.membership.incarnation;
    });
    const start = sim.now;
    const originId = nodeIdOf(origin);
    sim.runUntilCondition(() => everyone.every((i) => (sim.core(i)!.membership.member(originId)?.incarnation ?? -1) >= incarnation), 60_000, 10);
    rounds.push(Math.ceil((sim.now - start) / gossipMs));
  }
  return rounds;
}

/** Fewer queued broadcasts than fit one datagram (alive messages are 40–60 bytes). */
const QUIET_QUEUE = 16;

export interface FalsePositiveResult {
  seed: number;
  falseDeaths: number;
  suspicionsRaised: number;
  refutations: number;
  /** How many times someone started suspecting the paused member. */
  pausedSuspected: number;
  /**
   * Suspicions the paused member raised because of its pause: those raised
   * after each resume before any probe it started awake could have ended
   * (one probe interval). Later ones are the lossy network's, which every
   * member raises now and then (and which are refuted).
   */
  suspicionsByPausedAfterResume: number;
}

/** Members on a lossy network for `minutes`; with `pause`, one member freezes 3 s once a minute. */
export function falsePositives(seed: number, opts: { members: number; minutes: number; pause: boolean; quiet?: boolean }): FalsePositiveResult {
  const n = opts.members;
  const sim = newCluster({ seed, name: `loss ${opts.pause ? 'pause ' : ''}${n}x${opts.minutes}m`, quiet: opts.quiet ?? true, network: LOSSY });
  addStaggered(sim, n, 2000);
  sim.runFor(15_000);
  const paused = 7;
  const pausedId = nodeIdOf(paused);
  const falseDeaths = watchFalseDeaths(sim, () => false);
  let pausedSuspected = 0;
  let afterResume = 0;
  sim.onEvent((e) => {
    if (e.type === 'member' && e.member.id === pausedId && e.member.state === 'suspect' && e.previous === 'alive') pausedSuspected++;
  });
  const raisedByPaused = () => sim.core(paused)?.membership.stats.suspicionsRaised ?? 0;
  const start = sim.now;
  if (opts.pause) {
    for (let m = 0; m < opts.minutes; m++) {
      const pauseAt = start + m * 60_000 + 30_000;
      let raisedAtResume = 0;
      sim.at(pauseAt, () => sim.pause(paused));
      sim.at(pauseAt + 3_000, () => {
        // Counted before resume(): its overdue timers fire inside it.
        raisedAtResume = raisedByPaused();
        sim.resume(paused);
      });
      sim.at(pauseAt + 3_000 + DEFAULT_MEMBERSHIP_CONFIG.probeIntervalMs - 1, () => {
        afterResume += raisedByPaused() - raisedAtResume;
      });
    }
  }
  const raisedBefore = range(n).reduce((a, i) => a + sim.core(i)!.membership.stats.suspicionsRaised, 0);
  const refutedBefore = range(n).reduce((a, i) => a + sim.core(i)!.membership.stats.refutations, 0);
  sim.runFor(opts.minutes * 60_000);
  return {
    seed,
    falseDeaths: falseDeaths.count(),
    suspicionsRaised: range(n).reduce((a, i) => a + sim.core(i)!.membership.stats.suspicionsRaised, 0) - raisedBefore,
    refutations: range(n).reduce((a, i) => a + sim.core(i)!.membership.stats.refutations, 0) - refutedBefore,
    pausedSuspected,
    suspicionsByPausedAfterResume: afterResume,
  };
}

export interface PartitionResult {
  seed: number;
  sidesMarkedDead: boolean;
  /** Virtual ms from the heal until every node lists every node alive. */
  healedAfterMs: number | undefined;
}

/** n members split in two halves for 2 minutes, then healed. */
export function partitionHeal(seed: number, n: number): PartitionResult {
  const sim = newCluster({ seed, name: `partition ${n}`, quiet: true });
  addStaggered(sim, n, 2000);
  sim.runUntilCondition(() => allSee(sim, range(n), range(n), 'alive'), 60_000);
  const a = range(n / 2);
  const b = range(n / 2, n / 2);
  sim.network.partition([a, b]);
  sim.runFor(120_000);
  const sidesMarkedDead = allSee(sim, a, b, 'dead') && allSee(sim, b, a, 'dead');
  sim.network.heal();
  const healAt = sim.now;
  const ok = sim.runUntilCondition(() => allSee(sim, range(n), range(n), 'alive'), 120_000, 100);
  return { seed, sidesMarkedDead, healedAfterMs: ok ? sim.now - healAt : undefined };
}

export interface CostResult {
  bytesPerSecPerMember: number;
  datagramsPerSecPerMember: number;
  maxDatagramBytes: number;
  wallMs: number;
}

/** A cluster key for keyed scenarios (the simulator's stand-in cipher: same sizes, not secure). */
const CLUSTER_KEY = new Uint8Array(32).fill(0x5a);

/**
 * n settled members for `minutes`: bytes each sends per second, push/pull
 * included. `keyed`: every datagram sealed under a cluster key (the seal's
 * bytes count, and the datagram budget holds with them).
 */
export function steadyStateCost(seed: number, n: number, minutes: number, keyed = false): CostResult {
  const security = keyed ? () => ({ crypto: simCrypto, keyFileKey: CLUSTER_KEY }) : undefined;
  const sim = newCluster({ seed, name: `cost ${n}${keyed ? ' keyed' : ''}`, quiet: true, security });
  addStaggered(sim, n, 2000);
  sim.runFor(30_000);
  const before = sim.totals();
  const t0 = performance.now();
  sim.runFor(minutes * 60_000);
  const after = sim.totals();
  const seconds = minutes * 60;
  return {
    bytesPerSecPerMember: (after.sentBytes - before.sentBytes) / n / seconds,
    datagramsPerSecPerMember: (after.sentDatagrams - before.sentDatagrams) / n / seconds,
    maxDatagramBytes: after.maxDatagramBytes,
    wallMs: performance.now() - t0,
  };
}
