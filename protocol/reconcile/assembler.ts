/**
 * Reassembling a numbered stream of fixed-size units (coded symbols, list
 * items) that arrives in chunks which may be lost, duplicated, reordered, or
 * overlap when a retransmission asks for a range cut differently.
 *
 * How this works: only the contiguous prefix matters to the consumer, so a
 * chunk that starts at or before the prefix is consumed at once (from the
 * prefix on), and one that starts later waits, bounded by a look-ahead window
 * so that a confused or hostile peer cannot make us buffer without limit.
 * `gaps` lists what is still missing below a target, for the retry.
 */

/** Receives `count` units starting at the current prefix, from `bytes` at `offset`. */
export type Consume = (bytes: Uint8Array, offset: number, count: number) => void;

export class ChunkAssembler {
  private readonly pending = new Map<number, Uint8Array>();
  private pendingUnits = 0;
  /** Units consumed so far, contiguous from 0. */
  prefix = 0;

  constructor(
    private readonly unitBytes: number,
    private readonly consume: Consume,
    private readonly maxAheadUnits: number,
  ) {}

  /** Offers units [at, at + bytes.length/unitBytes); returns false when dropped as malformed or too far ahead. */
  accept(at: number, bytes: Uint8Array): boolean {
    if (!Number.isSafeInteger(at) || at < 0 || bytes.length % this.unitBytes !== 0) return false;
    const count = bytes.length / this.unitBytes;
    if (at + count <= this.prefix) return true; // a duplicate of what we have
    if (at > this.prefix) {
      if (at + count > this.prefix + this.maxAheadUnits || this.pendingUnits + count > this.maxAheadUnits) return false;
      const held = this.pending.get(at);
      if (!held || held.length < bytes.length) {
        this.pendingUnits += count - (held ? held.length / this.unitBytes : 0);
        this.pending.set(at, bytes);
      }
      return true;
    }
    this.take(at, bytes);
    this.drain();
    return true;
  }

  /** Missing ranges [from, upTo) below `end`, at most `limit` of them. */
  gaps(end: number, limit: number): [number, number][] {
    const out: [number, number][] = [];
    const starts = [...this.pending.keys()].sort((a, b) => a - b);
    let cursor = this.prefix;
    for (const at of starts) {
      if (out.length >= limit || cursor >= end) return out;
      if (at > cursor) out.push([cursor, Math.min(at, end)]);
      cursor = Math.max(cursor, at + this.pending.get(at)!.length / this.unitBytes);
    }
    if (cursor < end && out.length < limit) out.push([cursor, end]);
    return out;
  }

  private take(at: number, bytes: Uint8Array): void {
    const skip = this.prefix - at;
    const count = bytes.length / this.unitBytes - skip;
    this.consume(bytes, skip * this.unitBytes, count);
    this.prefix += count;
  }

  /** Consumes every pending chunk that now touches the prefix; forgets those wholly behind it. */
  private drain(): void {
    let progressed = true;
    while (progressed) {
      progressed = false;
      for (const [at, bytes] of this.pending) {
        if (at > this.prefix) continue;
        this.pending.delete(at);
        this.pendingUnits -= bytes.length / this.unitBytes;
        if (at + bytes.length / this.unitBytes > this.prefix) this.take(at, bytes);
        progressed = true;
      }
    }
  }
}
