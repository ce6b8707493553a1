/**
 * Lifeguard's local health multiplier. A node that misses acks and nacks, is
 * itself suspected, or finds its own timers firing late is probably the slow
 * one (CPU starved, GC pause, saturated link); it stretches its own probe
 * interval and timeouts rather than accusing healthy peers.
 */
export class Awareness {
  private score = 0;

  constructor(private readonly max: number) {}

  /** Moves the score by `delta`, clamped to [0, max - 1]. */
  apply(delta: number): void {
    this.score = Math.min(this.max - 1, Math.max(0, this.score + delta));
  }

  /** Current health score; 0 is healthy. */
  get health(): number {
    return this.score;
  }

  /** Scales a timeout by (score + 1). */
  scale(ms: number): number {
    return ms * (this.score + 1);
  }
}
