/**
 * A transmit-limited broadcast queue, as memberlist's: every pending
 * broadcast carries how many times it has been sent; each datagram is filled
 * fewest-sent first (oldest first among equals), and a broadcast is dropped
 * once sent `limit` times. A newer broadcast with the same key (the same
 * member) replaces the older one, so the queue never carries two versions of
 * one member's state.
 *
 * Entries live in buckets by transmit count so filling a datagram costs
 * O(messages sent), not a sort of the whole queue.
 */

/**
 * Consecutive entries too large for the room left after which a fill stops.
 * Why: the datagram is then as good as full, and scanning on would cost
 * O(queue) per datagram — with a thousand queued broadcasts (a mass join)
 * that scan was most of the simulator's time.
 */
const MAX_MISSES = 16;

interface Entry {
  key: string;
  bytes: Uint8Array;
  transmits: number;
}

export class BroadcastQueue {
  private readonly byKey = new Map<string, Entry>();
  /** buckets[t] holds the entries sent t times, in insertion order. */
  private readonly buckets: Set<Entry>[] = [];
  private dropped = 0;

  /** @param maxEntries bound on pending broadcasts; past it the most-sent are dropped. */
  constructor(private readonly maxEntries: number) {}

  /**
   * Queues `bytes` (one encoded message) under `key`, replacing any older
   * one. `alreadySent` counts as transmits made: the entry gets that much
   * less of its budget, and waits behind fresher news.
   */
  push(key: string, bytes: Uint8Array, alreadySent = 0): void {
    const old = this.byKey.get(key);
    if (old) this.remove(old);
    // A copy of its own: `bytes` may be a view into a codec slab (byte-slab.ts), and a queued
    // broadcast lives for seconds; up to maxEntries of them must not each pin a whole slab.
    const entry: Entry = { key, bytes: bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice(), transmits: alreadySent };
    this.byKey.set(key, entry);
    this.bucket(alreadySent).add(entry);
    if (this.byKey.size > this.maxEntries) this.dropMostSent();
  }

  /** Drops the pending broadcast under `key`, if any. */
  invalidate(key: string): void {
    const old = this.byKey.get(key);
    if (old) this.remove(old);
  }

  /**
   * Takes broadcasts whose sizes sum to at most `maxBytes` (each costs its
   * length plus `perMessageOverheadBytes`), fewest-sent first, at most
   * `maxCount`; counts one transmit on each and retires those that reach
   * `limit`. Stops early once MAX_MISSES entries in a row do not fit.
   */
  take(maxBytes: number, limit: number, maxCount = 255, perMessageOverheadBytes = 0): Uint8Array[] {
    // Most pings and acks find nothing queued: skip the walk over every transmit-count bucket.
    if (this.byKey.size === 0) return [];
    const out: Uint8Array[] = [];
    const sent: Entry[] = [];
    let room = maxBytes;
    let misses = 0;
    for (let t = 0; t < this.buckets.length && out.length < maxCount && room > 0 && misses < MAX_MISSES; t++) {
      const bucket = this.buckets[t];
      if (!bucket || bucket.size === 0) continue;
      for (const entry of bucket) {
        const cost = entry.bytes.length + perMessageOverheadBytes;
        if (cost > room) {
          if (++misses >= MAX_MISSES) break;
          continue;
        }
        misses = 0;
        out.push(entry.bytes);
        sent.push(entry);
        room -= cost;
        if (out.length >= maxCount) break;
      }
    }
    for (const entry of sent) {
      this.bucket(entry.transmits).delete(entry);
      entry.transmits++;
      if (entry.transmits >= limit) this.byKey.delete(entry.key);
      else this.bucket(entry.transmits).add(entry);
    }
    return out;
  }

  /** Pending broadcasts. */
  get size(): number {
    return this.byKey.size;
  }

  /** Pending broadcasts never sent yet (a sign the queue is backed up). */
  get unsent(): number {
    return this.buckets[0]?.size ?? 0;
  }

  /** Broadcasts dropped because the queue was full. */
  get droppedCount(): number {
    return this.dropped;
  }

  private bucket(t: number): Set<Entry> {
    let b = this.buckets[t];
    if (!b) {
      for (let i = this.buckets.length; i <= t; i++) this.buckets.push(new Set());
      b = this.buckets[t]!;
    }
    return b;
  }

  private remove(entry: Entry): void {
    this.bucket(entry.transmits).delete(entry);
    this.byKey.delete(entry.key);
  }

  private dropMostSent(): void {
    for (let t = this.buckets.length - 1; t >= 0; t--) {
      const bucket = this.buckets[t];
      if (!bucket || bucket.size === 0) continue;
      const first = bucket.values().next().value as Entry;
      this.remove(first);
      this.dropped++;
      return;
    }
  }
}
