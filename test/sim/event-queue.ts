/**
 * The simulator's agenda: a binary min-heap of entries ordered by
 * (time, seq).
 *
 * How this works: `push` stamps each entry with the next insertion number
 * (`seq`), so two entries due at the same virtual millisecond pop in the
 * order they were pushed, whatever the heap's internal layout. That total
 * order is what makes a run replay exactly from its seed. The heap is one
 * array of caller-owned plain records sifted in place ("hole" sifting: the
 * moving entry is written once, at the end), so push and pop are O(log n)
 * with no allocation beyond the record itself.
 */

/** What the queue orders by; `seq` is assigned by `push`. */
export interface Timed {
  time: number;
  seq: number;
}

/** A min-heap on (time, seq). */
export class EventQueue<T extends Timed> {
  private readonly heap: T[] = [];
  private nextSeq = 0;

  /** Number of entries waiting. */
  get size(): number {
    return this.heap.length;
  }

  /** Adds `entry` (its `time` already set); stamps and returns its `seq`. */
  push(entry: T): number {
    const seq = this.nextSeq++;
    entry.seq = seq;
    const heap = this.heap;
    let i = heap.length;
    heap.push(entry);
    const time = entry.time;
    // Sift up: ties can never favour the newcomer, its seq is the largest.
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (parent.time <= time) break;
      heap[i] = parent;
      i = parentIndex;
    }
    heap[i] = entry;
    return seq;
  }

  /** Time of the earliest entry; Infinity when empty. */
  peekTime(): number {
    const top = this.heap[0];
    return top === undefined ? Infinity : top.time;
  }

  /** The earliest entry without removing it. */
  peek(): T | undefined {
    return this.heap[0];
  }

  /** Removes and returns the earliest entry (lowest time, then lowest seq). */
  pop(): T | undefined {
    const heap = this.heap;
    const top = heap[0];
    if (top === undefined) return undefined;
    const last = heap.pop()!;
    const n = heap.length;
    if (n > 0) this.siftDown(last, n);
    return top;
  }

  /** Drops every entry; seq keeps counting so order stays total across clears. */
  clear(): void {
    this.heap.length = 0;
  }

  private siftDown(entry: T, n: number): void {
    const heap = this.heap;
    const time = entry.time;
    const seq = entry.seq;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      let c = heap[child]!;
      const right = child + 1;
      if (right < n) {
        const r = heap[right]!;
        if (r.time < c.time || (r.time === c.time && r.seq < c.seq)) {
          child = right;
          c = r;
        }
      }
      if (time < c.time || (time === c.time && seq < c.seq)) break;
      heap[i] = c;
      i = child;
    }
    heap[i] = entry;
  }
}
