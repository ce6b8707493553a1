/**
 * Cheap small byte buffers for datagrams and encoded messages.
 *
 * Why: in V8 a `new Uint8Array(n)` (or `.slice()`) over 64 bytes gets its
 * own off-heap backing store, which costs about a microsecond, more than
 * everything else the simulator does per datagram put together. A slab
 * hands out views into one large buffer instead (about 0.15 µs each); a
 * slab is freed by the garbage collector when no view into it is left, so
 * a view kept long (a queued broadcast) holds its whole slab: the codec
 * uses small slabs. Node's dgram does the same (received Buffers share a
 * pool), so code that forgets `byteOffset` breaks here as it would in the
 * daemon. Memory is never handed out twice: views never alias.
 */

const DEFAULT_SLAB_BYTES = 256 * 1024;

/** Hands out fresh, independent byte views carved from large shared slabs. */
export class ByteSlab {
  private slab: Uint8Array;
  private used = 0;

  constructor(private readonly slabBytes = DEFAULT_SLAB_BYTES) {
    this.slab = new Uint8Array(slabBytes);
  }

  /** A zeroed view of `n` bytes that no other caller shares. */
  alloc(n: number): Uint8Array {
    if (n > this.slabBytes >>> 3) return new Uint8Array(n); // big: not worth a slab
    if (this.used + n > this.slab.length) {
      this.slab = new Uint8Array(this.slabBytes);
      this.used = 0;
    }
    const view = this.slab.subarray(this.used, this.used + n);
    // Keep views 8-byte aligned so a core may lay a DataView or wider array over one.
    this.used += (n + 7) & ~7;
    return view;
  }

  /** An independent copy of `bytes`. */
  copy(bytes: Uint8Array): Uint8Array {
    const view = this.alloc(bytes.length);
    view.set(bytes);
    return view;
  }
}
