/**
 * How the simulation drives each core, exactly as protocol/sans-io.ts says,
 * and how it faults one (crash, restart, pause, resume). `Simulation`
 * (sim.ts) builds on this with the part a test talks to: nodes, scripting,
 * running, results.
 *
 * How this works: a single agenda (EventQueue, ordered by time then
 * insertion) holds plain records of three kinds: a datagram arriving at a
 * node, a node's timer, a scripted action. After every input to a core
 * (datagram, timeout, start, poke) the driver drains the core: events first
 * (a 'persist' event is written to the node's durable store, then every
 * event goes to the listeners), then transmits onto the network, then
 * re-arms the node's one timer. Events go first so that "commit, then
 * acknowledge" holds, and so a listener that crashes the node on an event
 * models a crash between the two: the core's queued datagrams die with it.
 *
 * Timers are lazy: a node has at most one live timer entry (`armedToken`).
 * When the core's deadline moves earlier a new entry is pushed and the old
 * one goes stale; when it moves later the early entry is kept, wakes, finds
 * nothing due and re-arms. So the agenda never needs a delete, and a core
 * that re-arms on every datagram costs no agenda entry for it.
 *
 * Randomness: the network draws from its own stream and each node start
 * gets its own stream from (seed, index, starts), so adding a node, or one
 * more draw in one core, does not perturb the other streams.
 */
import { SeededRng } from '../../protocol/rng.ts';
import type { SansIoCore } from '../../protocol/sans-io.ts';
import type { TimeMs, Transmit } from '../../protocol/types.ts';
import { ByteSlab } from '../../protocol/byte-slab.ts';
import { SimCheckError, SimUsageError } from './checks.ts';
import { EventQueue, type Timed } from './event-queue.ts';
import type { LinkConfig } from './link-model.ts';
import { Network } from './network.ts';
import type { NodeContext, NodeFactory, NodeSlot } from './node-slot.ts';
import { emptyDrops, type DropReason } from './stats.ts';
import { Trace } from './trace.ts';

/** The event type a core emits. */
export type EventOf<C> = C extends SansIoCore<infer E> ? E : never;

/** Receives every event any core emits, after a 'persist' is stored. */
export type EventListener<E> = (event: E, nodeIndex: number) => void;

/** What the driver itself needs to know. */
export interface DriverOptions<C extends SansIoCore<unknown>> {
  readonly seed: number;
  /** Base link behaviour (default: 1–5 ms uniform, no loss). */
  readonly network?: Partial<LinkConfig>;
  /** A paused node's socket buffer, in payload bytes. Default 212,992 (Linux rmem_default). */
  readonly socketBufferBytes?: number;
  /** Hand each delivered copy its own buffer, as a real socket does. Default true. */
  readonly copyDatagrams?: boolean;
  /** Keep this many trace records as text (`traceLog()`), for diffing two runs. Default 0. */
  readonly traceLogSize?: number;
  /** How an event is folded into the trace. Default: JSON with byte arrays as hex. */
  readonly describeEvent?: (event: EventOf<C>) => string;
}

const DELIVER = 0;
const TIMER = 1;
const ACTION = 2;

/** One agenda record; one class so every entry has the same shape (fast property access). */
class Entry implements Timed {
  seq = 0;
  constructor(
    public time: number,
    readonly kind: number,
    readonly node: number,
    readonly fromIndex: number,
    readonly bytes: Uint8Array | undefined,
    readonly token: number,
    readonly action: (() => void) | undefined,
  ) {}
}

/** Trace record kinds beyond the agenda's own (DELIVER, TIMER). */
const TRACE_EVENT = 3;
const TRACE_FAULT = 4;
/** handleTimeout calls at one virtual instant beyond which a core is spinning (its deadline never moves on). */
const MAX_TIMEOUTS_PER_INSTANT = 1000;

const FAULT_CRASH = 1;
const FAULT_RESTART = 2;
const FAULT_PAUSE = 3;
const FAULT_RESUME = 4;

