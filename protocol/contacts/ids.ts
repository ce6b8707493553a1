/**
 * Identifiers of the contact model: contact ids, list-entry uids and client
 * operation ids, as branded strings, plus a pure ULID helper.
 *
 * How this works: a contact id is a ULID (26 Crockford base-32 characters,
 * 48 bits of milliseconds then 80 random bits) or, for contacts imported
 * from elsewhere, a UUID in canonical lower-case form. Ids are keys, so only
 * the canonical spelling is accepted: two spellings would be two contacts.
 * The ULID helper takes the time and the random bytes as arguments, because
 * protocol/ never reads a clock or asks for entropy; the simulator feeds it
 * from its seeded Rng, the client from the real clock and crypto.
 *
 * Clients choose contact ids, entry uids and op ids themselves, so that a
 * request retried anywhere (even at another server) names the same things.
 */
import type { Rng } from '../types.ts';

/** A contact's identity: a canonical ULID or lower-case UUID. */
export type ContactId = string & { readonly __brand: 'ContactId' };

/** Identity of one entry of a list field (a phone, an email…), unique within its contact. */
export type EntryUid = string & { readonly __brand: 'EntryUid' };

/** A client operation id (idempotency key): a retried write with the same one is applied once. */
export type OpId = string & { readonly __brand: 'OpId' };

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const ULID_RE = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TOKEN_RE = /^[A-Za-z0-9._-]+$/;

/** Bytes of randomness a ULID carries. */
export const ULID_RANDOM_BYTES = 10;

/** Largest millisecond time a ULID can hold (2^48 - 1). */
export const ULID_TIME_MS_MAX = 2 ** 48 - 1;

/** Longest entry uid or op id, characters. */
export const TOKEN_CHARS_MAX = 64;

/** A ULID for `timeMs` (integer ms since the epoch) and 10 random bytes; throws on misuse. */
export function ulid(timeMs: number, random: Uint8Array): ContactId {
  if (!Number.isInteger(timeMs) || timeMs < 0 || timeMs > ULID_TIME_MS_MAX) throw new RangeError(`ulid: bad time ${timeMs}`);
  if (random.length !== ULID_RANDOM_BYTES) throw new RangeError(`ulid: need ${ULID_RANDOM_BYTES} random bytes`);
  let out = '';
  // 48-bit time as 10 characters, most significant first (so ULIDs sort by time).
  let t = timeMs;
  for (let i = 0; i < 10; i++) {
    out = CROCKFORD[t % 32]! + out;
    t = Math.floor(t / 32);
  }
  // 80 random bits as 16 characters: 5 bits at a time across the bytes.
  let acc = 0;
  let bits = 0;
  for (const byte of random) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += CROCKFORD[(acc >> bits) & 31]!;
    }
    acc &= (1 << bits) - 1;
  }
  return out as ContactId;
}

/** A ULID whose random part comes from a seeded `rng` (simulator, tests). */
export function ulidFromRng(timeMs: number, rng: Rng): ContactId {
  const bytes = new Uint8Array(ULID_RANDOM_BYTES);
  for (let i = 0; i < bytes.length; i++) bytes[i] = rng.int(256);
  return ulid(timeMs, bytes);
}

/** The millisecond time a ULID was made at; undefined for a UUID or a malformed id. */
export function ulidTimeMs(id: string): number | undefined {
  if (!ULID_RE.test(id)) return undefined;
  let t = 0;
  for (let i = 0; i < 10; i++) t = t * 32 + CROCKFORD.indexOf(id[i]!);
  return t;
}

/** True for a canonical ULID (upper case). */
export function isUlid(s: unknown): s is ContactId {
  return typeof s === 'string' && ULID_RE.test(s);
}

/** True for a canonical contact id: a ULID, or a lower-case hyphenated UUID. */
export function isContactId(s: unknown): s is ContactId {
  return typeof s === 'string' && (ULID_RE.test(s) || UUID_RE.test(s));
}

/** True for an entry uid: 1..64 characters of [A-Za-z0-9._-] (a ULID is a good choice). */
export function isEntryUid(s: unknown): s is EntryUid {
  return typeof s === 'string' && s.length <= TOKEN_CHARS_MAX && TOKEN_RE.test(s);
}

/** True for an op id: same alphabet and length as an entry uid. */
export function isOpId(s: unknown): s is OpId {
  return typeof s === 'string' && s.length <= TOKEN_CHARS_MAX && TOKEN_RE.test(s);
}

/** Brands `s` as a ContactId; throws when it is not canonical (our own misuse). */
export function contactId(s: string): ContactId {
  if (!isContactId(s)) throw new TypeError(`not a contact id: ${JSON.stringify(s)}`);
  return s;
}

/** Brands `s` as an EntryUid; throws when malformed (our own misuse). */
export function entryUid(s: string): EntryUid {
  if (!isEntryUid(s)) throw new TypeError(`not an entry uid: ${JSON.stringify(s)}`);
  return s;
}

/** Brands `s` as an OpId; throws when malformed (our own misuse). */
export function opId(s: string): OpId {
  if (!isOpId(s)) throw new TypeError(`not an op id: ${JSON.stringify(s)}`);
  return s;
}
