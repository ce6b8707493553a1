/**
 * How client requests and server answers travel: a small binary envelope
 * around the usual packet (wire/codec.ts), sealed with a key derived from
 * the client's own credential. Used by both sides (the server in
 * client-auth.ts, the client library in tui/client.ts); pure, crypto through
 * the seam.
 *
 * How this works.
 *
 *   request   0      1   kind CLIENT_REQUEST_V1 (0xC6)
 *             1      8   credential id (16 hex digits as 8 bytes; all zero: anonymous)
 *             9      6   client's wall clock, ms
 *             15     12  nonce, random, fresh for every datagram (retries too)
 *             27     8   the server it is meant for: its node id (all zero: not known yet)
 *             35     4   that server's boot epoch (0: not known yet)
 *             39     …   the packet, sealed under K_c (AES-256-GCM, header as AAD); plain when anonymous
 *
 *   answer    0      1   kind CLIENT_ANSWER_V1 (0xC7)
 *             1      1   form: SEALED, PLAIN (to an anonymous request), AUTH_REQUIRED or RETARGET
 *             2      12  the nonce of the request it answers (the latest from that client, for pushes)
 *   SEALED, RETARGET:
 *             14     8   server's node id
 *             22     4   server's boot epoch
 *             26     6   counter within that epoch
 *             32     …   the packet, sealed under HKDF(K_c, server id ‖ epoch) with the counter as nonce
 *                        (RETARGET: an empty one; the header is what it says)
 *   PLAIN:    14     …   the packet
 *   AUTH_REQUIRED: 14 …  a short ASCII reason (the whole answer is smaller than any request)
 *
 * A sealed request is good at one server in one life of it: the server's
 * id and epoch are in the header, so in the AAD. A request recorded on its
 * way to one server and replayed at another, or at the same one after a
 * restart, is refused whatever the nonce caches remember. A client learns
 * a server's id and epoch from its first request there: it names no server,
 * and the server answers RETARGET, sealed to the client's credential (so
 * the client can trust what it says), no larger than the request, and does
 * nothing else with it; the client sends the request again naming the
 * server. One round trip per server and per life of it.
 *
 * K_c = HKDF(client secret, "contacts/client/v1", credential id): the server
 * keeps K_c (credentials.ts), never the secret, and never needs the cluster
 * key to talk to a client. Answers use a key per (client, server, server
 * epoch) and the server's counter as nonce, so no two answers ever share a
 * (key, nonce) even when one request is retried and answered twice.
 */
import type { NodeId } from '../types.ts';
import { bytesOf, NONCE_BYTES, TAG_BYTES, type Aead, type SecurityCrypto } from './crypto.ts';
import { bytesFromHex, hexOf, nodeIdBytes, nodeIdFromBytes, readU32, writeCounterNonce, writeU32 } from './envelope.ts';

export const CLIENT_REQUEST_V1 = 0xc6;
export const CLIENT_ANSWER_V1 = 0xc7;
export const REQUEST_HEADER_BYTES = 39;
export const ANSWER_FORM = { sealed: 0, plain: 1, authRequired: 2, retarget: 3 } as const;
const SEALED_ANSWER_HEADER_BYTES = 32;
const SHORT_ANSWER_HEADER_BYTES = 14;
/** Bytes a sealed answer adds to its packet: what a server must leave free in its datagram budget. */
export const ANSWER_OVERHEAD_BYTES = SEALED_ANSWER_HEADER_BYTES + TAG_BYTES;
/** Bytes a plain answer (to an anonymous client) adds. */
export const PLAIN_ANSWER_OVERHEAD_BYTES = SHORT_ANSWER_HEADER_BYTES;
/** The anonymous credential id. */
export const ANONYMOUS = '0000000000000000';

const CLIENT_SALT = bytesOf('contacts/client/v1');
const ANSWER_SALT = bytesOf('contacts/client-answer/v1');

