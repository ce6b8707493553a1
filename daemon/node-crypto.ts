/**
 * The real cryptography behind protocol/security's seam: AES-256-GCM,
 * HKDF-SHA256 and HMAC-SHA256 from node:crypto (OpenSSL). Pure functions of
 * their inputs; the core holds this object and never imports node:crypto.
 *
 * How this works: an Aead keeps its key as a KeyObject (imported once), and
 * every seal or open builds one cipher context, which is what node:crypto
 * offers (about 10 µs a datagram here; `npm run bench -- security`). A
 * sealed datagram is one copy into Node's buffer pool. A tag
 * that does not verify makes `final()` throw; `open` turns that into
 * undefined, as the seam promises.
 */
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import { KEY_BYTES, TAG_BYTES, type Aead, type SecurityCrypto } from '../protocol/security/crypto.ts';

class GcmKey implements Aead {
  private readonly key: KeyObject;

  constructor(raw: Uint8Array) {
    if (raw.length !== KEY_BYTES) throw new TypeError(`an AES-256 key is ${KEY_BYTES} bytes, not ${raw.length}`);
    this.key = createSecretKey(raw);
  }

  seal(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const c = createCipheriv('aes-256-gcm', this.key, nonce, { authTagLength: TAG_BYTES });
    c.setAAD(aad);
    const body = c.update(plaintext);
    c.final();
    // One copy into Node's pool (a datagram is well under its 4 KiB cut-off): a typed array of
    // its own costs a backing store outside the heap, ~2.5 µs for a datagram here.
    const out = Buffer.concat([aad, body, c.getAuthTag()]);
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  }

  open(nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | undefined {
    if (sealed.length < TAG_BYTES) return undefined;
    try {
      const d = createDecipheriv('aes-256-gcm', this.key, nonce, { authTagLength: TAG_BYTES });
      d.setAAD(aad);
      d.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      const body = d.update(sealed.subarray(0, sealed.length - TAG_BYTES));
      d.final(); // throws when the tag does not verify
      return new Uint8Array(body.buffer, body.byteOffset, body.length);
    } catch {
      return undefined;
    }
  }
}

/** node:crypto behind the SecurityCrypto seam. */
export const nodeCrypto: SecurityCrypto = {
  name: 'aes-256-gcm',
  aead: (key) => new GcmKey(key),
  hkdf: (ikm, salt, info) => new Uint8Array(hkdfSync('sha256', ikm, salt, info, KEY_BYTES)),
  hmac: (key, data) => new Uint8Array(createHmac('sha256', key).update(data).digest()),
};