/** The agenda, the nodes and the loop that drives them; see the file comment. */
export class SimDriver<C extends SansIoCore<unknown>> {
  readonly seed: number;
  /** Topology and link behaviour: partition, blockOneWay, clog, heal, setLinks, configure. */
  readonly network: Network;
  protected nowMs = 0;
  protected readonly queue = new EventQueue<Entry>();
  protected readonly slots: NodeSlot<C>[] = [];
  protected readonly byAddress = new Map<string, number>();
  protected readonly trace: Trace;
  protected steps = 0;
  protected duplicated = 0;
  protected maxDatagramBytes = 0;
  protected readonly dropped = emptyDrops();
  private readonly listeners: EventListener<EventOf<C>>[] = [];
  private readonly arrivals: number[] = [0, 0];
  private readonly slab = new ByteSlab();
  private readonly copyDatagrams: boolean;
  private readonly socketBufferBytes: number;
  private readonly describe: (event: EventOf<C>) => string;
  private tokens = 0;

  constructor(options: DriverOptions<C>) {
    if (!Number.isInteger(options.seed)) throw new SimUsageError(`seed must be an integer, got ${options.seed}`);
    this.seed = options.seed;
    this.network = new Network(new SeededRng(this.seed, 0x6e6574), options.network);
    this.trace = new Trace(options.traceLogSize ?? 0);
    this.copyDatagrams = options.copyDatagrams !== false;
    this.socketBufferBytes = options.socketBufferBytes ?? 212_992;
    this.describe = options.describeEvent ?? describeEvent;
  }

  /** The virtual time, ms. */
  get now(): TimeMs {
    return this.nowMs;
  }

  /** Subscribes to every event of every core; returns the unsubscribe function. */
  onEvent(listener: EventListener<EventOf<C>>): () => void {
    this.listeners.push(listener);
    return () => {
      const k = this.listeners.indexOf(listener);
      if (k >= 0) this.listeners.splice(k, 1);
    };
  }

  /** Drops node `i`'s core now; its unsynced writes and socket buffer are lost, its durable Map stays. */
  crash(i: number): void {
    const slot = this.slot(i);
    if (!slot.alive) throw new SimUsageError(`crash: node ${i} is already crashed`);
    slot.core = undefined;
    slot.paused = false;
    for (const d of slot.takeInbox()) this.drop(d.fromIndex, 'deadNode');
    this.disarm(slot);
    const lost = slot.store.crash(this.nowMs);
    slot.stats.crashes++;
    this.fault(slot, FAULT_CRASH, lost);
  }

  /** Starts crashed node `i` again: same address, same durable Map, a fresh core (from `factory`, kept for later restarts, if given). */
  restart(i: number, factory?: NodeFactory<C>): void {
    const slot = this.slot(i);
    if (slot.alive) throw new SimUsageError(`restart: node ${i} is running`);
    if (factory !== undefined) slot.factory = factory;
    slot.starts++;
    slot.stats.restarts++;
    this.fault(slot, FAULT_RESTART, slot.starts);
    this.start(slot);
  }

  /** Freezes node `i` (a long GC pause): it handles nothing; arriving datagrams wait in its socket buffer. */
  pause(i: number): void {
    const slot = this.slot(i);
    if (!slot.alive || slot.paused) throw new SimUsageError(`pause: node ${i} is not running`);
    slot.paused = true;
    this.fault(slot, FAULT_PAUSE, 0);
  }

  /** Thaws node `i`: buffered datagrams are handled in arrival order, then its overdue timer fires. */
  resume(i: number): void {
    const slot = this.slot(i);
    if (!slot.paused) throw new SimUsageError(`resume: node ${i} is not paused`);
    slot.paused = false;
    this.fault(slot, FAULT_RESUME, slot.inbox.length);
    for (const d of slot.takeInbox()) {
      const core = slot.core;
      // A listener may crash or pause it mid-way; what is left of the buffer then dies or waits.
      if (core === undefined) this.drop(d.fromIndex, 'deadNode');
      else if (slot.paused) slot.buffer(d.fromIndex, d.bytes, Infinity);
      else this.receive(slot, core, d.fromIndex, d.bytes);
    }
    if (slot.core !== undefined && !slot.paused) this.wake(slot, slot.core);
  }

