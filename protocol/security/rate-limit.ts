/**
 * Token buckets per key (a source address), in bounded memory.
 *
 * How this works: each key has a bucket of `burst` tokens refilled at
 * `perSecond`; `take(now, key)` spends one if there is one. Buckets live in
 * a Map in the order they were made; past `maxKeys` the oldest is forgotten
 * (it comes back full: the safe direction for a real source, and a flooder
 * gains one burst per eviction, which the global bucket bounds). Not
 * least-recently-used on purpose: refreshing the order costs a delete and
 * an insert on every datagram. Time is the driver's `now`; nothing here
 * reads a clock.
 */
import type { TimeMs } from '../types.ts';

export interface BucketConfig {
  /** Tokens added per second. */
  perSecond: number;
  /** Most tokens a bucket holds (the burst it allows). */
  burst: number;
  /** Keys remembered at once. */
  maxKeys: number;
}

interface Bucket {
  tokens: number;
  at: TimeMs;
}

export class TokenBuckets<K> {
  private readonly buckets = new Map<K, Bucket>();
  /** Keys forgotten to stay within maxKeys. */
  evicted = 0;

  constructor(private readonly cfg: BucketConfig) {}

  /** Spends one token of `key`'s bucket; false when it is empty (the caller drops the work and counts it). */
  take(now: TimeMs, key: K): boolean {
    let b = this.buckets.get(key);
    if (b) {
      b.tokens = Math.min(this.cfg.burst, b.tokens + ((now - b.at) * this.cfg.perSecond) / 1000);
      b.at = now;
    } else {
      b = { tokens: this.cfg.burst, at: now };
      if (this.buckets.size >= this.cfg.maxKeys) {
        this.buckets.delete(this.buckets.keys().next().value as K);
        this.evicted++;
      }
      this.buckets.set(key, b);
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  get size(): number {
    return this.buckets.size;
  }
}

/** One bucket (a global limit). */
export class TokenBucket {
  private tokens: number;
  private at: TimeMs | undefined;

  constructor(private readonly perSecond: number, private readonly burst: number) {
    this.tokens = burst;
  }

  take(now: TimeMs): boolean {
    if (this.at !== undefined) this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) * this.perSecond) / 1000);
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