/** K_c: the request key of credential `id` with `secret` (the client derives it; the server stores it). */
export function credentialKey(crypto: SecurityCrypto, id: string, secret: Uint8Array): Uint8Array {
  return crypto.hkdf(secret, CLIENT_SALT, bytesFromHex(id));
}

/** The server a request is meant for, in one life of it. */
export interface RequestTarget {
  server: NodeId;
  epoch: number;
}

/** A request's header fields. */
export interface RequestHeader {
  credential: string;
  timeMs: number;
  nonce: Uint8Array;
  /** Undefined: the client does not know the server yet. */
  target?: RequestTarget | undefined;
}

const NO_SERVER = '0000000000000000' as NodeId;

/** Parses a request header; undefined when `bytes` is not a client request. */
export function parseRequestHeader(bytes: Uint8Array): RequestHeader | undefined {
  if (bytes.length < REQUEST_HEADER_BYTES || bytes[0] !== CLIENT_REQUEST_V1) return undefined;
  const server = nodeIdFromBytes(bytes.subarray(27, 35));
  const epoch = readU32(bytes, 35);
  return {
    credential: hexOf(bytes.subarray(1, 9)),
    timeMs: ((bytes[9]! << 8) | bytes[10]!) * 0x1_0000_0000 + readU32(bytes, 11),
    nonce: bytes.subarray(15, 27),
    target: server === NO_SERVER && epoch === 0 ? undefined : { server, epoch },
  };
}

/** A request datagram: `packet` sealed under `key` (or plain when `key` is undefined, for the anonymous credential). */
export function sealRequest(crypto: SecurityCrypto, h: RequestHeader, key: Uint8Array | undefined, packet: Uint8Array): Uint8Array {
  const head = new Uint8Array(REQUEST_HEADER_BYTES);
  head[0] = CLIENT_REQUEST_V1;
  head.set(bytesFromHex(h.credential), 1);
  const high = Math.floor(h.timeMs / 0x1_0000_0000);
  head[9] = high >>> 8;
  head[10] = high & 0xff;
  writeU32(head, 11, h.timeMs >>> 0);
  head.set(h.nonce, 15);
  if (h.target) {
    head.set(nodeIdBytes(h.target.server), 27);
    writeU32(head, 35, h.target.epoch);
  }
  if (key) return crypto.aead(key).seal(h.nonce, head, packet);
  const out = new Uint8Array(REQUEST_HEADER_BYTES + packet.length);
  out.set(head, 0);
  out.set(packet, REQUEST_HEADER_BYTES);
  return out;
}

/** The packet of a sealed request, or undefined when its tag does not verify under `aead` (the credential key's). */
export function openRequest(aead: Aead, bytes: Uint8Array): Uint8Array | undefined {
  return aead.open(bytes.subarray(15, 27), bytes.subarray(0, REQUEST_HEADER_BYTES), bytes.subarray(REQUEST_HEADER_BYTES));
}

/** The key a server seals its answers to credential key `kc` with, in its epoch. */
export function answerKey(crypto: SecurityCrypto, kc: Uint8Array, server: NodeId, epoch: number): Uint8Array {
  const info = new Uint8Array(12);
  info.set(nodeIdBytes(server), 0);
  writeU32(info, 8, epoch);
  return crypto.hkdf(kc, ANSWER_SALT, info);
}

/** A sealed answer (or, with `form` retarget and an empty packet, a retarget). `aead` is answerKey's AEAD; `counter` unique in the server's epoch. */
export function sealAnswer(
  aead: ReturnType<SecurityCrypto['aead']>, requestNonce: Uint8Array, server: NodeId, epoch: number, counter: number, packet: Uint8Array,
  form: typeof ANSWER_FORM.sealed | typeof ANSWER_FORM.retarget = ANSWER_FORM.sealed,
): Uint8Array {
  const head = new Uint8Array(SEALED_ANSWER_HEADER_BYTES);
  head[0] = CLIENT_ANSWER_V1;
  head[1] = form;
  head.set(requestNonce, 2);
  head.set(nodeIdBytes(server), 14);
  writeU32(head, 22, epoch);
  const high = Math.floor(counter / 0x1_0000_0000);
  head[26] = high >>> 8;
  head[27] = high & 0xff;
  writeU32(head, 28, counter >>> 0);
  return aead.seal(writeCounterNonce(new Uint8Array(NONCE_BYTES), counter), head, packet);
}