  /** Puts scripted `action` on the agenda at `timeMs`. */
  protected schedule(timeMs: TimeMs, action: () => void): void {
    this.queue.push(new Entry(timeMs, ACTION, -1, -1, undefined, 0, action));
  }

  /** Node `i`'s slot; throws on an index that was never added. */
  protected slot(i: number): NodeSlot<C> {
    const slot = this.slots[i];
    if (slot === undefined) throw new SimUsageError(`no node ${i} (there are ${this.slots.length})`);
    return slot;
  }

  /** Builds a core for `slot` (its first start or a restart) and drains what the constructor queued. */
  protected start(slot: NodeSlot<C>): void {
    const ctx: NodeContext = {
      index: slot.index,
      address: slot.address,
      seed: this.seed,
      rng: new SeededRng(this.seed, slot.index, slot.starts),
      storage: slot.store.map,
      starts: slot.starts,
      now: () => slot.localTime(this.nowMs),
    };
    const core = slot.factory(ctx);
    slot.core = core;
    this.drain(slot, core);
  }

  /** Advances the clock to `entry` and handles it. */
  protected dispatch(entry: Entry): void {
    this.nowMs = entry.time;
    this.steps++;
    if (entry.kind === DELIVER) this.arrive(entry);
    else if (entry.kind === TIMER) this.timerDue(entry);
    else entry.action!();
  }

  private arrive(entry: Entry): void {
    const slot = this.slots[entry.node]!;
    const core = slot.core;
    if (core === undefined) return this.drop(entry.fromIndex, 'deadNode');
    if (slot.paused) {
      if (!slot.buffer(entry.fromIndex, entry.bytes!, this.socketBufferBytes)) this.drop(entry.fromIndex, 'bufferFull');
      return;
    }
    this.receive(slot, core, entry.fromIndex, entry.bytes!);
  }

  private receive(slot: NodeSlot<C>, core: C, fromIndex: number, bytes: Uint8Array): void {
    const stats = slot.stats;
    stats.receivedDatagrams++;
    stats.receivedBytes += bytes.length;
    const t = this.trace;
    t.word(DELIVER);
    t.num(this.nowMs);
    t.word(fromIndex);
    t.word(slot.index);
    t.payload(bytes);
    if (t.logging) t.end(() => `${this.nowMs} deliver ${fromIndex}->${slot.index} ${bytes.length}B`);
    else t.end();
    core.handleDatagram(slot.localTime(this.nowMs), this.slots[fromIndex]!.address, bytes);
    this.drain(slot, core);
  }

  private timerDue(entry: Entry): void {
    const slot = this.slots[entry.node]!;
    if (entry.token !== slot.armedToken) return; // superseded by an earlier deadline, or a crash
    slot.armedAtMs = Infinity;
    const core = slot.core;
    if (core === undefined || slot.paused) return; // resume re-checks the deadline
    this.wake(slot, core);
  }

  /** Fires the core's timeout if it is due, else just re-arms. */
  private wake(slot: NodeSlot<C>, core: C): void {
    const local = slot.localTime(this.nowMs);
    const deadline = core.pollTimeout();
    if (deadline === undefined || deadline > local) return this.arm(slot, core);
    this.guardSpin(slot);
    slot.stats.timeouts++;
    const t = this.trace;
    t.word(TIMER);
    t.num(this.nowMs);
    t.word(slot.index);
    if (t.logging) t.end(() => `${this.nowMs} timeout ${slot.index}`);
    else t.end();
    core.handleTimeout(local);
    this.drain(slot, core);
  }

  /** Fails loudly when a core's deadline stays in the past however often its timeout runs. */
  private guardSpin(slot: NodeSlot<C>): void {
    if (slot.lastTimeoutAtMs !== this.nowMs) {
      slot.lastTimeoutAtMs = this.nowMs;
      slot.timeoutsThisInstant = 0;
    } else if (++slot.timeoutsThisInstant > MAX_TIMEOUTS_PER_INSTANT) {
      throw new SimCheckError(this.seed, this.nowMs, [
        `node ${slot.index}: pollTimeout() is still due after ${MAX_TIMEOUTS_PER_INSTANT} handleTimeout calls at one instant`,
      ]);
    }
  }

