/**
 * The whole-set digest: what two peers compare first, and what proves a
 * decoded difference right at the end.
 *
 * How this works: each item contributes two 64-bit hashes, one added into a
 * sum mod 2^64 and one XORed into an accumulator; with the item count that is
 * the digest, and its 16 accumulator bytes are the fingerprint on the wire.
 * Both combiners are commutative and invertible, so adding or removing an
 * item costs O(1): the store keeps the digest up to date as contacts are
 * written, and the decoder checks a candidate difference in O(d) by applying
 * it to the local digest and comparing with the peer's. Two different sets
 * agree on it with probability about 2^-128 (the hashes are not
 * cryptographic; the peers are trusted). We send the accumulator itself
 * rather than a hash of it: its words are already hash outputs, and keeping
 * it linear is what makes the O(d) check possible.
 */
import { hashItem, HI_WORD, LO_WORD, SEED } from './hash.ts';

/** Bytes of the fingerprint on the wire. */
export const FINGERPRINT_BYTES = 16;

/** Count, 64-bit sum and 64-bit XOR of the item hashes of a set. */
export class SetDigest {
  count = 0;
  private sumLo = 0;
  private sumHi = 0;
  private xorLo = 0;
  private xorHi = 0;

  /** Digest of interleaved words as held by ItemSet. */
  static ofWords(words: Uint32Array): SetDigest {
    const d = new SetDigest();
    for (let w = 0; w < words.length; w += 2) d.add(words[w + HI_WORD]!, words[w + LO_WORD]!);
    return d;
  }

  clone(): SetDigest {
    const d = new SetDigest();
    d.count = this.count;
    d.sumLo = this.sumLo;
    d.sumHi = this.sumHi;
    d.xorLo = this.xorLo;
    d.xorHi = this.xorHi;
    return d;
  }

  /** Accounts for item (hi, lo) joining the set. */
  add(hi: number, lo: number): void {
    this.addSum(hashItem(hi, lo, SEED.fingerprintSumHi), hashItem(hi, lo, SEED.fingerprintSum), 1);
    this.toggle(hi, lo);
    this.count++;
  }

  /** Accounts for item (hi, lo) leaving the set. */
  remove(hi: number, lo: number): void {
    this.addSum(hashItem(hi, lo, SEED.fingerprintSumHi), hashItem(hi, lo, SEED.fingerprintSum), -1);
    this.toggle(hi, lo);
    this.count--;
  }

  /** The 16 accumulator bytes (sum then XOR, little-endian). */
  fingerprint(): Uint8Array {
    const out = new Uint8Array(FINGERPRINT_BYTES);
    const view = new DataView(out.buffer);
    view.setUint32(0, this.sumLo, true);
    view.setUint32(4, this.sumHi, true);
    view.setUint32(8, this.xorLo, true);
    view.setUint32(12, this.xorHi, true);
    return out;
  }

  /** True when this digest has `count` items and fingerprint `fp`. */
  matches(count: number, fp: Uint8Array): boolean {
    const mine = this.fingerprint();
    return count === this.count && fp.length === FINGERPRINT_BYTES && mine.every((b, i) => b === fp[i]);
  }

  private toggle(hi: number, lo: number): void {
    this.xorLo = (this.xorLo ^ hashItem(hi, lo, SEED.fingerprintXor)) >>> 0;
    this.xorHi = (this.xorHi ^ hashItem(hi, lo, SEED.fingerprintXorHi)) >>> 0;
  }

  /** sum += sign * (hi:lo) mod 2^64, in u32 halves. */
  private addSum(hi: number, lo: number, sign: 1 | -1): void {
    if (sign < 0) {
      // Two's complement negation of the 64-bit value.
      lo = (~lo + 1) >>> 0;
      hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
    }
    const l = this.sumLo + lo;
    this.sumLo = l >>> 0;
    this.sumHi = (this.sumHi + hi + (l > 0xffffffff ? 1 : 0)) >>> 0;
  }
}
