/**
 * Packets larger than the datagram budget, split and joined again.
 *
 * How this works: the sender encodes the whole packet (up to the codec's
 * 64 KiB limit), cuts it into pieces that each fit the budget inside a
 * `frag` message, and sends every piece as its own datagram. The receiver
 * keeps pieces per (sender, xid) until all have arrived, then hands the
 * joined bytes back to be decoded as one datagram; duplicates are ignored
 * and an incomplete packet expires. Bounded: at most `maxPending` packets
 * in reassembly (the oldest is dropped first), each at most maxFragParts.
 */
import { assemblePacket, encodeMessage, packetOverhead } from './wire/codec.ts';
import type { Frag, PacketHeader } from './wire/messages.ts';
import type { NodeId, TimeMs } from './types.ts';

/** Splits `packet` into frag messages whose datagrams each fit `budgetBytes`. */
export function fragmentPacket(header: PacketHeader, packet: Uint8Array, xid: number, budgetBytes: number): Uint8Array[] {
  // Room for the bytes: the budget less the header, the frag's own fields (at their widest) and the byte-string prefix.
  const fixed = encodeMessage({ type: 'frag', xid: 0xffffffff, part: 63, parts: 64, bytes: new Uint8Array(0) }).length;
  const room = budgetBytes - packetOverhead(header, 1) - fixed - 3;
  const parts = Math.ceil(packet.length / room);
  const out: Uint8Array[] = [];
  for (let i = 0; i < parts; i++) {
    const msg: Frag = { type: 'frag', xid, part: i, parts, bytes: packet.subarray(i * room, (i + 1) * room) };
    out.push(assemblePacket(header, [encodeMessage(msg)]));
  }
  return out;
}

interface Pending {
  pieces: (Uint8Array | undefined)[];
  have: number;
  startedAt: TimeMs;
}

export class Reassembler {
  private readonly pending = new Map<string, Pending>();
  dropped = 0;

  constructor(
    private readonly maxPending = 64,
    private readonly expireMs = 10_000,
  ) {}

  /** Adds one piece; returns the whole packet once its last piece arrives. */
  add(now: TimeMs, from: NodeId, f: Frag): Uint8Array | undefined {
    this.expire(now);
    const key = `${from}/${f.xid}`;
    let p = this.pending.get(key);
    if (!p) {
      p = { pieces: new Array(f.parts).fill(undefined), have: 0, startedAt: now };
      this.pending.set(key, p);
      if (this.pending.size > this.maxPending) {
        this.pending.delete(this.pending.keys().next().value as string);
        this.dropped++;
      }
    }
    if (p.pieces.length !== f.parts) {
      this.dropped++;
      return undefined;
    }
    if (p.pieces[f.part] !== undefined) return undefined;
    p.pieces[f.part] = f.bytes;
    p.have++;
    if (p.have < f.parts) return undefined;
    this.pending.delete(key);
    const total = p.pieces.reduce((n, b) => n + b!.length, 0);
    const out = new Uint8Array(total);
    let pos = 0;
    for (const b of p.pieces) out.set(b!, pos), (pos += b!.length);
    return out;
  }

  private expire(now: TimeMs): void {
    for (const [key, p] of this.pending) {
      if (now - p.startedAt <= this.expireMs) break;
      this.pending.delete(key);
      this.dropped++;
    }
  }
}