  /** Step 3 of the driver loop: events, then transmits, then the timer. */
  protected drain(slot: NodeSlot<C>, core: C): void {
    for (let event = core.pollEvent(); event !== undefined; event = core.pollEvent()) {
      this.emit(slot, event as EventOf<C>);
      if (slot.core !== core) return; // a listener crashed it: what it queued dies with it
    }
    for (let tx = core.pollTransmit(); tx !== undefined; tx = core.pollTransmit()) this.send(slot, tx);
    if (!slot.paused) this.arm(slot, core);
  }

  private arm(slot: NodeSlot<C>, core: C): void {
    const deadline = core.pollTimeout();
    if (deadline === undefined) return; // an early entry may stay armed; waking finds nothing due
    const at = Math.max(this.nowMs, slot.globalTime(deadline));
    if (at >= slot.armedAtMs) return; // the armed entry wakes first and re-arms
    slot.armedAtMs = at;
    slot.armedToken = ++this.tokens;
    this.queue.push(new Entry(at, TIMER, slot.index, -1, undefined, slot.armedToken, undefined));
  }

  private disarm(slot: NodeSlot<C>): void {
    slot.armedAtMs = Infinity;
    slot.armedToken = ++this.tokens;
  }

  private emit(slot: NodeSlot<C>, event: EventOf<C>): void {
    slot.stats.events++;
    const e = event as { type?: unknown; key?: unknown; value?: unknown };
    if (e.type === 'persist') {
      if (typeof e.key !== 'string') {
        throw new SimCheckError(this.seed, this.nowMs, [`node ${slot.index} emitted a persist event without a string key`]);
      }
      slot.store.write(e.key, e.value, this.nowMs);
    }
    const t = this.trace;
    const text = this.describe(event);
    t.word(TRACE_EVENT);
    t.num(this.nowMs);
    t.word(slot.index);
    t.str(text);
    if (t.logging) t.end(() => `${this.nowMs} event ${slot.index} ${text}`);
    else t.end();
    for (const listener of this.listeners) listener(event, slot.index);
  }

  private send(slot: NodeSlot<C>, tx: Transmit): void {
    const size = tx.bytes.length;
    const stats = slot.stats;
    stats.sentDatagrams++;
    stats.sentBytes += size;
    if (size > this.maxDatagramBytes) this.maxDatagramBytes = size;
    const to = this.byAddress.get(tx.to);
    if (to === undefined) return this.drop(slot.index, 'noRoute');
    const copies = this.network.plan(slot.index, to, size, this.nowMs, this.arrivals);
    if (copies === 0) return this.drop(slot.index, this.network.dropReason);
    if (copies > 1) this.duplicated += copies - 1;
    for (let k = 0; k < copies; k++) {
      const bytes = this.copyDatagrams ? this.slab.copy(tx.bytes) : tx.bytes;
      this.queue.push(new Entry(this.arrivals[k]!, DELIVER, to, slot.index, bytes, 0, undefined));
    }
  }

  private drop(fromIndex: number, reason: DropReason): void {
    this.slots[fromIndex]!.stats.droppedDatagrams++;
    this.dropped[reason]++;
  }

  private fault(slot: NodeSlot<C>, kind: number, detail: number): void {
    const t = this.trace;
    t.word(TRACE_FAULT);
    t.num(this.nowMs);
    t.word(slot.index);
    t.word(kind);
    t.word(detail);
    if (t.logging) t.end(() => `${this.nowMs} fault ${kind} ${slot.index} ${detail}`);
    else t.end();
  }
}

/** Default trace text for an event: JSON, with byte arrays as hex and bigints as decimal. */
export function describeEvent(event: unknown): string {
  return JSON.stringify(event, (_key, value: unknown) => {
    if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex');
    if (typeof value === 'bigint') return value.toString();
    if (value instanceof Map) return [...value];
    if (value instanceof Set) return [...value];
    return value;
  }) ?? 'undefined';
}

