/**
 * The run's fingerprint: every delivery, every handled timeout, every node
 * event and every fault is folded into one running 64-bit FNV-1a hash, so a
 * test can show that the same seed gives the same run (equal hashes) and
 * another seed a different one, without storing the run.
 *
 * How this works: 64-bit FNV-1a whose unit is a 32-bit word rather than a
 * byte (numbers fold as one or two words, strings one word per UTF-16 code
 * unit): a quarter of the rounds, and as for bytewise FNV the multiply is a
 * bijection, so a difference once folded in never cancels by itself. The
 * state is two 32-bit halves; multiplying by the FNV prime 2^40 + 0x1b3 is
 * `x * 0x1b3 + (x << 40)`, done with exact double arithmetic on the low half
 * and Math.imul on the high half, so no BigInt sits on the hot path.
 * Datagram payloads are first reduced to a 32-bit digest (FNV-1a over
 * little-endian 4-byte groups) and that digest is folded in.
 *
 * For hunting a divergence, an optional ring buffer keeps the last N records
 * as readable lines: run both seeds with `logSize` set and diff the logs.
 */

const TWO_32 = 0x100000000;
const FNV64_OFFSET_HI = 0xcbf29ce4;
const FNV64_OFFSET_LO = 0x84222325;
const FNV64_PRIME_LO = 0x1b3;
const FNV32_OFFSET = 0x811c9dc5;
const FNV32_PRIME = 0x01000193;

/** 32-bit FNV-1a of `bytes` taken four bytes (little-endian) at a time: the digest folded in per payload. */
export function fnv1a32(bytes: Uint8Array): number {
  let h = FNV32_OFFSET;
  const n = bytes.length;
  const whole = n & ~3;
  let i = 0;
  for (; i < whole; i += 4) {
    h = Math.imul(h ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)), FNV32_PRIME);
  }
  for (; i < n; i++) h = Math.imul(h ^ bytes[i]!, FNV32_PRIME);
  return h >>> 0;
}

/** A running 64-bit FNV-1a hash with an optional ring log of readable records. */
export class Trace {
  private hi = FNV64_OFFSET_HI;
  private lo = FNV64_OFFSET_LO;
  private readonly ring: string[] = [];
  private ringNext = 0;
  /** Records folded so far. */
  records = 0;

  /** `logSize` > 0 keeps that many of the latest records as text, for diffing runs. */
  constructor(private readonly logSize = 0) {}

  /** True when readable lines are wanted; callers skip building them otherwise. */
  get logging(): boolean {
    return this.logSize > 0;
  }

  /** Folds one 32-bit word (any integer; only its low 32 bits count). */
  word(x: number): void {
    const lo = (this.lo ^ x) >>> 0;
    const p = lo * FNV64_PRIME_LO; // < 2^41: exact in a double
    const carry = (p - (p >>> 0)) / TWO_32;
    this.hi = (Math.imul(this.hi, FNV64_PRIME_LO) + carry + (lo << 8)) >>> 0;
    this.lo = p >>> 0;
  }

  /** Folds a non-negative integer below 2^53 (a time, a counter) as two words. */
  num(x: number): void {
    this.word(x >>> 0);
    this.word(Math.floor(x / TWO_32) >>> 0);
  }

  /** Folds a string as its UTF-16 code units, then its length (so "ab"+"c" differs from "a"+"bc"). */
  str(s: string): void {
    for (let i = 0; i < s.length; i++) this.word(s.charCodeAt(i));
    this.word(s.length);
  }

  /** Folds a payload by its 32-bit digest and length. */
  payload(bytes: Uint8Array): void {
    this.word(fnv1a32(bytes));
    this.word(bytes.length);
  }

  /** Marks the end of a record; keeps `line()` in the ring when logging. */
  end(line?: () => string): void {
    this.records++;
    if (this.logSize > 0 && line !== undefined) {
      this.ring[this.ringNext] = line();
      this.ringNext = (this.ringNext + 1) % this.logSize;
    }
  }

  /** The hash so far as 16 lowercase hex digits. */
  hash(): string {
    return this.hi.toString(16).padStart(8, '0') + this.lo.toString(16).padStart(8, '0');
  }

  /** The last records as text, oldest first (empty unless constructed with logSize). */
  log(): string[] {
    if (this.ring.length < this.logSize) return [...this.ring];
    return [...this.ring.slice(this.ringNext), ...this.ring.slice(0, this.ringNext)];
  }
}
