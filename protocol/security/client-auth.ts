/**
 * The server's gate for client requests: who is asking (a credential, or
 * nobody), whether that may ask at all, and how the answer goes back.
 *
 * How this works.
 * - Access follows the node's security: a node without a key is `open`
 *   (anonymous requests may do anything but admin ops, which need a key);
 *   a keyed node in the `accept` or `send` modes of a rolling upgrade is
 *   `optional` (anonymous still works, credentials are checked when given);
 *   in `require` every request needs a credential, except the one-time
 *   bootstrap of the first admin, from this host (loopback), while the
 *   cluster has no credential at all.
 * - A credentialed request is checked in this order: credential known and
 *   not revoked, tag under its key (client-envelope.ts), timestamp within
 *   clockSkewMs of our clock, nonce not seen (a cache bounded in size:
 *   past it the oldest are forgotten and anything as old is refused). A
 *   duplicate is dropped without an answer (the first was answered); a
 *   request that fails any other check gets one small `auth-required`
 *   answer, never larger than the request, at most a few a second per
 *   source, so a wrong credential never looks like a dead cluster and
 *   never makes us an amplifier.
 * - Roles: read < write < admin; `roleNeeded` says what each op needs.
 * - Answers go back in the client envelope: sealed under a key derived from
 *   the client's and ours (per server epoch, our counter as nonce), or plain
 *   to an anonymous client. The node remembers the channel per client
 *   address (bounded), so pushes to a subscriber are sealed the same way.
 */
import { parseAddress, type Address, type NodeId, type TimeMs } from '../types.ts';
import { bytesOf, type Aead, type SecurityCrypto } from './crypto.ts';
import {
  ANONYMOUS, ANSWER_FORM, answerKey, openRequest, parseRequestHeader, sealAnswer, shortAnswer,
} from './client-envelope.ts';
import { hexOf } from './envelope.ts';
import type { ClientRole, CredentialStore } from './credentials.ts';
import { TokenBuckets } from './rate-limit.ts';

/** Whether requests need a credential; see the file comment. */
export type ClientAccess = 'open' | 'optional' | 'required';

/** Who a request comes from. `bootstrap`: an anonymous request that may only bootstrap the first admin. */
export interface ClientIdentity {
  credential: string;
  role: ClientRole | 'bootstrap';
}

/** How answers to one client address are sealed. */
export interface ClientChannel {
  /** The credential's key, undefined for an anonymous client (plain answers). */
  readonly kc: Uint8Array | undefined;
  readonly credential: string;
  /** The nonce of its latest request, echoed in answers. */
  nonce: Uint8Array;
}

/** Why the gate refused a client datagram. */
export type ClientDrop = 'client-malformed' | 'auth-required' | 'client-replay';

export type GateResult =
  | { ok: true; packet: Uint8Array; who: ClientIdentity; channel: ClientChannel }
  | { ok: false; reason: ClientDrop; /** The auth-required answer to send back, when one is due. */ answer?: Uint8Array };

const READ_OPS = new Set(['hello', 'get', 'list', 'search', 'conflicts', 'history', 'members', 'stats', 'subscribe', 'unsubscribe']);
const WRITE_OPS = new Set(['put', 'delete', 'resolve']);

/** The least role that may run `op`: reads, writes, and everything else (keys, credentials, ops yet unknown) for admins. */
export function roleNeeded(op: string): ClientRole {
  return READ_OPS.has(op) ? 'read' : WRITE_OPS.has(op) ? 'write' : 'admin';
}

/** True for 127.0.0.0/8 and ::1: a request from this host. */
export function isLoopbackAddress(a: Address): boolean {
  const host = parseAddress(a)?.host.toLowerCase() ?? '';
  return host.startsWith('127.') || host === '::1' || host.startsWith('::ffff:127.');
}

export interface ClientGateConfig {
  /** How far a request's timestamp may be from our clock. */
  clockSkewMs: number;
  /** Request nonces remembered to refuse replays. */
  replayCacheMax: number;
  /** auth-required answers per source address: rate and burst. */
  authAnswersPerSecond: number;
  authAnswerBurst: number;
  /** Client addresses whose answer channel is remembered. */
  maxChannels: number;
}

export const DEFAULT_CLIENT_GATE_CONFIG: ClientGateConfig = {
  clockSkewMs: 300_000,
  replayCacheMax: 65_536,
  authAnswersPerSecond: 2,
  authAnswerBurst: 4,
  maxChannels: 4096,
};

export interface ClientGateInit {
  crypto: SecurityCrypto | undefined;
  self: NodeId;
  /** Our boot epoch (answer keys are per epoch); 0 on a node without a key. */
  epoch: number;
  access(): ClientAccess;
  credentials(): CredentialStore | undefined;
  config?: Partial<ClientGateConfig>;
}

export class ClientGate {
  readonly stats = { admitted: 0, anonymous: 0, authRequired: 0, authAnswersLimited: 0, replays: 0 };
  private readonly cfg: ClientGateConfig;
  private readonly seen = new Map<string, TimeMs>();
  /** Requests at or before this time are refused: their nonces may have been forgotten. */
  private floorMs = -Infinity;
  private counter = 0;
  private readonly answerKeys = new Map<string, Aead>();
  /** The AEAD of each credential's request key (importing a key costs a third of opening a request). */
  private readonly requestKeys = new Map<string, Aead>();
  private readonly authAnswers: TokenBuckets<Address>;
  private readonly channels = new Map<Address, ClientChannel>();

