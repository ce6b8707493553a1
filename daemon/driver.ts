/**
 * The driver loop of protocol/sans-io.ts, in the daemon: feeds the core its
 * inputs (datagrams, timeouts, the application's commands), drains its
 * outputs, and keeps exactly one timer armed at `pollTimeout()`.
 *
 * How this works:
 * - Every input goes through `input(fn)`: read the clock once, let `fn` call
 *   the core with that `now`, then drain and re-arm. Datagrams and timer
 *   expiries are inputs like any other.
 * - Draining delivers every pending event before sending the next datagram.
 *   Why: an event may be a `persist` of a raised incarnation, and that must
 *   be on disk before any datagram announcing it leaves (else a crash right
 *   after could bring the node back below what others heard).
 * - The timer is re-armed only when the deadline moved, so a busy node does
 *   not churn setTimeout on every datagram.
 * - A handler that throws is reported through `onError` and draining goes
 *   on: a full queue left undrained would stall the node.
 * The clock and timer functions are injected, so the loop is tested with
 * fake timers and never waits in real time.
 */
import { performance } from 'node:perf_hooks';
import type { SansIoCore } from '../protocol/sans-io.ts';
import type { Address, TimeMs, Transmit } from '../protocol/types.ts';

/** The longest delay setTimeout takes (2^31 - 1 ms); a later deadline is re-checked then. */
const MAX_TIMER_DELAY_MS = 2_147_483_647;

/** Where outgoing datagrams go. `send` must not throw for network failures (it counts them). */
export interface DatagramSink {
  send(to: Address, bytes: Uint8Array): void;
}

/** The process's monotonic clock in integer ms since the Unix epoch: never steps back when the wall clock is set. */
export function monotonicNowMs(): TimeMs {
  return Math.floor(performance.timeOrigin + performance.now());
}

