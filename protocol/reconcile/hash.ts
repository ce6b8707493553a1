/**
 * Hashing for set reconciliation, in 32-bit integer arithmetic only.
 *
 * How this works: an item is a 64-bit hash split into two u32 words (hi, lo),
 * so hot loops never touch BigInt. `hashItem` is MurmurHash3 (x86, 32-bit)
 * of those 8 bytes under a seed; different seeds give the independent-looking
 * hashes we need (checksum, mapping generator, estimator cells, set
 * fingerprint). It is not cryptographic: the peers are trusted, and what we
 * need is that structured inputs (sequential keys, XORs of keys) look random.
 * Crucially it is not linear over XOR, so the checksum of a XOR of keys is
 * unrelated to the XOR of their checksums: that is what exposes an impure
 * coded symbol.
 *
 * `nextIndex` is the rateless IBLT mapping (Yang, Gilad, Alizadeh, SIGCOMM
 * 2024): an item maps to coded symbol 0 and then to index k with probability
 * 2/(k+2), which makes the expected number of items per symbol fall off as
 * 1/k so that any prefix of the stream is a good IBLT for its own length. We
 * sample the gap exactly: the chance to skip every index in (i, j] is
 * prod k/(k+2) = (i+1)(i+2)/((j+1)(j+2)), which inverts in closed form. It uses
 * only IEEE-754 arithmetic and Math.sqrt (correctly rounded), so every
 * platform computes the same indexes.
 */

/** Seed domains: one per use, so the hashes of an item are unrelated. */
export const SEED = {
  checksum: 0x9e3779b1,
  mapping: 0x85ebca77,
  fingerprintSum: 0xc2b2ae3d,
  fingerprintSumHi: 0x27d4eb2f,
  fingerprintXor: 0x165667b1,
  fingerprintXorHi: 0xd3a2646c,
  estimateLevel: 0xfd7046c5,
  estimateDense: 0xb55a4f09,
  estimateDense2: 0x7feb352d,
  estimateValue: 0x4cf5ad43,
} as const;

/** MurmurHash3's finaliser: a bijection on u32 with full avalanche. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function murmurRound(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** MurmurHash3_x86_32 of the 8 little-endian bytes of (hi, lo) under `seed`. */
export function hashItem(hi: number, lo: number, seed: number): number {
  let h = murmurRound(seed | 0, lo);
  h = murmurRound(h, hi);
  return mix32(h ^ 8);
}

/** One step of the per-item generator: a full-period LCG mod 2^32 (its weak low bits are mixed on output). */
export function stepGenerator(state: number): number {
  return (Math.imul(state, 0x2c9277b5) + 0xac564b05) >>> 0;
}

/** The next symbol index after `index` for an item whose generator produced `state`. */
export function nextIndex(index: number, state: number): number {
  // 1/u for u uniform in (0, 1]: u is never 0, so the jump is finite (at most a factor 2^16 in index).
  // One division and one square root: this is the inner step of all symbol coding.
  const inverseU = 0x100000000 / (mix32(state) + 1);
  const j = Math.floor(Math.sqrt((index + 1) * (index + 2) * inverseU + 0.25) - 1.5) + 1;
  return j > index ? j : index + 1;
}

/** Probability that an item maps to symbol `index` (1 for index 0). */
export function mappingProbability(index: number): number {
  return 2 / (index + 2);
}

/** Little-endian when the platform's typed arrays are (every Node target in practice). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Offsets of the low and high u32 word inside one 64-bit element of a typed array. */
export const LO_WORD = LITTLE_ENDIAN ? 0 : 1;
export const HI_WORD = LITTLE_ENDIAN ? 1 : 0;

/** Joins two u32 words into a bigint (only for the d items of a result, never per set item). */
export function toBigInt(hi: number, lo: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}
