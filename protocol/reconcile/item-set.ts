/**
 * The set one side reconciles: an immutable, sorted snapshot of 64-bit item
 * hashes (hashes of (contact id, version)), plus its whole-set digest.
 *
 * How this works: the items live in one BigUint64Array, sorted and without
 * duplicates, viewed as interleaved u32 words so the hot loops (symbol
 * coding, membership tests) never create a BigInt. A session works on one
 * snapshot from start to end, because a set that changed mid-session would
 * make the peer's coded symbols disagree with ours. Contacts keep being
 * written, so a new snapshot is derived from the last one with
 * `withChanges`: O(n) copying of sorted runs plus O(k log n) searches for k
 * changes, and the digest is updated in O(k) (it is a sum and an XOR).
 * Coded symbols are not kept between sessions: each session salts the item →
 * symbol mapping with its id (so a retry is independent of a failed attempt)
 * and builds only the prefix of symbols it needs, which takes milliseconds.
 */
import { SetDigest } from './digest.ts';
import { HI_WORD, LO_WORD } from './hash.ts';

/** Wire bytes of one item in the plain list (u64 little-endian). */
export const ITEM_BYTES = 8;

/** A symmetric difference, each side sorted ascending. */
export interface Difference {
  /** Items we hold and the peer lacks. */
  localOnly: bigint[];
  /** Items the peer holds and we lack. */
  remoteOnly: bigint[];
}

/** An immutable sorted set of 64-bit items. */
export class ItemSet {
  /** Sorted, unique. Never mutated after construction. */
  readonly items: BigUint64Array;
  /** `items` viewed as u32 words: item k is (words[2k+HI_WORD], words[2k+LO_WORD]). */
  readonly words: Uint32Array;
  /** Count and 128-bit accumulator of the whole set. */
  readonly digest: SetDigest;

  private constructor(sortedUnique: BigUint64Array, digest?: SetDigest) {
    this.items = sortedUnique;
    this.words = new Uint32Array(sortedUnique.buffer, sortedUnique.byteOffset, sortedUnique.length * 2);
    this.digest = digest ?? SetDigest.ofWords(this.words);
  }

  /** Builds a set from items in any order; duplicates collapse. */
  static from(items: Iterable<bigint> | BigUint64Array): ItemSet {
    const arr = items instanceof BigUint64Array ? items.slice() : BigUint64Array.from(items);
    arr.sort();
    let w = 0;
    for (let r = 0; r < arr.length; r++) if (r === 0 || arr[r] !== arr[w - 1]) arr[w++] = arr[r]!;
    return new ItemSet(w === arr.length ? arr : arr.slice(0, w));
  }

  /** The empty set. */
  static empty(): ItemSet {
    return new ItemSet(new BigUint64Array(0));
  }

  get size(): number {
    return this.items.length;
  }

  hi(k: number): number {
    return this.words[2 * k + HI_WORD]!;
  }

  lo(k: number): number {
    return this.words[2 * k + LO_WORD]!;
  }

  /** Index of the first item >= (hi, lo). */
  lowerBound(hi: number, lo: number): number {
    const words = this.words;
    let a = 0;
    let b = this.items.length;
    while (a < b) {
      const mid = (a + b) >>> 1;
      const mh = words[2 * mid + HI_WORD]!;
      if (mh < hi || (mh === hi && words[2 * mid + LO_WORD]! < lo)) a = mid + 1;
      else b = mid;
    }
    return a;
  }

  /** True when (hi, lo) is in the set. */
  has(hi: number, lo: number): boolean {
    const k = this.lowerBound(hi, lo);
    return k < this.items.length && this.hi(k) === hi && this.lo(k) === lo;
  }

  /** Items [from, to) as the list goes on the wire (ITEM_BYTES each). */
  pack(from: number, to: number): Uint8Array {
    const out = new Uint8Array((to - from) * ITEM_BYTES);
    const view = new DataView(out.buffer);
    for (let k = from; k < to; k++) {
      view.setUint32((k - from) * ITEM_BYTES, this.lo(k), true);
      view.setUint32((k - from) * ITEM_BYTES + 4, this.hi(k), true);
    }
    return out;
  }

  /** The symmetric difference with `remote`, by one merge pass over both sorted arrays. */
  differenceWith(remote: ItemSet): Difference {
    const a = this.items;
    const b = remote.items;
    const localOnly: bigint[] = [];
    const remoteOnly: bigint[] = [];
    let i = 0;
    let j = 0;
    while (i < a.length && j < b.length) {
      const x = a[i]!;
      const y = b[j]!;
      if (x <= y) i++;
      if (y <= x) j++;
      if (x < y) localOnly.push(x);
      else if (y < x) remoteOnly.push(y);
    }
    for (; i < a.length; i++) localOnly.push(a[i]!);
    for (; j < b.length; j++) remoteOnly.push(b[j]!);
    return { localOnly, remoteOnly };
  }

  /**
   * A new snapshot with `added` inserted and `removed` taken out (absent
   * removals and present additions are ignored). This snapshot is unchanged.
   */
  withChanges(added: Iterable<bigint>, removed: Iterable<bigint>): ItemSet {
    const drop = new Set<number>();
    for (const x of removed) {
      const k = this.lowerBound(Number(x >> 32n), Number(x & 0xffffffffn));
      if (k < this.size && this.items[k] === x) drop.add(k);
    }
    const add = ItemSet.from(added).items.filter((x) => !this.has(Number(x >> 32n), Number(x & 0xffffffffn)));
    const digest = this.digest.clone();
    for (const k of drop) digest.remove(this.hi(k), this.lo(k));
    const addSet = new ItemSet(add);
    for (let j = 0; j < add.length; j++) digest.add(addSet.hi(j), addSet.lo(j));

    // Merge the kept runs of the old array (copied whole) with the sorted additions.
    const drops = [...drop].sort((a, b) => a - b);
    const out = new BigUint64Array(this.size - drops.length + add.length);
    let o = 0;
    let r = 0;
    let d = 0;
    const copyUpTo = (stop: number): void => {
      while (r < stop) {
        const end = Math.min(stop, drops[d] ?? stop);
        out.set(this.items.subarray(r, end), o);
        o += end - r;
        r = end;
        if (r < stop && r === drops[d]) {
          r++;
          d++;
        }
      }
    };
    for (let j = 0; j < add.length; j++) {
      copyUpTo(this.lowerBound(addSet.hi(j), addSet.lo(j)));
      out[o++] = add[j]!;
    }
    copyUpTo(this.size);
    return new ItemSet(out, digest);
  }
}

/** Writes `count` packed items (see ItemSet.pack) from `bytes` at `offset` into `items` from index `at`. */
export function unpackItems(bytes: Uint8Array, offset: number, count: number, items: BigUint64Array, at: number): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * ITEM_BYTES);
  const words = new Uint32Array(items.buffer, items.byteOffset, items.length * 2);
  for (let k = 0; k < count; k++) {
    words[2 * (at + k) + LO_WORD] = view.getUint32(k * ITEM_BYTES, true);
    words[2 * (at + k) + HI_WORD] = view.getUint32(k * ITEM_BYTES + 4, true);
  }
}
