/**
 * A stand-in for AES-256-GCM in the simulator: the same seam
 * (protocol/security/crypto.ts), the same sizes, a fraction of the cost.
 * NOT SECURE: it does not encrypt, and its tag is a keyed checksum that
 * only an honest network cannot forge by accident.
 *
 * How this works: a key is folded into two 32-bit seeds; the tag is two
 * lanes of a multiply-xor hash over the nonce, the associated data (the
 * header) and the plaintext's length and first and last bytes, repeated to
 * TAG_BYTES: another key, epoch, sender, counter or cluster fails it, as
 * with GCM. The rest of the plaintext is not covered: the simulated
 * network never corrupts bytes, and hashing every byte cost as much as
 * real AES-GCM. HKDF and HMAC are the same hash over their inputs. Why:
 * through node:crypto AES-GCM costs ~10 µs a datagram and HKDF ~30 µs; a
 * simulated cluster sends hundreds of thousands of datagrams a minute, and
 * what the simulator checks is the protocol (key ids, epochs, windows,
 * rotation), not the cipher. Unit and integration tests use the real one
 * (daemon/node-crypto.ts), flipped bits included.
 */
import { TAG_BYTES, type Aead, type SecurityCrypto } from '../../protocol/security/crypto.ts';

function hashInto(h1: number, h2: number, parts: readonly Uint8Array[]): [number, number] {
  for (const p of parts) [h1, h2] = hashRange(h1, h2, p, 0, p.length);
  return finish(h1, h2);
}

/** Folds bytes from..to of `p` (and their count) into the two lanes. */
function hashRange(h1: number, h2: number, p: Uint8Array, from: number, to: number): [number, number] {
  for (let i = from; i < to; i++) {
    h1 = Math.imul(h1 ^ p[i]!, 0x01000193);
    h2 = Math.imul(h2 ^ p[i]!, 0x5bd1e995) ^ (h2 >>> 15);
  }
  return [Math.imul(h1 ^ (to - from), 0x85ebca6b), Math.imul(h2 ^ (to - from), 0xc2b2ae35)];
}

function finish(h1: number, h2: number): [number, number] {
  h1 ^= h1 >>> 13;
  h2 ^= h2 >>> 16;
  return [h1 >>> 0, Math.imul(h2, 0x27d4eb2f) >>> 0];
}

function bytesOfHash(h: [number, number], n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i + 4 <= n; i += 4) {
    const w = i % 8 === 0 ? h[0] : h[1] ^ i;
    out[i] = w >>> 24;
    out[i + 1] = w >>> 16;
    out[i + 2] = w >>> 8;
    out[i + 3] = w;
  }
  return out;
}

class ChecksumAead implements Aead {
  private readonly seeds: [number, number];
  constructor(key: Uint8Array) {
    this.seeds = hashInto(0x811c9dc5, 0x9747b28c, [key]);
  }

  private tag(nonce: Uint8Array, aad: Uint8Array, body: Uint8Array): Uint8Array {
    let [h1, h2] = hashRange(this.seeds[0] ^ body.length, this.seeds[1], nonce, 0, nonce.length);
    [h1, h2] = hashRange(h1, h2, aad, 0, aad.length);
    [h1, h2] = hashRange(h1, h2, body, 0, Math.min(8, body.length));
    [h1, h2] = hashRange(h1, h2, body, Math.max(0, body.length - 8), body.length);
    return bytesOfHash(finish(h1, h2), TAG_BYTES);
  }

  seal(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const out = new Uint8Array(aad.length + plaintext.length + TAG_BYTES);
    out.set(aad, 0);
    out.set(plaintext, aad.length);
    out.set(this.tag(nonce, aad, plaintext), aad.length + plaintext.length);
    return out;
  }

  open(nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | undefined {
    if (sealed.length < TAG_BYTES) return undefined;
    const body = sealed.subarray(0, sealed.length - TAG_BYTES);
    const want = this.tag(nonce, aad, body);
    const got = sealed.subarray(sealed.length - TAG_BYTES);
    for (let i = 0; i < TAG_BYTES; i++) if (want[i] !== got[i]) return undefined;
    return new Uint8Array(body);
  }
}

/** The simulator's fast, insecure SecurityCrypto; see the file comment. */
export const simCrypto: SecurityCrypto = {
  name: 'sim-checksum (insecure)',
  aead: (key) => new ChecksumAead(key),
  hkdf: (ikm, salt, info) => bytesOfHash(hashInto(0x2545f491, 0x9e3779b9, [ikm, salt, info]), 32),
  hmac: (key, data) => bytesOfHash(hashInto(0x6a09e667, 0xbb67ae85, [key, data]), 32),
};