export interface DriverOptions<Event> {
  core: SansIoCore<Event>;
  sink: DatagramSink;
  /** Receives every event, in order. */
  onEvent: (event: Event) => void;
  /** A handler or the sink threw: the loop goes on regardless. A failed commit drops what it held back. */
  onError: (err: unknown, where: 'event' | 'transmit' | 'input' | 'commit') => void;
  /**
   * Called once the events of a drain are delivered: returns a promise when
   * the events asked for something to be made durable (a store commit).
   * Every datagram drained from then on waits until that promise, and every
   * earlier one, has resolved: nothing the core said after a write (its ack,
   * its delta) leaves before the write is on disk.
   */
  commitBarrier?: () => Promise<void> | undefined;
  now?: () => TimeMs;
  setTimer?: (fn: () => void, delayMs: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

/** Counters for metrics and tests. */
export interface DriverStats {
  inputs: number;
  timeouts: number;
  timerArms: number;
  events: number;
  transmits: number;
}

/** Drives one sans-I/O core; see the file comment. */
export class Driver<Event> {
  readonly stats: DriverStats = { inputs: 0, timeouts: 0, timerArms: 0, events: 0, transmits: 0 };
  private readonly core: SansIoCore<Event>;
  private readonly sink: DatagramSink;
  private readonly onEvent: (event: Event) => void;
  private readonly commitBarrier: (() => Promise<void> | undefined) | undefined;
  private readonly onError: DriverOptions<Event>['onError'];
  private readonly now: () => TimeMs;
  private readonly setTimer: (fn: () => void, delayMs: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;
  private timer: unknown;
  private armedForMs: TimeMs | undefined;
  private stopped = false;
  private draining = false;
  /**
   * Commits in flight, oldest first, each with the datagrams drained after
   * it was asked for (and before the next one was): a commit resolves after
   * every earlier one (they are chained), and then releases its own. Why
   * per commit: a node taking writes without pause always has a newer
   * commit in flight, and answers held until the newest one resolved left
   * every client waiting (and the node idle) until the stream paused.
   */
  private readonly inFlight: { done: Promise<void>; held: Transmit[] }[] = [];
  private lastCommitError: unknown;
  constructor(opts: DriverOptions<Event>) {
    this.core = opts.core;
    this.sink = opts.sink;
    this.onEvent = opts.onEvent;
    this.commitBarrier = opts.commitBarrier;
    this.onError = opts.onError;
    this.now = opts.now ?? monotonicNowMs;
    this.setTimer = opts.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = opts.clearTimer ?? ((h) => clearTimeout(h as NodeJS.Timeout));
  }

  /** The deadline the timer is armed for, or undefined when none is. */
  get armedAtMs(): TimeMs | undefined {
    return this.armedForMs;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Drains whatever the core queued while it was built, and arms the timer. */
  start(): void {
    this.input(() => {});
  }

  /** Runs `fn(now)` against the core, then drains and re-arms. Ignored once stopped. */
  input(fn: (now: TimeMs) => void): void {
    if (this.stopped) return;
    this.stats.inputs++;
    try {
      fn(this.now());
    } catch (err) {
      this.onError(err, 'input');
    }
    this.drainAndArm();
  }

  /** Feeds one received datagram. */
  handleDatagram(from: Address, bytes: Uint8Array): void {
    this.input((now) => this.core.handleDatagram(now, from, bytes));
  }

  /** Disarms the timer; later inputs are ignored. Pending outputs are dropped with the core. */
  stop(): void {
    this.stopped = true;
    this.disarm();
  }

  private onTimer(): void {
    this.timer = undefined;
    this.armedForMs = undefined;
    if (this.stopped) return;
    this.stats.timeouts++;
    this.input((now) => this.core.handleTimeout(now));
  }

  private drainAndArm(): void {
    // An event handler that feeds the core again (input inside onEvent) is
    // drained by the loop already running, not by a nested one.
    if (this.draining) return;
    this.draining = true;
    try {
      for (;;) {
        const event = this.core.pollEvent();
        if (event !== undefined) {
          this.deliver(event);
          continue;
        }
        const commit = this.commitBarrier?.();
        if (commit) this.chain(commit);
        const transmit = this.core.pollTransmit();
        if (transmit === undefined) break;
        const newest = this.inFlight[this.inFlight.length - 1];
        if (newest) newest.held.push(transmit);
        else this.transmit(transmit);
      }
    } finally {
      this.draining = false;
    }
    if (!this.stopped) this.arm(this.core.pollTimeout());
  }

  /** Holds later datagrams until `commit` (and every commit before it) is durable. */
  private chain(commit: Promise<void>): void {
    const before = this.inFlight[this.inFlight.length - 1]?.done ?? Promise.resolve();
    const entry = { done: before.then(() => commit), held: [] as Transmit[] };
    this.inFlight.push(entry);
    entry.done.then(
      () => {
        // Chained: every earlier entry resolved (and left) before this one.
        if (this.inFlight[0] === entry) this.inFlight.shift();
        if (!this.stopped) for (const t of entry.held) this.transmit(t);
      },
      (err: unknown) => {
        // What it held never leaves: its writes, or writes before them, are not on disk. The later
        // commits fail with the same error (chained): reported once.
        this.inFlight.splice(this.inFlight.indexOf(entry), 1);
        if (err === this.lastCommitError) return;
        this.lastCommitError = err;
        this.onError(err, 'commit');
      },
    );
  }

  private deliver(event: Event): void {
    this.stats.events++;
    try {
      this.onEvent(event);
    } catch (err) {
      this.onError(err, 'event');
    }
  }

  private transmit(t: Transmit): void {
    this.stats.transmits++;
    try {
      this.sink.send(t.to, t.bytes);
    } catch (err) {
      this.onError(err, 'transmit');
    }
  }

  private arm(deadline: TimeMs | undefined): void {
    if (deadline === this.armedForMs && (deadline === undefined || this.timer !== undefined)) return;
    this.disarm();
    if (deadline === undefined) return;
    const delayMs = Math.min(MAX_TIMER_DELAY_MS, Math.max(0, deadline - this.now()));
    this.armedForMs = deadline;
    this.stats.timerArms++;
    this.timer = this.setTimer(() => this.onTimer(), delayMs);
  }

  private disarm(): void {
    if (this.timer !== undefined) this.clearTimer(this.timer);
    this.timer = undefined;
    this.armedForMs = undefined;
  }
}
