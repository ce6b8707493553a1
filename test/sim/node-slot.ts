/**
 * One node's place in the simulation: what outlives its core (address,
 * durable store, counters, clock) and what the driver needs to run it (the
 * live core, its armed timer, the socket buffer that fills while it is
 * paused).
 *
 * How this works: the core object is the only thing a crash throws away;
 * the slot stays, so a restart calls the factory again with the same
 * address and the same durable Map. A node's clock is the virtual clock seen
 * through an offset and a drift rate (local = floor(offset + global * rate)),
 * so tests can skew clocks; with the defaults (0, 1) the two are equal. The
 * core only ever sees local time; `globalTime` maps its deadlines back onto
 * the simulation's agenda.
 */
import type { SeededRng } from '../../protocol/rng.ts';
import type { Address, TimeMs } from '../../protocol/types.ts';
import { SimUsageError } from './checks.ts';
import { DurableStore } from './durable-store.ts';
import { NodeStats } from './stats.ts';

/** What a factory is handed to build a node's core. */
export interface NodeContext {
  /** 0-based, stable across restarts. */
  readonly index: number;
  /** Stable across restarts; a label, never a real socket. */
  readonly address: Address;
  /** The simulation's seed. */
  readonly seed: number;
  /** This start's own generator, derived from (seed, index, starts): independent of every other node's. */
  readonly rng: SeededRng;
  /**
   * The node's durable storage: survives crashes (minus unsynced writes).
   * Read-only to the core: it writes by emitting `{ type: 'persist', key, value }`.
   */
  readonly storage: ReadonlyMap<string, unknown>;
  /** 0 for the first start, k after the k-th restart. */
  readonly starts: number;
  /** The node's local clock now (integer ms). */
  now(): TimeMs;
}

/** Builds a core for a node; called at its first start and at each restart. */
export type NodeFactory<C> = (ctx: NodeContext) => C;

/** A node's clock relative to the virtual clock. */
export interface ClockSkew {
  /** Added to the virtual time. */
  readonly offsetMs: number;
  /** Parts per million the clock runs fast (positive) or slow (negative). */
  readonly driftPpm: number;
}

/** A datagram held in a paused node's socket buffer. */
export interface Buffered {
  readonly fromIndex: number;
  readonly bytes: Uint8Array;
}

/** The label address of node `index`: 10.0.x.y:7700, counting from 10.0.0.1. */
export function nodeAddress(index: number): Address {
  const n = index + 1;
  return `10.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}:7700` as Address;
}

/** A node's lasting state and driver bookkeeping; see the file comment. */
export class NodeSlot<C> {
  /** The live core; undefined while crashed. */
  core: C | undefined;
  starts = 0;
  paused = false;
  /** Time of the timer entry this node has on the agenda; Infinity when none. */
  armedAtMs = Infinity;
  /** Identifies the armed entry; any other timer entry for this node is stale. */
  armedToken = 0;
  readonly stats = new NodeStats();
  readonly store: DurableStore;
  /** The socket buffer while paused, oldest first. */
  inbox: Buffered[] = [];
  inboxBytes = 0;
  /** For spotting a core that spins: the instant of its last timeout, and how many it had then. */
  lastTimeoutAtMs = -1;
  timeoutsThisInstant = 0;
  private offsetMs = 0;
  private rate = 1;

  constructor(
    readonly index: number,
    readonly address: Address,
    /** Builds its core at each start; a restart may replace it (an upgrade). */
    public factory: NodeFactory<C>,
    syncLagMs: number,
    persistByReference = false,
  ) {
    this.store = new DurableStore(syncLagMs, persistByReference);
  }

  /** True when a core is running (paused or not). */
  get alive(): boolean {
    return this.core !== undefined;
  }

  /** The node's local time at virtual time `globalMs`. */
  localTime(globalMs: TimeMs): TimeMs {
    return this.rate === 1 ? globalMs + this.offsetMs : Math.floor(this.offsetMs + globalMs * this.rate);
  }

  /** The earliest virtual time at which the local clock reads at least `localMs`. */
  globalTime(localMs: TimeMs): TimeMs {
    if (this.rate === 1) return localMs - this.offsetMs;
    let g = Math.ceil((localMs - this.offsetMs) / this.rate);
    while (this.localTime(g) < localMs) g++; // float rounding
    return g;
  }

  /** Sets the clock skew at virtual time `nowMs`; refuses to step the local clock backwards. */
  setClock(skew: ClockSkew, nowMs: TimeMs): void {
    const before = this.localTime(nowMs);
    const rate = 1 + skew.driftPpm / 1e6;
    if (!(rate > 0) || !Number.isInteger(skew.offsetMs)) throw new SimUsageError(`bad clock skew ${JSON.stringify(skew)}`);
    const [oldOffset, oldRate] = [this.offsetMs, this.rate];
    [this.offsetMs, this.rate] = [skew.offsetMs, rate];
    if (this.localTime(nowMs) < before) {
      [this.offsetMs, this.rate] = [oldOffset, oldRate];
      throw new SimUsageError(`node ${this.index}: clock would step back (cores are promised monotonic time)`);
    }
  }

  /** Holds a datagram while paused; false when the buffer is full (the datagram is dropped). */
  buffer(fromIndex: number, bytes: Uint8Array, capacityBytes: number): boolean {
    if (this.inboxBytes + bytes.length > capacityBytes) return false;
    this.inbox.push({ fromIndex, bytes });
    this.inboxBytes += bytes.length;
    return true;
  }

  /** Empties the socket buffer, returning what it held, oldest first. */
  takeInbox(): Buffered[] {
    const held = this.inbox;
    this.inbox = [];
    this.inboxBytes = 0;
    return held;
  }
}
