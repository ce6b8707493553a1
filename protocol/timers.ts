/**
 * Timers as data: a table of named deadlines. The core sets and clears
 * entries; the driver asks for the earliest one (`next`) and calls back with
 * the current time; `due(now)` pops every entry whose deadline has passed, in
 * deadline order (ties by name, so runs replay exactly).
 */
import type { TimeMs } from './types.ts';

export class TimerTable<K extends string = string> {
  private readonly deadlines = new Map<K, TimeMs>();

  /** Arms (or re-arms) timer `key` for `at`. */
  set(key: K, at: TimeMs): void {
    this.deadlines.set(key, at);
  }

  /** Disarms `key`; a no-op when it is not armed. */
  clear(key: K): void {
    this.deadlines.delete(key);
  }

  has(key: K): boolean {
    return this.deadlines.has(key);
  }

  get(key: K): TimeMs | undefined {
    return this.deadlines.get(key);
  }

  /** Earliest armed deadline, or undefined when nothing is armed. */
  next(): TimeMs | undefined {
    let min: TimeMs | undefined;
    for (const at of this.deadlines.values()) if (min === undefined || at < min) min = at;
    return min;
  }

  /** Removes and returns the keys due at `now`, earliest first. */
  due(now: TimeMs): { key: K; at: TimeMs }[] {
    const out: { key: K; at: TimeMs }[] = [];
    for (const [key, at] of this.deadlines) if (at <= now) out.push({ key, at });
    out.sort((x, y) => x.at - y.at || (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
    for (const { key } of out) this.deadlines.delete(key);
    return out;
  }

  get size(): number {
    return this.deadlines.size;
  }
}
