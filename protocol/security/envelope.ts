/**
 * The sealed datagram's outer layout: a fixed binary header read without
 * any decoder, then the AEAD output.
 *
 * How this works. Every datagram between members of a keyed cluster is
 *
 *   offset  bytes  field
 *   0       1      kind: SEALED_V1 (0xC5); a plain packet starts with a CBOR array head (0x80..0x9b)
 *   1       4      key id: which cluster key sealed it (keyring.ts)
 *   5       8      sender: its node id (16 hex digits, as 8 bytes)
 *   13      4      sender's boot epoch (raised at every start, persisted)
 *   17      8      sender's boot salt (random at every start)
 *   25      6      counter within that epoch, from 1
 *   31      8      receiver: its node id (all zero: not known yet, a first contact)
 *   39      4      receiver's boot epoch as the sender last heard it (0: not heard yet)
 *   43      …      ciphertext of the plain packet (wire/codec.ts), then a 16-byte tag
 *
 * All integers big-endian. The whole header is the AEAD's associated data,
 * so none of it can be changed without the tag failing. The nonce is the
 * counter (packet-security.ts says why it never repeats under a key).
 * Parsing is a length check and fixed-offset reads: nothing from a stranger
 * reaches a decoder before the tag has verified.
 */
import { invariant, type NodeId } from '../types.ts';
import { TAG_BYTES } from './crypto.ts';

/** First byte of a sealed cluster datagram (version 1). */
export const SEALED_V1 = 0xc5;
/** Bytes of the header. */
export const SEALED_HEADER_BYTES = 43;
/** Bytes of a boot salt. */
export const BOOT_SALT_BYTES = 8;
/** The receiver id of a first contact: the sender does not know who listens at that address yet. */
export const UNKNOWN_NODE = '0000000000000000' as NodeId;
/** Bytes sealing adds to a plain packet. */
export const SEAL_OVERHEAD_BYTES = SEALED_HEADER_BYTES + TAG_BYTES;
/** Counters are 48-bit on the wire. */
export const MAX_COUNTER = 2 ** 48 - 1;
/** Epochs and key ids are u32. */
export const MAX_U32 = 0xffff_ffff;

/** A cluster key's id: a u32 derived from the key itself (keyring.ts). */
export type KeyId = number & { readonly __brand: 'KeyId' };

/** The fields of a sealed datagram's header. */
export interface SealedHeader {
  keyId: KeyId;
  sender: NodeId;
  epoch: number;
  /** Random at every start of the sender: with its id and epoch, what its key is derived from. */
  salt: Uint8Array;
  counter: number;
  /** The receiver, as the sender knows who is at that address; UNKNOWN_NODE on first contact. */
  to: NodeId;
  /** The receiver's epoch as the sender knows it; 0 when it has not heard from the receiver. */
  toEpoch: number;
}

/** True when `bytes` may be a plain CBOR packet (a definite-length array head). */
export function looksPlain(bytes: Uint8Array): boolean {
  const b = bytes[0];
  return b !== undefined && b >= 0x80 && b <= 0x9b;
}

/** The header of a sealed datagram, or undefined when it is too short or not one. */
export function parseSealedHeader(bytes: Uint8Array): SealedHeader | undefined {
  if (bytes.length < SEAL_OVERHEAD_BYTES || bytes[0] !== SEALED_V1) return undefined;
  const epoch = readU32(bytes, 13);
  const counter = ((bytes[25]! << 8) | bytes[26]!) * 0x1_0000_0000 + readU32(bytes, 27);
  if (epoch === 0 || counter === 0) return undefined;
  return {
    keyId: readU32(bytes, 1) as KeyId, sender: nodeIdFromBytes(bytes.subarray(5, 13)), epoch, salt: bytes.subarray(17, 25), counter,
    to: nodeIdFromBytes(bytes.subarray(31, 39)), toEpoch: readU32(bytes, 39),
  };
}

/** Writes `h` into the first SEALED_HEADER_BYTES of `out`; `senderBytes` and `toBytes` are h.sender's and h.to's 8 bytes. */
export function writeSealedHeader(out: Uint8Array, h: SealedHeader, senderBytes: Uint8Array, toBytes: Uint8Array): void {
  out[0] = SEALED_V1;
  writeU32(out, 1, h.keyId);
  out.set(senderBytes, 5);
  writeU32(out, 13, h.epoch);
  out.set(h.salt, 17);
  const high = Math.floor(h.counter / 0x1_0000_0000);
  out[25] = high >>> 8;
  out[26] = high & 0xff;
  writeU32(out, 27, h.counter >>> 0);
  out.set(toBytes, 31);
  writeU32(out, 39, h.toEpoch);
}

/** Writes the AEAD nonce for `counter` into `out` (NONCE_BYTES): six zero bytes, then the counter. */
export function writeCounterNonce(out: Uint8Array, counter: number): Uint8Array {
  const high = Math.floor(counter / 0x1_0000_0000);
  out.fill(0, 0, 6);
  out[6] = high >>> 8;
  out[7] = high & 0xff;
  writeU32(out, 8, counter >>> 0);
  return out;
}

/** Big-endian u32 at `at`. */
export function readU32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) >>> 0) + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
}

/** Writes `v` big-endian at `at`. */
export function writeU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

/** Two hex digits per byte value. */
const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/** A node id's 8 bytes. */
export function nodeIdBytes(id: NodeId): Uint8Array {
  return bytesFromHex(id);
}

/** Bytes from lower-case hex of even length (the caller checked the form). */
export function bytesFromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Lower-case hex of `bytes`. */
export function hexOf(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]!]!;
  return s;
}

/** The node id written as `bytes` (8 bytes: every value is a valid id). */
export function nodeIdFromBytes(bytes: Uint8Array): NodeId {
  invariant(bytes.length === 8, 'a node id is 8 bytes');
  return hexOf(bytes) as NodeId;
}

/** A key id as the 8 hex digits operators see. */
export function keyIdText(id: KeyId): string {
  return (id >>> 0).toString(16).padStart(8, '0');
}
