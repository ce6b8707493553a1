/**
 * A toy sans-I/O core that proves the simulator without SWIM: it sends
 * numbered datagrams and remembers what it got, so tests can see exactly
 * what the network and the faults did.
 *
 * How this works: a datagram is [kind u8][origin u16][seq u32] padded to
 * `payloadBytes`. Kinds: DATA (a numbered message; in 'flood' mode a node
 * that sees one for the first time forwards it to `fanout` random peers),
 * PING and PONG (in 'echo' mode each tick pings one random peer, which
 * answers; the load shape of a SWIM probe round). Each tick in 'flood' mode
 * originates a new numbered DATA and persists the counter, so a restarted
 * node carries on numbering from its durable storage. Everything the core
 * handles is appended to `inputs` (when `logInputs`), for order assertions.
 */
import type { SansIoCore } from '../../protocol/sans-io.ts';
import type { Address, TimeMs, Transmit } from '../../protocol/types.ts';
import { ByteSlab } from '../../protocol/byte-slab.ts';
import type { NodeContext } from './node-slot.ts';

/** What the toy emits. */
export type ToyEvent =
  | { type: 'started'; counter: number }
  | { type: 'received'; origin: number; seq: number }
  | { type: 'persist'; key: string; value: unknown };

/** How a toy node behaves. */
export interface ToyOptions {
  /** 'quiet': no timer, sends only when told; 'echo': ping a random peer per tick; 'flood': originate and forward. */
  readonly mode: 'quiet' | 'echo' | 'flood';
  /** Everyone it may send to (its own address is skipped). */
  readonly peers: readonly Address[];
  readonly tickMs?: number;
  readonly fanout?: number;
  readonly payloadBytes?: number;
  /** Emit a 'received' event per new DATA (costs a little in benchmarks). Default true. */
  readonly emitReceived?: boolean;
  readonly logInputs?: boolean;
}

const DATA = 1;
const PING = 2;
const PONG = 3;
const HEADER_BYTES = 7;
/** Shared by every toy node: outgoing buffers are never reused, so sharing is safe. */
const slab = new ByteSlab();

/** The toy core; see the file comment. */
export class ToyNode implements SansIoCore<ToyEvent> {
  /** Numbered messages this node originated (persisted in 'flood' mode). */
  counter: number;
  /** DATA received for the first time, in order. */
  readonly received: { origin: number; seq: number; atMs: TimeMs; from: Address }[] = [];
  /** PONGs received. */
  pongs = 0;
  /** 'd:<origin>:<seq>', 'p', 'P' or 't@<time>' per input, when logInputs. */
  readonly inputs: string[] = [];
  private readonly seen = new Set<number>();
  private readonly peers: Address[];
  private readonly tickMs: number;
  private readonly fanout: number;
  private readonly payloadBytes: number;
  private nextTickMs: TimeMs | undefined;
  private readonly transmits: Transmit[] = [];
  private readonly events: ToyEvent[] = [];

  constructor(
    private readonly ctx: NodeContext,
    private readonly options: ToyOptions,
  ) {
    this.peers = options.peers.filter((a) => a !== ctx.address);
    this.tickMs = options.tickMs ?? 1000;
    this.fanout = options.fanout ?? 3;
    this.payloadBytes = Math.max(HEADER_BYTES, options.payloadBytes ?? 64);
    this.counter = Number(ctx.storage.get('counter') ?? 0);
    // Stagger first ticks so a thousand nodes do not fire on the same millisecond.
    if (options.mode !== 'quiet') this.nextTickMs = ctx.now() + 1 + ctx.rng.int(this.tickMs);
    this.events.push({ type: 'started', counter: this.counter });
  }

  handleDatagram(now: TimeMs, from: Address, bytes: Uint8Array): void {
    if (bytes.length < HEADER_BYTES) return; // foreign junk: dropped, as a real core would
    const kind = bytes[0]!;
    const origin = (bytes[1]! << 8) | bytes[2]!;
    const seq = ((bytes[3]! << 24) | (bytes[4]! << 16) | (bytes[5]! << 8) | bytes[6]!) >>> 0;
    if (this.options.logInputs) this.inputs.push(kind === DATA ? `d:${origin}:${seq}` : kind === PING ? 'p' : 'P');
    if (kind === PING) this.transmit(from, PONG, origin, seq);
    else if (kind === PONG) this.pongs++;
    else if (kind === DATA) this.handleData(now, from, origin, seq);
  }

  handleTimeout(now: TimeMs): void {
    if (this.nextTickMs === undefined || now < this.nextTickMs) return;
    if (this.options.logInputs) this.inputs.push(`t@${now}`);
    this.nextTickMs = now + this.tickMs;
    if (this.peers.length === 0) return;
    if (this.options.mode === 'echo') {
      this.transmit(this.randomPeer(), PING, this.ctx.index, ++this.counter);
    } else if (this.options.mode === 'flood') {
      this.originate();
    }
  }

  pollTransmit(): Transmit | undefined {
    return this.transmits.shift();
  }

  pollEvent(): ToyEvent | undefined {
    return this.events.shift();
  }

  pollTimeout(): TimeMs | undefined {
    return this.nextTickMs;
  }

  /** Test input (through `sim.poke`): sends DATA #seq of this node to `to`. */
  sendData(to: Address, seq: number, payloadBytes = this.payloadBytes): void {
    this.transmit(to, DATA, this.ctx.index, seq, payloadBytes);
  }

  /** Test input: asks the driver to store `key` durably. */
  persist(key: string, value: unknown): void {
    this.events.push({ type: 'persist', key, value });
  }

  /** Originates the next numbered DATA and floods it. */
  originate(): void {
    const seq = ++this.counter;
    this.events.push({ type: 'persist', key: 'counter', value: seq });
    this.seen.add(this.ctx.index * 0x100000000 + seq);
    this.forward(DATA, this.ctx.index, seq);
  }

  private handleData(now: TimeMs, from: Address, origin: number, seq: number): void {
    const id = origin * 0x100000000 + seq;
    if (this.seen.has(id)) return;
    this.seen.add(id);
    this.received.push({ origin, seq, atMs: now, from });
    if (this.options.emitReceived !== false) this.events.push({ type: 'received', origin, seq });
    if (this.options.mode === 'flood') this.forward(DATA, origin, seq);
  }

  private forward(kind: number, origin: number, seq: number): void {
    for (let k = 0; k < this.fanout && this.peers.length > 0; k++) this.transmit(this.randomPeer(), kind, origin, seq);
  }

  private randomPeer(): Address {
    return this.peers[this.ctx.rng.int(this.peers.length)]!;
  }

  private transmit(to: Address, kind: number, origin: number, seq: number, size = this.payloadBytes): void {
    const bytes = slab.alloc(Math.max(HEADER_BYTES, size));
    bytes[0] = kind;
    bytes[1] = origin >>> 8;
    bytes[2] = origin & 0xff;
    bytes[3] = seq >>> 24;
    bytes[4] = (seq >>> 16) & 0xff;
    bytes[5] = (seq >>> 8) & 0xff;
    bytes[6] = seq & 0xff;
    this.transmits.push({ to, bytes });
  }
}

/** A factory for `Simulation` that builds ToyNodes with `options`. */
export function toyFactory(options: ToyOptions): (ctx: NodeContext) => ToyNode {
  return (ctx) => new ToyNode(ctx, options);
}
