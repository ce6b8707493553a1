/**
 * The deterministic simulation as a test uses it: many sans-I/O cores on
 * one virtual clock and one simulated network, with faults and scripted
 * actions, all replayable from one seed. Build one, add nodes from a
 * factory, script faults with `at`, run, then read stats, the trace hash
 * and the live cores, and run the registered checks.
 *
 * How this works: everything that drives a core (the agenda, the per-node
 * loop, crash, restart, pause, resume) is in driver.ts; this file adds the
 * nodes, scripting, running and results on top, and re-exports the rest of
 * the simulator's public surface so a scenario needs one import. Every
 * simulation prints its seed when built (`quiet` for benchmarks), so any
 * run can be replayed.
 */
import type { SansIoCore } from '../../protocol/sans-io.ts';
import type { Address, TimeMs } from '../../protocol/types.ts';
import { Checks, SimUsageError, type Check } from './checks.ts';
import { SimDriver, type DriverOptions } from './driver.ts';
import { MAX_NODES } from './network.ts';
import { nodeAddress, NodeSlot, type ClockSkew, type NodeFactory } from './node-slot.ts';
import { sumTotals, type NodeStats, type Totals } from './stats.ts';

/** How to build a simulation. Only `seed` and `factory` are required. */
export interface SimOptions<C extends SansIoCore<unknown>> extends DriverOptions<C> {
  readonly factory: NodeFactory<C>;
  /** Nodes started at time 0, in index order. Default 0 (add them with addNodes). */
  readonly nodes?: number;
  /** A 'persist' becomes crash-proof this long after it is written. Default 0 (at once). */
  readonly syncLagMs?: number;
  /** Persisted values are immutable: store them without copying. Default false (copied). */
  readonly persistByReference?: boolean;
  /** Printed with the seed. */
  readonly name?: string;
  /** Do not print the seed (benchmarks). */
  readonly quiet?: boolean;
}

/** A seeded, replayable cluster of cores; see the file comment and driver.ts. */
export class Simulation<C extends SansIoCore<unknown>> extends SimDriver<C> {
  private readonly checks: Checks;

  constructor(private readonly options: SimOptions<C>) {
    super(options);
    if (options.quiet !== true) process.stdout.write(`sim${options.name ? ` ${options.name}` : ''}: SEED=${this.seed}\n`);
    this.checks = new Checks(() => ({ seed: this.seed, nowMs: this.nowMs }));
    this.addNodes(options.nodes ?? 0);
  }

  /** Number of nodes ever added (crashed ones included). */
  get size(): number {
    return this.slots.length;
  }

  // ---- nodes -------------------------------------------------------------

  /** Adds and starts one node now (with `factory`, default the simulation's); returns its index. */
  addNode(factory: NodeFactory<C> = this.options.factory): number {
    const index = this.slots.length;
    if (index >= MAX_NODES) throw new SimUsageError(`at most ${MAX_NODES} nodes`);
    const slot = new NodeSlot<C>(index, nodeAddress(index), factory, this.options.syncLagMs ?? 0, this.options.persistByReference ?? false);
    this.slots.push(slot);
    this.byAddress.set(slot.address, index);
    this.start(slot);
    return index;
  }

  /** Adds and starts `n` nodes; returns their indices. */
  addNodes(n: number, factory?: NodeFactory<C>): number[] {
    return Array.from({ length: n }, () => this.addNode(factory));
  }

  /** Node `i`'s address. */
  address(i: number): Address {
    return this.slot(i).address;
  }

  /** Every node's address, by index. */
  addresses(): Address[] {
    return this.slots.map((s) => s.address);
  }

  /** The index of the node at `address`, or undefined. */
  indexOf(address: string): number | undefined {
    return this.byAddress.get(address);
  }

  /** Node `i`'s live core (for checkers), or undefined while it is crashed. */
  core(i: number): C | undefined {
    return this.slot(i).core;
  }

  /** Indices of nodes whose core is running (paused ones included). */
  liveIndices(): number[] {
    return this.slots.filter((s) => s.alive).map((s) => s.index);
  }

  isAlive(i: number): boolean {
    return this.slot(i).alive;
  }

  isPaused(i: number): boolean {
    return this.slot(i).paused;
  }

  /** Node `i`'s durable Map (what a restart would be handed, once unsynced writes are lost). */
  storage(i: number): ReadonlyMap<string, unknown> {
    return this.slot(i).store.map;
  }

  /** Writes to node `i`'s durable storage not yet synced. */
  unsyncedWrites(i: number): number {
    return this.slot(i).store.unsynced(this.nowMs);
  }

  /** Node `i`'s local clock now. */
  localTime(i: number): TimeMs {
    return this.slot(i).localTime(this.nowMs);
  }

  /** Skews node `i`'s clock from now on; refuses to step it backwards. */
  setClock(i: number, skew: ClockSkew): void {
    this.slot(i).setClock(skew, this.nowMs);
  }