  constructor(private readonly init: ClientGateInit) {
    this.cfg = { ...DEFAULT_CLIENT_GATE_CONFIG, ...init.config };
    this.authAnswers = new TokenBuckets({ perSecond: this.cfg.authAnswersPerSecond, burst: this.cfg.authAnswerBurst, maxKeys: 1024 });
  }

  /** Checks one client request datagram from `from`; see the file comment. Never throws. */
  admit(now: TimeMs, from: Address, bytes: Uint8Array): GateResult {
    const h = parseRequestHeader(bytes);
    if (!h) return { ok: false, reason: 'client-malformed' };
    const access = this.init.access();
    const creds = this.init.credentials();
    if (h.credential === ANONYMOUS) {
      if (access !== 'required') return this.accept(from, h.nonce, undefined, { credential: ANONYMOUS, role: 'write' }, bytes.subarray(27));
      if (creds && creds.size === 0 && isLoopbackAddress(from)) return this.accept(from, h.nonce, undefined, { credential: ANONYMOUS, role: 'bootstrap' }, bytes.subarray(27));
      return this.refuse(now, from, bytes, h.nonce, 'credential-required');
    }
    const cred = creds?.get(h.credential);
    if (!cred || !this.init.crypto) return this.refuse(now, from, bytes, h.nonce, creds?.isRevoked(h.credential) ? 'revoked' : 'unknown-credential');
    const packet = openRequest(this.requestAead(cred.id, cred.key), bytes);
    if (!packet) return this.refuse(now, from, bytes, h.nonce, 'bad-seal');
    if (Math.abs(now - h.timeMs) > this.cfg.clockSkewMs || h.timeMs <= this.floorMs) return this.refuse(now, from, bytes, h.nonce, 'clock-skew');
    const seenKey = h.credential + hexOf(h.nonce);
    if (this.seen.has(seenKey)) {
      this.stats.replays++;
      return { ok: false, reason: 'client-replay' };
    }
    this.remember(now, seenKey, h.timeMs);
    return this.accept(from, h.nonce, cred.key, { credential: cred.id, role: cred.role }, packet);
  }

  /** The answer channel of client address `to`, if it asked us something lately; 'revoked' once its credential is gone. */
  channel(to: Address): ClientChannel | 'revoked' | undefined {
    const c = this.channels.get(to);
    if (!c || c.kc === undefined || this.init.credentials()?.get(c.credential)) return c;
    return 'revoked';
  }

  /** `packet` in the client answer envelope for `channel`. */
  wrap(channel: ClientChannel, packet: Uint8Array): Uint8Array {
    if (!channel.kc || !this.init.crypto) return shortAnswer(ANSWER_FORM.plain, channel.nonce, packet);
    let aead = this.answerKeys.get(channel.credential);
    if (!aead) {
      aead = this.init.crypto.aead(answerKey(this.init.crypto, channel.kc, this.init.self, this.init.epoch));
      if (this.answerKeys.size >= 1024) this.answerKeys.clear();
      this.answerKeys.set(channel.credential, aead);
    }
    return sealAnswer(aead, channel.nonce, this.init.self, this.init.epoch, ++this.counter, packet);
  }

  private accept(from: Address, nonce: Uint8Array, kc: Uint8Array | undefined, who: ClientIdentity, packet: Uint8Array): GateResult {
    this.stats.admitted++;
    if (who.credential === ANONYMOUS) this.stats.anonymous++;
    let channel = this.channels.get(from);
    if (!channel || channel.credential !== who.credential) channel = { kc, credential: who.credential, nonce: new Uint8Array(nonce) };
    else channel.nonce = new Uint8Array(nonce);
    this.channels.delete(from);
    this.channels.set(from, channel);
    if (this.channels.size > this.cfg.maxChannels) this.channels.delete(this.channels.keys().next().value as Address);
    return { ok: true, packet, who, channel };
  }

  /** One small auth-required answer (rate-limited per source, never larger than the request). */
  private refuse(now: TimeMs, from: Address, request: Uint8Array, nonce: Uint8Array, reason: string): GateResult {
    this.stats.authRequired++;
    const answer = shortAnswer(ANSWER_FORM.authRequired, nonce, bytesOf(reason));
    if (answer.length > request.length || !this.authAnswers.take(now, from)) {
      this.stats.authAnswersLimited++;
      return { ok: false, reason: 'auth-required' };
    }
    return { ok: false, reason: 'auth-required', answer };
  }

  private requestAead(credential: string, key: Uint8Array): Aead {
    let aead = this.requestKeys.get(credential);
    if (!aead) {
      aead = this.init.crypto!.aead(key);
      // A credential's key never changes (ids are never reused): only the bound needs minding.
      if (this.requestKeys.size >= 1024) this.requestKeys.clear();
      this.requestKeys.set(credential, aead);
    }
    return aead;
  }

  private remember(now: TimeMs, key: string, timeMs: TimeMs): void {
    // Oldest first: forget what has expired, then, past the bound, the oldest, raising the floor.
    for (const [k, t] of this.seen) {
      if (t >= now - this.cfg.clockSkewMs && this.seen.size < this.cfg.replayCacheMax) break;
      this.seen.delete(k);
      this.floorMs = Math.max(this.floorMs, t);
    }
    this.seen.set(key, timeMs);
  }
}
