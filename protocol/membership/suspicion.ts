/**
 * Lifeguard's dynamic suspicion timeout (Dadgar et al., "Lifeguard: Local
 * Health Awareness for More Accurate Failure Detection", 2018).
 *
 * A suspicion starts with a long timeout (max). Each *independent*
 * confirmation — another member telling us it suspects the same node at the
 * same incarnation — shrinks it logarithmically toward the minimum, reached at
 * `k` confirmations. A truly dead node collects confirmations fast (everyone's
 * probes fail); a falsely suspected one rarely does, so it keeps the long
 * timeout and has time to refute.
 */
import type { NodeId, TimeMs } from '../types.ts';

/** Minimum suspicion timeout for a cluster of n members. */
export function suspicionMinMs(suspicionMult: number, n: number, probeIntervalMs: number): number {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, n)));
  return Math.round(suspicionMult * nodeScale * probeIntervalMs);
}

/** Timeout after `confirmations` independent confirmations: max → min as C → k. */
export function suspicionTimeoutMs(minMs: number, maxMs: number, k: number, confirmations: number): number {
  if (k <= 0) return minMs;
  const frac = Math.log(confirmations + 1) / Math.log(k + 1);
  const raw = maxMs - frac * (maxMs - minMs);
  return Math.max(minMs, Math.floor(raw));
}

/** One running suspicion of one member. */
export class Suspicion {
  private readonly confirmers = new Set<NodeId>();

  /**
   * @param startedAt when we first suspected
   * @param k confirmations that bring the timeout to its minimum
   * @param firstFrom who raised it (does not count as a confirmation)
   */
  constructor(
    readonly startedAt: TimeMs,
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly k: number,
    firstFrom: NodeId,
  ) {
    this.confirmers.add(firstFrom);
  }

  /** Records a confirmation; true when it came from someone new (worth re-gossiping). */
  confirm(from: NodeId): boolean {
    if (this.confirmers.has(from)) return false;
    this.confirmers.add(from);
    return true;
  }

  get confirmations(): number {
    return this.confirmers.size - 1;
  }

  /** When the suspect is declared dead unless it refutes first. */
  deadline(): TimeMs {
    return this.startedAt + suspicionTimeoutMs(this.minMs, this.maxMs, this.k, Math.min(this.confirmations, this.k));
  }
}
