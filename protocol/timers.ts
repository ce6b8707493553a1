/**
 * Timers as data: a table of named deadlines. The core sets and clears
 * entries; the driver asks for the earliest one (`next`) and calls back with
 * the current time; `due(now)` pops every entry whose deadline has passed, in
 * deadline order (ties by name, so runs replay exactly).
 *
 * The earliest deadline is cached: the driver asks for it after every
 * datagram, and most inputs move no timer or only later ones (re-arming a
 * periodic timer, a suspicion timer). Why: at 100 members the linear scan
 * over every armed timer on each ask was a twentieth of a simulated hour.
 */
import type { TimeMs } from './types.ts';

export class TimerTable<K extends string = string> {
  private readonly deadlines = new Map<K, TimeMs>();
  /** The earliest deadline while `minKnown` (Infinity when nothing is armed). */
  private min = Infinity;
  private minKnown = true;

  /** Arms (or re-arms) timer `key` for `at`. */
  set(key: K, at: TimeMs): void {
    if (this.minKnown) {
      // Re-arming the earliest timer later may uncover another one: rescan lazily.
      if (at <= this.min) this.min = at;
      else if (this.deadlines.get(key) === this.min) this.minKnown = false;
    }
    this.deadlines.set(key, at);
  }

  /** Disarms `key`; a no-op when it is not armed. */
  clear(key: K): void {
    const at = this.deadlines.get(key);
    if (at === undefined) return;
    this.deadlines.delete(key);
    if (at === this.min) this.minKnown = false;
  }

  has(key: K): boolean {
    return this.deadlines.has(key);
  }

  get(key: K): TimeMs | undefined {
    return this.deadlines.get(key);
  }

  /** Earliest armed deadline, or undefined when nothing is armed. */
  next(): TimeMs | undefined {
    if (!this.minKnown) {
      let min = Infinity;
      for (const at of this.deadlines.values()) if (at < min) min = at;
      this.min = min;
      this.minKnown = true;
    }
    return this.min === Infinity ? undefined : this.min;
  }

  /** Removes and returns the keys due at `now`, earliest first. */
  due(now: TimeMs): { key: K; at: TimeMs }[] {
    const out: { key: K; at: TimeMs }[] = [];
    if (this.minKnown && this.min > now) return out;
    for (const [key, at] of this.deadlines) if (at <= now) out.push({ key, at });
    out.sort((x, y) => x.at - y.at || (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
    for (const { key } of out) this.deadlines.delete(key);
    if (out.length > 0) this.minKnown = false;
    return out;
  }

  get size(): number {
    return this.deadlines.size;
  }
}
