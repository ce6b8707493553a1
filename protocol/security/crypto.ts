/**
 * The seam between the pure core and the cryptography it needs.
 *
 * How this works: protocol/ never imports node:crypto (or anything else of
 * Node's); whoever drives a core hands it a `SecurityCrypto`. The daemon
 * passes the real one (daemon/node-crypto.ts: AES-256-GCM, HKDF-SHA256 and
 * HMAC-SHA256 from node:crypto, all pure computations over the bytes given);
 * the simulator may pass a fast keyed checksum of the same shape
 * (test/sim/sim-crypto.ts) so that thousands of simulated datagrams a
 * second stay cheap. Nothing here draws random bytes: every nonce the core
 * uses is a counter (packet-security.ts says why that is safe), and secrets
 * come in from outside (a key file, a CLI request).
 */

/** Bytes of a cluster key: AES-256. */
export const KEY_BYTES = 32;
/** Bytes of an AEAD nonce (GCM's 96 bits). */
export const NONCE_BYTES = 12;
/** Bytes of an AEAD authentication tag (GCM's full 128 bits). */
export const TAG_BYTES = 16;

/** An authenticated cipher under one fixed key. */
export interface Aead {
  /**
   * `plaintext` encrypted and authenticated with `aad`, as the datagram that
   * carries it: `aad` in the clear, the ciphertext, then a TAG_BYTES tag. (Every
   * sealed datagram leads with its authenticated header: one array made here
   * is cheaper than a ciphertext array and a datagram array made apart.)
   */
  seal(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** The plaintext, or undefined when the tag does not verify (wrong key, nonce, aad, or any flipped bit). Never throws. */
  open(nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | undefined;
}

/** What the core needs of a cryptography library; see the file comment. */
export interface SecurityCrypto {
  /** Shown in logs and stats: 'aes-256-gcm', or the simulator's stand-in. */
  readonly name: string;
  /** An AEAD under `key` (KEY_BYTES). Callers cache the result: building one may cost a key schedule. */
  aead(key: Uint8Array): Aead;
  /** HKDF-SHA256 (RFC 5869) of `ikm` with `salt` and `info`: KEY_BYTES bytes. */
  hkdf(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array): Uint8Array;
  /** HMAC-SHA256 of `data` under `key`: 32 bytes. */
  hmac(key: Uint8Array, data: Uint8Array): Uint8Array;
}

const utf8 = new TextEncoder();

/** `s` as UTF-8 bytes (labels for HKDF and HMAC). */
export function bytesOf(s: string): Uint8Array {
  return utf8.encode(s);
}

/** Constant-time equality of two byte strings (a MAC compared any other way leaks how much of it matched). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Concatenates byte strings. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) out.set(p, at), (at += p.length);
  return out;
}
