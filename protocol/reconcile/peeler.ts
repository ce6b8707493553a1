/**
 * The rateless IBLT decoder: turns a prefix of the peer's coded symbols into
 * the symmetric difference of the two sets.
 *
 * How this works: for each received symbol we XOR in our own symbol of the
 * same index and those of the items recovered so far, leaving the residual:
 * the symbol of the still-unknown part of the difference. A residual holding
 * exactly one item is "pure": its checksum field equals the checksum of its
 * key field. We take that item out of every residual it maps to, which may
 * make others pure (peeling). Which side the item came from is a lookup in
 * our own set. Every unknown item maps to symbol 0, so the difference is
 * fully known once residual 0 and all others are empty; the peer's set
 * digest then confirms the answer before anyone relies on it.
 *
 * Checksum width (32 bits) against false decodes: an impure residual passes
 * the purity test with probability 2^-32; we also require the recovered key
 * to map to the index it was found at (probability 2/(i+2) for a wrong key),
 * which removes most of the remaining risk at the indexes where peeling
 * happens. A session at d = 1,000 makes about 15,000 purity tests
 * (~4e-6 chance of a false peel), one at d = 100,000 about 2.5 million
 * (~6e-4). A false peel cannot produce a wrong answer: the digest check fails
 * and the session falls back to the item list. 64-bit checksums would add a
 * third to every symbol to shave a risk that already costs only a fallback.
 */
import type { Difference, ItemSet } from './item-set.ts';
import { SymbolArray, SymbolEncoder, checksum, encoderOf, mapsTo } from './symbols.ts';
import { toBigInt } from './hash.ts';
import type { SetDigest } from './digest.ts';
import { estimateFromSymbols } from './estimator.ts';

/** Decodes a growing prefix of the peer's coded symbols against our set. */
export class Peeler {
  /** Residual symbols [0, prefix). */
  readonly residual = new SymbolArray();
  private readonly own: SymbolEncoder;
  private readonly ownSymbols = new SymbolArray();
  private expectedEnd = 0;
  /** 1 where our symbol and the peer's were equal before peeling: the estimator's evidence. */
  private rawEmpty: Uint8Array = new Uint8Array(64);
  private readonly recovered: SymbolEncoder;
  private readonly isLocal: boolean[] = [];
  private readonly queue: number[] = [];
  /** Purity tests that passed the checksum but not the index check. */
  rejectedPure = 0;

  constructor(
    private readonly local: ItemSet,
    private readonly salt: number,
  ) {
    this.own = encoderOf(local, salt);
    this.recovered = new SymbolEncoder(salt);
  }

  /** Tells how far the peer's current batch goes, so our own symbols are made in one pass. */
  expect(end: number): void {
    this.expectedEnd = end;
  }

  /** Number of symbols received so far (a contiguous prefix). */
  get prefix(): number {
    return this.residual.length;
  }

  /** Items recovered so far. */
  get recoveredCount(): number {
    return this.recovered.size;
  }

  /** Appends the peer's symbols [prefix, prefix + count), packed in `bytes` at `offset`, and peels. */
  append(bytes: Uint8Array, offset: number, count: number): void {
    const from = this.prefix;
    const to = from + count;
    // Our own symbols come from a pass over our whole set, so make them a batch ahead, not per chunk.
    if (this.ownSymbols.length < to) this.own.extend(Math.max(to, this.expectedEnd, 2 * this.ownSymbols.length), this.ownSymbols);
    const r = this.residual;
    const o = this.ownSymbols;
    r.grow(to);
    r.xorPacked(from, bytes, offset, count);
    if (this.rawEmpty.length < to) this.rawEmpty = growBytes(this.rawEmpty, Math.max(to, 2 * this.rawEmpty.length));
    for (let i = from; i < to; i++) {
      r.hi[i]! ^= o.hi[i]!;
      r.lo[i]! ^= o.lo[i]!;
      r.chk[i]! ^= o.chk[i]!;
      this.rawEmpty[i] = r.isEmpty(i) ? 1 : 0;
    }
    this.recovered.extend(to, r);
    for (let i = from; i < to; i++) this.queue.push(i);
    this.peel();
  }

  /**
   * Estimated size of the whole difference from the symbols so far (see
   * estimator.ts), or undefined while too few of them were empty to tell
   * (the prefix is still far shorter than d).
   */
  estimateDifference(atMost: number): number | undefined {
    let empties = 0;
    for (let i = 1; i < this.prefix; i++) empties += this.rawEmpty[i]!;
    return empties < 8 ? undefined : estimateFromSymbols(this.rawEmpty, this.prefix, 1, atMost);
  }

  /** True when every residual is empty: the whole difference is recovered (to be confirmed by digest). */
  isComplete(): boolean {
    const r = this.residual;
    if (r.length === 0 || !r.isEmpty(0)) return false;
    for (let i = 1; i < r.length; i++) if (!r.isEmpty(i)) return false;
    return true;
  }

  /** True when applying the recovered difference to our digest gives the peer's `count` and `fp`. */
  confirms(localDigest: SetDigest, count: number, fp: Uint8Array): boolean {
    const d = localDigest.clone();
    const diff = this.difference();
    for (const x of diff.localOnly) d.remove(Number(x >> 32n), Number(x & 0xffffffffn));
    for (const x of diff.remoteOnly) d.add(Number(x >> 32n), Number(x & 0xffffffffn));
    return d.matches(count, fp);
  }

  /** The difference recovered so far. */
  difference(): Difference {
    const localOnly: bigint[] = [];
    const remoteOnly: bigint[] = [];
    for (let k = 0; k < this.isLocal.length; k++) {
      (this.isLocal[k] ? localOnly : remoteOnly).push(toBigInt(this.recovered.keyHi(k), this.recovered.keyLo(k)));
    }
    const asc = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);
    return { localOnly: localOnly.sort(asc), remoteOnly: remoteOnly.sort(asc) };
  }

  private peel(): void {
    const r = this.residual;
    while (this.queue.length > 0) {
      const i = this.queue.pop()!;
      if (r.isEmpty(i)) continue;
      const hi = r.hi[i]!;
      const lo = r.lo[i]!;
      if (r.chk[i] !== checksum(hi, lo, this.salt)) continue;
      if (!mapsTo(hi, lo, this.salt, i)) {
        this.rejectedPure++;
        continue;
      }
      const k = this.recovered.add(hi, lo);
      this.isLocal.push(this.local.has(hi, lo));
      this.recovered.extendOne(k, this.prefix, r, this.queue);
    }
  }
}

function growBytes(a: Uint8Array, size: number): Uint8Array {
  const b = new Uint8Array(size);
  b.set(a);
  return b;
}
