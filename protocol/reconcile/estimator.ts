/**
 * Estimating the size d of the difference, so that a batch of coded symbols
 * can be sized to finish in one round trip instead of doubling blindly.
 *
 * How this works: a "cell" is the XOR of one byte per item over the items
 * sampled into it, each item independently with a known probability q. The
 * XOR of our cell with the peer's is empty when no difference item fell in
 * it, which happens with probability (1-q)^d. Given many cells at many
 * sampling rates, the d that best explains which residual cells are empty is
 * a maximum-likelihood estimate; with the cells below it lands within about
 * ±25% (one sigma) of the truth from d = 3 to d = 200,000, for 4 bytes per
 * octave of set size plus 11.
 *
 * Cells (4 bits each, from four hashes of the item under the session salt):
 * - 21 dense cells for small d, with q = 1/4, 1/8 and 1/16, each on its own
 *   bits of two hashes, so memberships are independent;
 * - strata for large d: the item's level (leading zeros of a hash) and one of
 *   8 buckets pick exactly one cell, q = 2^-(level+1)/8 (the last level takes
 *   the rest of the tail).
 * An item's nibble is never 0, so one item alone always shows; two or more
 * cancel with probability about 1/15, which the likelihood accounts for.
 *
 * The same likelihood, fed with which of the symbols received so far were
 * empty once XORed with ours (probability (1 - 2/(i+2))^d), re-estimates d
 * when a batch fell short, far more precisely than the cells.
 */
import { hashItem, HI_WORD, LO_WORD, mappingProbability, SEED } from './hash.ts';

/** Dense cells for small d: [bits, cells]; a cell samples an item when its `bits` hash bits are all 0. */
const DENSE_GROUPS: readonly (readonly [number, number])[] = [
  [2, 8],
  [3, 8],
  [4, 5],
];
const DENSE_CELLS = DENSE_GROUPS.reduce((n, [, cells]) => n + cells, 0);
const BUCKETS = 8;

/** Strata levels for sets of up to `maxCount` items: enough to resolve d up to 2·maxCount. */
export function strataLevels(maxCount: number): number {
  return Math.max(4, Math.min(24, Math.ceil(Math.log2((2 * maxCount) / BUCKETS + 1)) + 1));
}

function cellCount(maxCount: number): number {
  return DENSE_CELLS + BUCKETS * strataLevels(maxCount);
}

/** Bytes of the estimator cells for sets of up to `maxCount` items (4-bit cells, two per byte). */
export function estimatorBytes(maxCount: number): number {
  return Math.ceil(cellCount(maxCount) / 2);
}

/** Builds the estimator cells of a set (interleaved words as in ItemSet), packed two per byte. */
export function estimatorCells(words: Uint32Array, maxCount: number, salt: number): Uint8Array {
  const levels = strataLevels(maxCount);
  const cells = new Uint8Array(cellCount(maxCount));
  for (let w = 0; w < words.length; w += 2) {
    const hi = words[w + HI_WORD]!;
    const lo = words[w + LO_WORD]!;
    const value = 1 + (hashItem(hi, lo, SEED.estimateValue ^ salt) % 15);
    // Dense cells draw their bits from two hashes; a group never straddles the two words.
    let bits = hashItem(hi, lo, SEED.estimateDense ^ salt);
    let left = 32;
    let c = 0;
    for (const [width, count] of DENSE_GROUPS) {
      for (let k = 0; k < count; k++, c++) {
        if (left < width) {
          bits = hashItem(hi, lo, SEED.estimateDense2 ^ salt);
          left = 32;
        }
        if ((bits & ((1 << width) - 1)) === 0) cells[c]! ^= value;
        bits >>>= width;
        left -= width;
      }
    }
    const h = hashItem(hi, lo, SEED.estimateLevel ^ salt);
    const level = Math.min(Math.clz32(h | (BUCKETS - 1)), levels - 1);
    cells[DENSE_CELLS + level * BUCKETS + (h & (BUCKETS - 1))]! ^= value;
  }
  const packed = new Uint8Array(estimatorBytes(maxCount));
  for (let k = 0; k < cells.length; k++) packed[k >> 1]! |= cells[k]! << (4 * (k & 1));
  return packed;
}

/** A group of observations sharing a sampling probability: how many, how many empty. */
interface Group {
  q: number;
  total: number;
  empty: number;
}

/** Estimated difference size from our packed cells and the peer's (same layout), at least `atLeast`. */
export function estimateFromCells(ours: Uint8Array, theirs: Uint8Array, maxCount: number, atLeast: number): number {
  const levels = strataLevels(maxCount);
  const groups: Group[] = [];
  const isEmpty = (k: number): boolean => ((ours[k >> 1]! ^ theirs[k >> 1]!) >> (4 * (k & 1))) % 16 === 0;
  const group = (q: number, from: number, count: number): void => {
    let empty = 0;
    for (let k = from; k < from + count; k++) if (isEmpty(k)) empty++;
    groups.push({ q, total: count, empty });
  };
  let c = 0;
  for (const [width, count] of DENSE_GROUPS) {
    group(2 ** -width, c, count);
    c += count;
  }
  for (let l = 0; l < levels; l++) {
    const q = (l < levels - 1 ? 2 ** -(l + 1) : 2 ** -l) / BUCKETS;
    group(q, DENSE_CELLS + l * BUCKETS, BUCKETS);
  }
  return maximumLikelihood(groups, 1 / 15, Math.max(1, atLeast), 4 * maxCount + 16);
}

/**
 * Estimated size of the whole difference from which of the first `length`
 * symbols of (ours XOR theirs) were empty, before any peeling: at that point
 * every difference item is in them independently. (After peeling the
 * unknown items are a stopping set, not a random sample, and would look
 * several times fewer than they are.)
 */
export function estimateFromSymbols(emptyFlags: Uint8Array, length: number, atLeast: number, atMost: number): number {
  // Bin indexes by sampling probability (bins 1/16 octave wide) to keep the likelihood cheap.
  const groups: Group[] = [];
  let i = 1;
  while (i < length) {
    const end = Math.min(length, Math.max(i + 1, Math.floor(i * 1.044)));
    let empty = 0;
    for (let j = i; j < end; j++) empty += emptyFlags[j]!;
    groups.push({ q: mappingProbability((i + end - 1) / 2), total: end - i, empty });
    i = end;
  }
  return maximumLikelihood(groups, 0, Math.max(1, atLeast), Math.max(atLeast, atMost));
}

/** The d in [lo, hi] (on a 1/16-octave grid) that maximises the likelihood of the groups. */
function maximumLikelihood(groups: Group[], falseEmpty: number, lo: number, hi: number): number {
  let best = lo;
  let bestLl = -Infinity;
  for (let d = lo; d <= hi; d = Math.max(d + 1, Math.round(d * 1.044))) {
    let ll = 0;
    for (const g of groups) {
      const none = (1 - g.q) ** d;
      const single = d * g.q * (1 - g.q) ** (d - 1);
      const pEmpty = Math.min(1 - 1e-12, Math.max(1e-300, none + (1 - none - single) * falseEmpty));
      ll += g.empty * Math.log(pEmpty) + (g.total - g.empty) * Math.log(1 - pEmpty);
    }
    if (ll > bestLl) {
      bestLl = ll;
      best = d;
    }
  }
  return best;
}
