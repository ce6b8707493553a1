/**
 * Membership timing and sizing. Defaults are LAN values (probe every 1 s,
 * probe timeout 500 ms, gossip every 200 ms), as memberlist's LAN profile,
 * except the suspicion multiplier, which is lower: Lifeguard's shrinking
 * suspicion timeout (many independent confirmations → the minimum) lets us
 * declare a crashed node dead faster without more false positives, because a
 * lone false suspicion still runs for the long maximum and gets refuted.
 */

export interface MembershipConfig {
  /** Cluster name carried in every datagram; packets of another cluster are dropped. */
  clusterName: string;
  /** This node's human name (shown to users; not an identity). */
  nodeName: string;
  /** Largest datagram we send, bytes. */
  datagramBudgetBytes: number;

  /** How often we probe one member. Scaled by local health (Lifeguard). */
  probeIntervalMs: number;
  /** How long we wait for a direct ack before asking others. Scaled by local health. */
  probeTimeoutMs: number;
  /** How many members we ask to probe on our behalf (ping-req). */
  indirectChecks: number;
  /**
   * Datagrams carrying the second direct ping, sent with the ping-reqs when
   * the first went unanswered (memberlist sends it over TCP, which retries).
   * Why two: at 10% loss each way a round trip fails one time in five, and
   * every false suspicion costs a suspect and a refutation gossiped to every
   * member (about 2,000 datagrams at 100 members); two copies make the direct
   * retry fail about one time in 28 instead of one in five, for one more ping (and
   * ack) per unanswered probe. A crashed member answers neither: detection
   * is unchanged.
   */
  directRetryCopies: number;

  /** How often we gossip pending broadcasts. */
  gossipIntervalMs: number;
  /** How many members we gossip to each round. */
  gossipFanout: number;
  /** At most this many datagrams per target per gossip round when the queue is backed up. */
  gossipBurstDatagrams: number;
  /** Dead members keep receiving gossip this long, so they can learn of it and refute. */
  gossipToTheDeadMs: number;
  /** Each broadcast is sent retransmitMult · ceil(log10(n + 1)) times. */
  retransmitMult: number;
  /** Bound on pending broadcasts; past it the most-sent ones are dropped first. */
  broadcastQueueMax: number;

  /** Suspicion minimum = suspicionMult · max(1, log10(n)) · probeInterval. */
  suspicionMult: number;
  /** Suspicion maximum = suspicionMaxTimeoutMult · minimum (Lifeguard starts here). */
  suspicionMaxTimeoutMult: number;
  /** Independent confirmations that bring a suspicion down to its minimum. */
  suspicionConfirmations: number;

  /** Lifeguard local health: timeouts scale by (score + 1), score in [0, max]. */
  awarenessMaxMultiplier: number;

  /** Full-state exchange with a random member, every this long (scaled up past 32 members). */
  pushPullIntervalMs: number;
  /** How often we try to reach one dead member again, so a healed partition merges. */
  reconnectIntervalMs: number;
  /** Dead members are forgotten after this long (left ones after reapLeftAfterMs). */
  reapDeadAfterMs: number;
  reapLeftAfterMs: number;

  /** Join retries: first delay, doubling up to the max. */
  joinRetryInitialMs: number;
  joinRetryMaxMs: number;
  /** Graceful leave: how long we keep gossiping our own departure before reporting done. */
  leavePropagateMs: number;

  /** Bounds on state that grows with traffic. */
  maxMembers: number;
  maxRelayedProbes: number;
}

export const DEFAULT_MEMBERSHIP_CONFIG: MembershipConfig = {
  clusterName: 'contacts',
  nodeName: 'node',
  datagramBudgetBytes: 1400,

  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  indirectChecks: 3,
  directRetryCopies: 2,

  gossipIntervalMs: 200,
  gossipFanout: 3,
  gossipBurstDatagrams: 4,
  gossipToTheDeadMs: 30_000,
  retransmitMult: 6,
  broadcastQueueMax: 4096,

  suspicionMult: 1.5,
  suspicionMaxTimeoutMult: 4,
  suspicionConfirmations: 2,

  awarenessMaxMultiplier: 8,

  pushPullIntervalMs: 30_000,
  reconnectIntervalMs: 10_000,
  reapDeadAfterMs: 24 * 3600_000,
  reapLeftAfterMs: 3600_000,

  joinRetryInitialMs: 1000,
  joinRetryMaxMs: 30_000,
  leavePropagateMs: 1500,

  maxMembers: 10_000,
  maxRelayedProbes: 1024,
};

/** Number of times each broadcast is sent in a cluster of n members (λ·log n). */
export function retransmitLimit(mult: number, n: number): number {
  return mult * Math.max(1, Math.ceil(Math.log10(n + 1)));
}

/** memberlist's push/pull scaling: one extra interval per doubling past 32 members. */
export function pushPullIntervalFor(baseMs: number, n: number): number {
  const threshold = 32;
  if (n <= threshold) return baseMs;
  return (Math.ceil(Math.log2(n) - Math.log2(threshold)) + 1) * baseMs;
}
