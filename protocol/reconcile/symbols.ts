/**
 * Rateless IBLT coded symbols: storage, the encoder, and the wire packing.
 *
 * How this works: coded symbol i is the XOR of the keys and the XOR of the
 * key checksums of every item that maps to index i (see hash.ts). There is no
 * count field: the decoder learns which side a recovered item came from by
 * looking it up in its own set, so a symbol is 12 bytes (8 key + 4
 * checksum; the width is argued in peeler.ts).
 *
 * The encoder keeps, per item, the next index it maps to and its generator
 * state, in typed arrays. `extend(to)` adds every item's contributions below
 * `to` and parks each cursor at its first index >= `to`, so symbols are
 * produced window after window in one pass over the items per window and
 * O(log m) mapping steps per item in total, without recomputing a prefix.
 * The decoder uses the same class for its own set and for the items it has
 * recovered (whose cursors start late and catch up with `extendOne`).
 */
import { hashItem, nextIndex, SEED, stepGenerator } from './hash.ts';
import type { ItemSet } from './item-set.ts';

/** Wire bytes of one coded symbol: key lo, key hi, checksum (u32 LE each). */
export const SYMBOL_BYTES = 12;

/** A growable array of coded symbols, indexed from 0. */
export class SymbolArray {
  hi = new Uint32Array(64);
  lo = new Uint32Array(64);
  chk = new Uint32Array(64);
  length = 0;

  /** Grows to `n` symbols; new ones are empty (all zero). */
  grow(n: number): void {
    if (n <= this.length) return;
    if (n > this.hi.length) {
      const cap = Math.max(n, this.hi.length * 2);
      for (const key of ['hi', 'lo', 'chk'] as const) {
        const next = new Uint32Array(cap);
        next.set(this[key].subarray(0, this.length));
        this[key] = next;
      }
    }
    this.length = n;
  }

  /** True when symbol i is all zero (no item, or items that cancelled out). */
  isEmpty(i: number): boolean {
    return this.hi[i] === 0 && this.lo[i] === 0 && this.chk[i] === 0;
  }

  /** XORs symbols [from, from+count) packed in `bytes` at `offset` into this array. */
  xorPacked(from: number, bytes: Uint8Array, offset: number, count: number): void {
    const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * SYMBOL_BYTES);
    for (let k = 0; k < count; k++) {
      const i = from + k;
      this.lo[i]! ^= view.getUint32(k * SYMBOL_BYTES, true);
      this.hi[i]! ^= view.getUint32(k * SYMBOL_BYTES + 4, true);
      this.chk[i]! ^= view.getUint32(k * SYMBOL_BYTES + 8, true);
    }
  }

  /** Packs symbols [from, to) for the wire. */
  pack(from: number, to: number): Uint8Array {
    const out = new Uint8Array((to - from) * SYMBOL_BYTES);
    const view = new DataView(out.buffer);
    for (let i = from; i < to; i++) {
      const at = (i - from) * SYMBOL_BYTES;
      view.setUint32(at, this.lo[i]!, true);
      view.setUint32(at + 4, this.hi[i]!, true);
      view.setUint32(at + 8, this.chk[i]!, true);
    }
    return out;
  }
}

/** The checksum of key (hi, lo) under a session's salt. */
export function checksum(hi: number, lo: number, salt: number): number {
  return hashItem(hi, lo, SEED.checksum ^ salt);
}

/** Streams the coded symbols of a set of items, window after window. */
export class SymbolEncoder {
  private hi: Uint32Array;
  private lo: Uint32Array;
  private chk: Uint32Array;
  private gen: Uint32Array;
  private next: Float64Array;
  private n = 0;

  constructor(
    private readonly salt: number,
    capacity = 16,
  ) {
    this.hi = new Uint32Array(capacity);
    this.lo = new Uint32Array(capacity);
    this.chk = new Uint32Array(capacity);
    this.gen = new Uint32Array(capacity);
    this.next = new Float64Array(capacity);
  }

  get size(): number {
    return this.n;
  }

  /** High word of item k's key. */
  keyHi(k: number): number {
    return this.hi[k]!;
  }

  /** Low word of item k's key. */
  keyLo(k: number): number {
    return this.lo[k]!;
  }

  /** Adds an item; its cursor starts at symbol 0 (call `extendOne` to catch it up). */
  add(hi: number, lo: number): number {
    if (this.n === this.hi.length) this.reserve(this.n * 2);
    const k = this.n++;
    this.hi[k] = hi;
    this.lo[k] = lo;
    this.chk[k] = checksum(hi, lo, this.salt);
    this.gen[k] = hashItem(hi, lo, SEED.mapping ^ this.salt);
    this.next[k] = 0;
    return k;
  }

  /** XORs every item's contributions to symbols below `to` into `out` (grown to `to`). */
  extend(to: number, out: SymbolArray): void {
    out.grow(to);
    for (let k = 0; k < this.n; k++) if (this.next[k]! < to) this.extendOne(k, to, out);
  }

  /**
   * Moves item k's cursor up to `to`, XORing it into each symbol on the way;
   * `touched` (if given) receives each index.
   */
  extendOne(k: number, to: number, out: SymbolArray, touched?: number[]): void {
    const { hi: oh, lo: ol, chk: oc } = out;
    const h = this.hi[k]!;
    const l = this.lo[k]!;
    const c = this.chk[k]!;
    let idx = this.next[k]!;
    let g = this.gen[k]!;
    while (idx < to) {
      oh[idx]! ^= h;
      ol[idx]! ^= l;
      oc[idx]! ^= c;
      touched?.push(idx);
      g = stepGenerator(g);
      idx = nextIndex(idx, g);
    }
    this.next[k] = idx;
    this.gen[k] = g;
  }

  private reserve(cap: number): void {
    const grow = <T extends Uint32Array | Float64Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(cap);
      b.set(a);
      return b;
    };
    this.hi = grow(this.hi);
    this.lo = grow(this.lo);
    this.chk = grow(this.chk);
    this.gen = grow(this.gen);
    this.next = grow(this.next);
  }
}

/** True when the item (hi, lo) maps to symbol `index` under `salt`. */
export function mapsTo(hi: number, lo: number, salt: number, index: number): boolean {
  let idx = 0;
  let g = hashItem(hi, lo, SEED.mapping ^ salt);
  while (idx < index) {
    g = stepGenerator(g);
    idx = nextIndex(idx, g);
  }
  return idx === index;
}

/** An encoder over every item of `set`, cursors at symbol 0. */
export function encoderOf(set: ItemSet, salt: number): SymbolEncoder {
  const enc = new SymbolEncoder(salt, Math.max(16, set.size));
  for (let k = 0; k < set.size; k++) enc.add(set.hi(k), set.lo(k));
  return enc;
}
