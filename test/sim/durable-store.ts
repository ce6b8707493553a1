/**
 * A node's durable storage in the simulation: a Map that outlives the core
 * (crash and restart hand the same Map to the new core), with an optional
 * sync lag so that a crash loses the writes the "disk" had not yet synced.
 *
 * How this works: writes land in the Map at once (as in a page cache: the
 * running node reads its own writes). Each write made while `syncLagMs > 0`
 * also goes on an undo log with the time it becomes durable (write time +
 * lag). On a crash, the writes not yet durable are undone newest first,
 * which restores exactly the state of the last synced write for every key.
 * Because the lag is fixed per store, the log is sorted by durability time:
 * synced entries are trimmed from its front on each write. (Changing the
 * lag mid-run keeps durability in write order, as a journal would.) Writing
 * `undefined` deletes the key. An object value is stored as a structured
 * clone, as a disk stores bytes: a core that later mutates the object it
 * persisted must not find the mutation on "disk" after a restart.
 */
import type { TimeMs } from '../../protocol/types.ts';

interface Undo {
  readonly key: string;
  readonly had: boolean;
  readonly previous: unknown;
  readonly durableAtMs: TimeMs;
}

/** The per-node durable Map plus the bookkeeping that lets a crash lose unsynced writes. */
export class DurableStore {
  /** The contents, unsynced writes included; what a (re)started core is handed. */
  readonly map = new Map<string, unknown>();
  private undo: Undo[] = [];
  private undoStart = 0;

  /**
   * `syncLagMs` 0: every write is durable at once. `byReference`: keep
   * values as given, for cores whose persisted values are immutable (a
   * structured clone per write was the simulator's largest cost there).
   */
  constructor(
    public syncLagMs = 0,
    private readonly byReference = false,
  ) {}

  /** Applies one write at `nowMs`; `value` undefined deletes `key`. */
  write(key: string, value: unknown, nowMs: TimeMs): void {
    if (this.syncLagMs > 0) {
      this.trimSynced(nowMs);
      this.undo.push({ key, had: this.map.has(key), previous: this.map.get(key), durableAtMs: nowMs + this.syncLagMs });
    }
    if (value === undefined) this.map.delete(key);
    else this.map.set(key, !this.byReference && typeof value === 'object' && value !== null ? structuredClone(value) : value);
  }

  /** Number of writes made that are not yet durable at `nowMs`. */
  unsynced(nowMs: TimeMs): number {
    this.trimSynced(nowMs);
    return this.undo.length - this.undoStart;
  }

  /** The crash: undoes every write not durable by `nowMs`; returns how many were lost. */
  crash(nowMs: TimeMs): number {
    this.trimSynced(nowMs);
    let lost = 0;
    for (let i = this.undo.length - 1; i >= this.undoStart; i--) {
      const u = this.undo[i]!;
      if (u.had) this.map.set(u.key, u.previous);
      else this.map.delete(u.key);
      lost++;
    }
    this.undo = [];
    this.undoStart = 0;
    return lost;
  }

  private trimSynced(nowMs: TimeMs): void {
    const undo = this.undo;
    while (this.undoStart < undo.length && undo[this.undoStart]!.durableAtMs <= nowMs) this.undoStart++;
    // Compact now and then so the log does not grow with the run.
    if (this.undoStart > 1024 && this.undoStart * 2 > undo.length) {
      this.undo = undo.slice(this.undoStart);
      this.undoStart = 0;
    }
  }
}