  /** Changes node `i`'s sync lag for writes from now on. */
  setSyncLag(i: number, syncLagMs: number): void {
    this.slot(i).store.syncLagMs = syncLagMs;
  }

  /**
   * Runs `fn` on live core `i` as an application input now (a client request,
   * an admin command), then drains its outputs and re-arms its timer.
   */
  poke(i: number, fn: (core: C, localNowMs: TimeMs) => void): void {
    const slot = this.slot(i);
    const core = slot.core;
    if (core === undefined) throw new SimUsageError(`poke: node ${i} is crashed`);
    if (slot.paused) throw new SimUsageError(`poke: node ${i} is paused`);
    fn(core, slot.localTime(this.nowMs));
    this.drain(slot, core);
  }

  // ---- scripting and running ---------------------------------------------

  /** Runs `action` at virtual time `timeMs` (after everything already due then). */
  at(timeMs: TimeMs, action: () => void): void {
    if (!(timeMs >= this.nowMs)) throw new SimUsageError(`at(${timeMs}): time is already ${this.nowMs}`);
    this.schedule(Math.ceil(timeMs), action);
  }

  /** Runs `action` `delayMs` from now. */
  after(delayMs: number, action: () => void): void {
    this.at(this.nowMs + delayMs, action);
  }

  /** Processes everything due up to and including `timeMs`, then sets the clock to it. */
  runUntil(timeMs: TimeMs): void {
    if (!Number.isInteger(timeMs)) throw new SimUsageError(`runUntil(${timeMs}): virtual time is whole milliseconds`);
    if (timeMs < this.nowMs) throw new SimUsageError(`runUntil(${timeMs}): time is already ${this.nowMs}`);
    const queue = this.queue;
    while (queue.peekTime() <= timeMs) this.dispatch(queue.pop()!);
    this.nowMs = timeMs;
  }

  /** Runs for `durationMs` of virtual time. */
  runFor(durationMs: number): void {
    this.runUntil(this.nowMs + durationMs);
  }

  /**
   * Runs until `predicate()` holds, checking it every `checkEveryMs` of virtual
   * time (not after every step: checks may be costly), for at most `limitMs`.
   * Returns whether it held; `now` is then the first check time at which it did.
   */
  runUntilCondition(predicate: () => boolean, limitMs: number, checkEveryMs = 100): boolean {
    if (!(checkEveryMs > 0)) throw new SimUsageError('checkEveryMs must be > 0');
    const deadline = this.nowMs + limitMs;
    for (;;) {
      if (predicate()) return true;
      if (this.nowMs >= deadline) return false;
      this.runUntil(Math.min(deadline, this.nowMs + checkEveryMs));
    }
  }

  /** Processes the single next agenda entry; false when the agenda is empty. */
  step(): boolean {
    const entry = this.queue.pop();
    if (entry === undefined) return false;
    this.dispatch(entry);
    return true;
  }

  /** Entries waiting on the agenda (in-flight datagrams, timers, actions). */
  get pending(): number {
    return this.queue.size;
  }

  // ---- results -------------------------------------------------------------

  /** Node `i`'s counters (kept across crashes). */
  stats(i: number): Readonly<NodeStats> {
    return this.slot(i).stats;
  }

  /** Counters for the whole run, drops by cause included. */
  totals(): Totals {
    return sumTotals(
      this.slots.map((s) => s.stats),
      { duplicatedDatagrams: this.duplicated, maxDatagramBytes: this.maxDatagramBytes, steps: this.steps, dropped: this.dropped },
    );
  }

  /** The run's fingerprint so far: 16 hex digits; equal seeds give equal hashes. */
  traceHash(): string {
    return this.trace.hash();
  }

  /** The last trace records as text (needs `traceLogSize`). */
  traceLog(): string[] {
    return this.trace.log();
  }

  /** Registers a check to run at `runChecks()`. */
  check(name: string, check: Check): void {
    this.checks.add(name, check);
  }

  /** Runs every registered check; throws a SimCheckError (seed first) listing all that fail. */
  runChecks(): void {
    this.checks.run();
  }

  /** Fails the scenario now with `message`, seed and time attached; for invariants checked mid-run. */
  fail(message: string): never {
    return this.checks.fail([message]);
  }
}

// The simulator's whole public surface, so a scenario needs one import.
export { SimCheckError, SimUsageError, type Check } from './checks.ts';
export { describeEvent, type EventListener, type EventOf } from './driver.ts';
export { DEFAULT_LINK, type DelayDistribution, type LinkConfig } from './link-model.ts';
export type { Clog, Network } from './network.ts';
export { nodeAddress, type ClockSkew, type NodeContext, type NodeFactory } from './node-slot.ts';
export { forEachSeed, seeds, simTest } from './seeds.ts';
export type { DropReason, NodeStats, Totals } from './stats.ts';