/** A plain answer (to an anonymous request) or an auth-required one (`body` is then the ASCII reason). */
export function shortAnswer(form: typeof ANSWER_FORM.plain | typeof ANSWER_FORM.authRequired, requestNonce: Uint8Array, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(SHORT_ANSWER_HEADER_BYTES + body.length);
  out[0] = CLIENT_ANSWER_V1;
  out[1] = form;
  out.set(requestNonce, 2);
  out.set(body, SHORT_ANSWER_HEADER_BYTES);
  return out;
}

/** Bytes of a retarget answer: what a request must at least be to draw one. */
export const RETARGET_ANSWER_BYTES = ANSWER_OVERHEAD_BYTES;

/** What a client makes of an answer datagram. */
export type OpenedAnswer =
  | { kind: 'packet'; packet: Uint8Array; nonce: Uint8Array }
  | { kind: 'auth-required'; reason: string; nonce: Uint8Array }
  /** The server says who it is: send the request `nonce` belongs to again, naming `target`. */
  | { kind: 'retarget'; target: RequestTarget; nonce: Uint8Array }
  | { kind: 'invalid' };

/**
 * Opens an answer on the client side. `kc` is the client's K_c (undefined
 * when anonymous); answer keys are derived per (server, epoch) and kept in
 * `cache`. A sealed answer that does not verify, or a plain one to a client
 * that has a credential, is invalid.
 */
export function openAnswer(crypto: SecurityCrypto, kc: Uint8Array | undefined, bytes: Uint8Array, cache: Map<string, ReturnType<SecurityCrypto['aead']>>): OpenedAnswer {
  if (bytes.length < SHORT_ANSWER_HEADER_BYTES || bytes[0] !== CLIENT_ANSWER_V1) return { kind: 'invalid' };
  const nonce = bytes.slice(2, 14);
  const form = bytes[1];
  if (form === ANSWER_FORM.authRequired) return { kind: 'auth-required', reason: asciiOf(bytes.subarray(SHORT_ANSWER_HEADER_BYTES, SHORT_ANSWER_HEADER_BYTES + 64)), nonce };
  if (form === ANSWER_FORM.plain) return kc ? { kind: 'invalid' } : { kind: 'packet', packet: bytes.subarray(SHORT_ANSWER_HEADER_BYTES), nonce };
  if ((form !== ANSWER_FORM.sealed && form !== ANSWER_FORM.retarget) || !kc || bytes.length < ANSWER_OVERHEAD_BYTES) return { kind: 'invalid' };
  const server = nodeIdFromBytes(bytes.subarray(14, 22));
  const epoch = readU32(bytes, 22);
  const name = `${server}/${epoch}`;
  let aead = cache.get(name);
  if (!aead) {
    aead = crypto.aead(answerKey(crypto, kc, server, epoch));
    if (cache.size >= 64) cache.clear();
    cache.set(name, aead);
  }
  const counter = ((bytes[26]! << 8) | bytes[27]!) * 0x1_0000_0000 + readU32(bytes, 28);
  const packet = aead.open(writeCounterNonce(new Uint8Array(NONCE_BYTES), counter), bytes.subarray(0, SEALED_ANSWER_HEADER_BYTES), bytes.subarray(SEALED_ANSWER_HEADER_BYTES));
  if (!packet) return { kind: 'invalid' };
  return form === ANSWER_FORM.retarget ? { kind: 'retarget', target: { server, epoch }, nonce } : { kind: 'packet', packet, nonce };
}

function asciiOf(b: Uint8Array): string {
  let s = '';
  for (const c of b) s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '?';
  return s;
}
