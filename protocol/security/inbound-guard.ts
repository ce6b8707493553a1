/**
 * The first thing every inbound datagram meets: rate limits, before any
 * decoding or cryptography, so that a flood costs us a map lookup per
 * datagram and never grows memory.
 *
 * How this works. A source address is `trusted` once a datagram from it
 * proved a key (a sealed cluster datagram that opened, a client request
 * whose credential verified), or, on a node without a key, when it is a
 * member's address. Trusted sources get a generous bucket each (catch-up
 * bursts, paged answers); every other source gets a small one, and all
 * strangers together share one global bucket, so that a flood from many
 * forged addresses is bounded too. Past a bucket the datagram is dropped
 * and counted as 'rate-limited'. Every map is bounded (rate-limit.ts): a
 * flood from a million addresses costs at most maxSources buckets.
 */
import type { Address, TimeMs } from '../types.ts';
import { TokenBucket, TokenBuckets } from './rate-limit.ts';

export interface InboundLimits {
  /** Datagrams a second, and the burst, from one source not yet authenticated. */
  strangerPerSecond: number;
  strangerBurst: number;
  /** Datagrams a second, and the burst, from all such sources together. */
  strangersPerSecond: number;
  strangersBurst: number;
  /** Datagrams a second, and the burst, from one authenticated source. */
  trustedPerSecond: number;
  trustedBurst: number;
  /** Sources remembered (buckets, and trusted addresses). */
  maxSources: number;
}

export const DEFAULT_INBOUND_LIMITS: InboundLimits = {
  strangerPerSecond: 200,
  strangerBurst: 400,
  strangersPerSecond: 5_000,
  strangersBurst: 10_000,
  trustedPerSecond: 20_000,
  trustedBurst: 40_000,
  maxSources: 4096,
};

export class InboundGuard {
  private readonly strangers: TokenBuckets<Address>;
  private readonly allStrangers: TokenBucket;
  private readonly trustedBuckets: TokenBuckets<Address>;
  private readonly trusted = new Map<Address, true>();
  readonly stats = { limited: 0 };

  constructor(readonly limits: InboundLimits = DEFAULT_INBOUND_LIMITS) {
    this.strangers = new TokenBuckets({ perSecond: limits.strangerPerSecond, burst: limits.strangerBurst, maxKeys: limits.maxSources });
    this.allStrangers = new TokenBucket(limits.strangersPerSecond, limits.strangersBurst);
    this.trustedBuckets = new TokenBuckets({ perSecond: limits.trustedPerSecond, burst: limits.trustedBurst, maxKeys: limits.maxSources });
  }

  /** Whether to look at a datagram from `from` at all; `member`: a member's address on a node without a key. */
  admit(now: TimeMs, from: Address, member = false): boolean {
    const ok = member || this.trusted.has(from)
      ? this.trustedBuckets.take(now, from)
      : this.strangers.take(now, from) && this.allStrangers.take(now);
    if (!ok) this.stats.limited++;
    return ok;
  }

  /** `from` proved a key: it gets the trusted bucket from now on. */
  authenticated(from: Address): void {
    if (this.trusted.has(from)) return;
    this.trusted.set(from, true);
    if (this.trusted.size > this.limits.maxSources) this.trusted.delete(this.trusted.keys().next().value as Address);
  }

  /** Sources with state, for metrics (each map is bounded by maxSources). */
  get sources(): number {
    return this.strangers.size + this.trustedBuckets.size;
  }
}
