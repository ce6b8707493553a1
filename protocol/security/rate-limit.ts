/**
 * Token buckets per key (a source address), in bounded memory.
 *
 * How this works: each key has a bucket of `burst` tokens refilled at
 * `perSecond`; `take(now, key)` spends one if there is one. Buckets live in
 * a Map; past `maxKeys` the first in the Map's order is forgotten (it comes
 * back full). By default that order is the order buckets were made: a
 * flooder gains one burst per eviction, which a global bucket bounds, and
 * nothing costs more than a lookup per datagram. With `lru`, every take
 * moves its key to the end, so the keys forgotten are the least recently
 * used: for sources that earned a wide lane, which a crowd of newcomers
 * must not push out while they keep talking. Time is the driver's `now`;
 * nothing here reads a clock.
 */
import type { TimeMs } from '../types.ts';

export interface BucketConfig {
  /** Tokens added per second. */
  perSecond: number;
  /** Most tokens a bucket holds (the burst it allows). */
  burst: number;
  /** Keys remembered at once. */
  maxKeys: number;
  /** Forget the least recently used key first (else the oldest made). */
  lru?: boolean;
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
      if (this.cfg.lru) {
        this.buckets.delete(key);
        this.buckets.set(key, b);
      }
    } else {
      b = this.add(now, key);
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  has(key: K): boolean {
    return this.buckets.has(key);
  }

  /** Gives `key` a full bucket unless it has one (a source that just earned this lane). */
  ensure(now: TimeMs, key: K): void {
    if (!this.buckets.has(key)) this.add(now, key);
  }

  private add(now: TimeMs, key: K): Bucket {
    const b = { tokens: this.cfg.burst, at: now };
    if (this.buckets.size >= this.cfg.maxKeys) {
      this.buckets.delete(this.buckets.keys().next().value as K);
      this.evicted++;
    }
    this.buckets.set(key, b);
    return b;
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
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /**
   * Takes `n` tokens when at least min(n, burst) are there (more than the
   * burst goes into debt, repaid before the next take) and returns 0; else
   * takes none and returns how long until the `n` are there, ms.
   */
  takeOrWait(now: TimeMs, n: number): number {
    this.refill(now);
    if (this.tokens >= Math.min(n, this.burst)) {
      this.tokens -= n;
      return 0;
    }
    return Math.ceil(((n - this.tokens) * 1000) / this.perSecond);
  }

  private refill(now: TimeMs): void {
    if (this.at !== undefined) this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) * this.perSecond) / 1000);
    this.at = now;
  }
}
