/**
 * What one directed link does to one datagram: how long it takes (a delay
 * distribution), and how likely it is to be lost, duplicated or held back
 * past later datagrams (reordered).
 *
 * How this works: a `LinkConfig` is plain data a test writes; `compileLink`
 * turns it into a `CompiledLink` whose delay sampler has its constants
 * precomputed (the Pareto shape for the long tail), because sampling runs
 * once per datagram. All delays are whole milliseconds, like the clock the
 * cores see. Reordering already falls out of any random delay; the explicit
 * `reorderRate` adds a uniform extra hold of up to `reorderDelayMs` to a
 * fraction of datagrams so that even a fixed-delay link can reorder.
 */
import type { Rng } from '../../protocol/types.ts';
import { SimUsageError } from './checks.ts';

/** One-way delay of a datagram, in whole milliseconds. */
export type DelayDistribution =
  | { readonly kind: 'fixed'; readonly ms: number }
  | { readonly kind: 'uniform'; readonly minMs: number; readonly maxMs: number }
  /**
   * Pareto from `minMs`, shaped so half the datagrams take at most `medianMs`;
   * capped at `maxMs` (the cap stands in for the sender's own timeouts).
   */
  | { readonly kind: 'longTail'; readonly minMs: number; readonly medianMs: number; readonly maxMs: number };

/** How a directed link treats datagrams. Rates are probabilities in [0, 1]. */
export interface LinkConfig {
  readonly delay: DelayDistribution;
  readonly lossRate: number;
  /** Chance that a datagram that got through is delivered twice (each copy with its own delay). */
  readonly duplicateRate: number;
  /** Chance that a datagram is held back by an extra uniform 0..reorderDelayMs. */
  readonly reorderRate: number;
  readonly reorderDelayMs: number;
}

/** A LAN-like default: 1–5 ms, nothing lost, duplicated or held back. */
export const DEFAULT_LINK: LinkConfig = {
  delay: { kind: 'uniform', minMs: 1, maxMs: 5 },
  lossRate: 0,
  duplicateRate: 0,
  reorderRate: 0,
  reorderDelayMs: 0,
};

/** A LinkConfig made ready for per-datagram sampling. */
export class CompiledLink {
  private readonly kind: 0 | 1 | 2;
  private readonly a: number;
  private readonly b: number;
  private readonly c: number;
  readonly lossRate: number;
  readonly duplicateRate: number;
  readonly reorderRate: number;
  readonly reorderDelayMs: number;

  constructor(readonly config: LinkConfig) {
    const d = config.delay;
    if (d.kind === 'fixed') {
      requireDelay(d.ms >= 0, d);
      [this.kind, this.a, this.b, this.c] = [0, d.ms, 0, 0];
    } else if (d.kind === 'uniform') {
      requireDelay(d.minMs >= 0 && d.maxMs >= d.minMs, d);
      [this.kind, this.a, this.b, this.c] = [1, d.minMs, d.maxMs - d.minMs, 0];
    } else {
      requireDelay(d.minMs > 0 && d.medianMs > d.minMs && d.maxMs >= d.medianMs, d);
      // Pareto median = min * 2^(1/alpha), so alpha = ln 2 / ln(median/min).
      const alpha = Math.LN2 / Math.log(d.medianMs / d.minMs);
      [this.kind, this.a, this.b, this.c] = [2, d.minMs, -1 / alpha, d.maxMs];
    }
    for (const [name, p] of [
      ['lossRate', config.lossRate],
      ['duplicateRate', config.duplicateRate],
      ['reorderRate', config.reorderRate],
    ] as const) {
      if (!(p >= 0 && p <= 1)) throw new SimUsageError(`${name} must be in [0, 1], got ${p}`);
    }
    if (!(config.reorderDelayMs >= 0)) throw new SimUsageError(`reorderDelayMs must be >= 0, got ${config.reorderDelayMs}`);
    this.lossRate = config.lossRate;
    this.duplicateRate = config.duplicateRate;
    this.reorderRate = config.reorderRate;
    this.reorderDelayMs = config.reorderDelayMs;
  }

  /** One draw of the one-way delay, whole milliseconds, including any reorder hold. */
  sampleDelayMs(rng: Rng): number {
    let ms: number;
    if (this.kind === 0) ms = this.a;
    else if (this.kind === 1) ms = this.a + rng.next() * this.b;
    else ms = Math.min(this.c, this.a * Math.pow(1 - rng.next(), this.b));
    if (this.reorderRate > 0 && rng.next() < this.reorderRate) ms += rng.next() * this.reorderDelayMs;
    return Math.round(ms);
  }
}

function requireDelay(ok: boolean, d: DelayDistribution): void {
  if (!ok) throw new SimUsageError(`delay distribution makes no sense: ${JSON.stringify(d)}`);
}

/** `base` with `patch` laid over it, compiled. */
export function compileLink(base: LinkConfig, patch?: Partial<LinkConfig>): CompiledLink {
  return new CompiledLink(patch === undefined ? base : { ...base, ...patch });
}
