/**
 * The CBOR gate: one linear pass over an incoming datagram that decides
 * whether its bytes are CBOR we are willing to hand to cbor-x at all.
 *
 * How this works: `scanCbor` walks the item tree by its headers alone (it
 * builds no values), depth-first with a depth bound, and answers 'ok',
 * 'malformed' (not well-formed CBOR: truncated, reserved header values,
 * trailing bytes, a length past the end) or 'forbidden' (well-formed, but
 * outside the subset our wire format uses). The subset is what JSON could
 * carry plus byte strings: definite-length arrays, maps with text keys, text
 * and byte strings, integers that JavaScript holds exactly, floats, false,
 * true and null. No tags, no indefinite lengths, no other simple values.
 *
 * Why a gate in front of cbor-x instead of its own knobs (cbor-x 1.6.8):
 * - Tags. Bignum tags 2 and 3 decode in quadratic time (64 KiB: ~0.8 s).
 *   `addExtension` could replace those two, but tags 0xdff9..0xdfff (record
 *   definitions, bundled strings) are interpreted before the extension table
 *   is consulted, even with `useRecords: false`, and tag 259 flips the
 *   decoder's `mapsAsObjects`. Only refusing tags before decoding refuses
 *   them all.
 * - Scope. `addExtension` and `setSizeLimits` change module-level state of
 *   cbor-x, that is the decoding of every other cbor-x user in the process
 *   (storage, client protocol). The gate keeps our strictness to our bytes.
 * - Depth. cbor-x recurses per nesting level; 60 KiB of 0x81 overflows the
 *   stack. The gate stops at `maxDepth` and never recurses deeper itself.
 * - Cost. What cbor-x spends follows the number of items, text strings
 *   above all, far more than the number of bytes (64 KiB of one-byte items:
 *   ~3 ms; of short non-ASCII strings: ~2.6 ms; one 64 KiB string: ~0.5 ms).
 *   So the gate bounds items, text strings and non-ASCII text per datagram,
 *   and array and map lengths, which `setSizeLimits` would have done, in
 *   part, globally.
 * The pass costs about 10 ns per item and allocates nothing but its stack.
 */

/** What the gate thinks of a buffer. */
export type CborVerdict = 'ok' | 'malformed' | 'forbidden';

/** Bounds the gate enforces. */
export interface CborGuardLimits {
  /** Nesting depth of arrays and maps; a top-level scalar is depth 0, `[1]` depth 1. */
  readonly maxDepth: number;
  readonly maxArrayLength: number;
  readonly maxMapEntries: number;
  /**
   * Items in the whole datagram (every scalar, string, array and map counts
   * one). What a decoder spends is about linear in items, not bytes: 64 KiB of
   * one-byte items costs cbor-x ~1.5 ms, one 64 KiB string a few µs.
   */
  readonly maxItems: number;
  /** Text strings in the whole datagram. */
  readonly maxTextStrings: number;
  /**
   * Text strings with any non-ASCII byte, and their bytes in all. ASCII is
   * cheap for cbor-x (runs of it are decoded in one block); every other
   * string costs a UTF-8 decode of its own, ~0.3-0.5 µs each plus ~9 ns
   * per byte here.
   */
  readonly maxNonAsciiTextStrings: number;
  readonly maxNonAsciiTextBytes: number;
}

/** Thrown inside the scan only, caught in `scanCbor`; carries the verdict. */
class Reject {
  constructor(readonly verdict: Exclude<CborVerdict, 'ok'>) {}
}
const MALFORMED = new Reject('malformed');
const FORBIDDEN = new Reject('forbidden');

/** Largest 8-byte argument high word that keeps the value <= 2^53 - 1. */
const MAX_SAFE_HIGH_WORD = 0x1f_ffff;

/** Checks that `bytes` hold exactly one CBOR item of the accepted subset within `limits`. Throws only on a bug of its own. */
export function scanCbor(bytes: Uint8Array, limits: CborGuardLimits): CborVerdict {
  const scanner = new Scanner(bytes, limits);
  try {
    if (bytes.length === 0) return 'malformed';
    scanner.item(0);
    // One item per datagram: anything after it is junk, not a second message.
    return scanner.pos === bytes.length ? 'ok' : 'malformed';
  } catch (err) {
    if (err instanceof Reject) return err.verdict;
    throw err; // a bug in the scanner itself: fail loudly
  }
}

class Scanner {
  pos = 0;
  private itemsLeft: number;
  private textStringsLeft: number;
  private nonAsciiStringsLeft: number;
  private nonAsciiBytesLeft: number;
  constructor(
    private readonly b: Uint8Array,
    private readonly limits: CborGuardLimits,
  ) {
    this.itemsLeft = limits.maxItems;
    this.textStringsLeft = limits.maxTextStrings;
    this.nonAsciiStringsLeft = limits.maxNonAsciiTextStrings;
    this.nonAsciiBytesLeft = limits.maxNonAsciiTextBytes;
  }

  /** Skips one item whose container is at `depth`. */
  item(depth: number): void {
    if (--this.itemsLeft < 0) throw FORBIDDEN;
    const initial = this.byte();
    const major = initial >> 5;
    const info = initial & 0x1f;
    if (major === 7) return this.simple(info);
    if (major === 6) throw FORBIDDEN; // every tag, before its content is touched
    if (info === 31) throw major >= 2 ? FORBIDDEN : MALFORMED; // indefinite length; break out of place
    const arg = this.argument(info, major);
    switch (major) {
      case 0:
      case 1:
        return;
      case 2:
        return this.skip(arg);
      case 3:
        if (--this.textStringsLeft < 0) throw FORBIDDEN;
        if (arg > this.b.length - this.pos) throw MALFORMED;
        if (!this.isAscii(this.pos, this.pos + arg)) {
          if (--this.nonAsciiStringsLeft < 0 || (this.nonAsciiBytesLeft -= arg) < 0) throw FORBIDDEN;
        }
        this.pos += arg;
        return;
      case 4:
        if (depth >= this.limits.maxDepth) throw FORBIDDEN;
        if (arg > this.limits.maxArrayLength) throw FORBIDDEN;
        if (arg > this.b.length - this.pos) throw MALFORMED; // each item takes at least one byte
        for (let i = 0; i < arg; i++) this.item(depth + 1);
        return;
      default: // 5: map
        if (depth >= this.limits.maxDepth) throw FORBIDDEN;
        if (arg > this.limits.maxMapEntries) throw FORBIDDEN;
        if (arg * 2 > this.b.length - this.pos) throw MALFORMED;
        for (let i = 0; i < arg; i++) {
          // Text keys only: cbor-x stringifies other scalar keys and throws on the rest.
          if (this.pos >= this.b.length) throw MALFORMED;
          if (this.b[this.pos]! >> 5 !== 3) throw FORBIDDEN;
          this.item(depth + 1);
          this.item(depth + 1);
        }
        return;
    }
  }

  /** Major type 7: false, true, null and floats pass; undefined and simple values do not. */
  private simple(info: number): void {
    if (info >= 20 && info <= 22) return;
    if (info >= 25 && info <= 27) return this.skip(1 << (info - 24));
    if (info >= 28) throw MALFORMED; // reserved, or a break outside an indefinite item
    throw FORBIDDEN; // 0..19, 23 (undefined), 24 (one-byte simple value)
  }

  /** Reads the header argument; lengths and integers beyond 2^53 - 1 are refused. */
  private argument(info: number, major: number): number {
    if (info < 24) return info;
    if (info === 24) return this.byte();
    if (info === 25) return (this.byte() << 8) | this.byte();
    if (info === 26) return ((this.byte() << 24) >>> 0) + ((this.byte() << 16) | (this.byte() << 8) | this.byte());
    if (info === 27) {
      // cbor-x decodes an 8-byte negative integer with `~`, which truncates it to
      // 32 bits (-(2^31)-1 comes out as +2147483647): refuse the form outright.
      if (major === 1) throw FORBIDDEN;
      const high = this.argument(26, 0);
      const low = this.argument(26, 0);
      if (high > MAX_SAFE_HIGH_WORD) throw major === 0 ? FORBIDDEN : MALFORMED;
      return high * 0x1_0000_0000 + low;
    }
    throw MALFORMED; // 28..30 are reserved
  }

  private isAscii(start: number, end: number): boolean {
    for (let i = start; i < end; i++) if (this.b[i]! >= 0x80) return false;
    return true;
  }

  private byte(): number {
    if (this.pos >= this.b.length) throw MALFORMED;
    return this.b[this.pos++]!;
  }

  private skip(n: number): void {
    if (n > this.b.length - this.pos) throw MALFORMED;
    this.pos += n;
  }
}
