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
 *   bootstrap of the first admin, from this host (loopback, or the node's
 *   own address: isLocalAddress), while the cluster has no credential at all.
 * - A credentialed request is checked in this order: credential known and
 *   not revoked, tag under its key (client-envelope.ts), timestamp within
 *   clockSkewMs of our clock, meant for this server in this life (else a
 *   `retarget` answer: client-envelope.ts), nonce not seen (per credential,
 *   bounded: request-replay.ts). A duplicate is dropped without an answer
 *   (the first was answered); a request that fails any other check gets
 *   one small `auth-required` answer, never larger than the request, at
 *   most a few a second per source, so a wrong credential never looks like
 *   a dead cluster and never makes us an amplifier.
 * - Roles: read < write < admin; `roleNeeded` says what each op needs.
 * - Answers go back in the client envelope: sealed under a key derived from
 *   the client's and ours (per server epoch, our counter as nonce), or plain
 *   to an anonymous client. Each admitted request gets its channel (the
 *   credential's key and the request's nonce), which its answer carries to
 *   `wrap` (a subscription keeps the latest for its pushes). Nothing is
 *   remembered per address: a request with a forged source address changes
 *   nothing about how anything else is sent to that address.
 */
import { parseAddress, type Address, type ClientChannel, type NodeId, type TimeMs } from '../types.ts';
import { bytesOf, type Aead, type SecurityCrypto } from './crypto.ts';
import {
  ANONYMOUS, ANSWER_FORM, REQUEST_HEADER_BYTES, RETARGET_ANSWER_BYTES, answerKey, openRequest, parseRequestHeader, sealAnswer, shortAnswer,
} from './client-envelope.ts';
import { hexOf } from './envelope.ts';
import type { ClientRole, Credential, CredentialStore } from './credentials.ts';
import { TokenBuckets } from './rate-limit.ts';
import { RequestReplayCache } from './request-replay.ts';

/** Whether requests need a credential; see the file comment. */
export type ClientAccess = 'open' | 'optional' | 'required';

/** Who a request comes from. `bootstrap`: an anonymous request that may only bootstrap the first admin. */
export interface ClientIdentity {
  credential: string;
  role: ClientRole | 'bootstrap';
}

export type { ClientChannel };

/** Why the gate refused a client datagram ('client-retarget': it named no server, or another, or an earlier life of this one). */
export type ClientDrop = 'client-malformed' | 'auth-required' | 'client-replay' | 'client-retarget';

export type GateResult =
  | { ok: true; packet: Uint8Array; who: ClientIdentity; channel: ClientChannel }
  | { ok: false; reason: ClientDrop; /** The auth-required answer to send back, when one is due. */ answer?: Uint8Array };

const READ_OPS = new Set(['hello', 'get', 'list', 'search', 'conflicts', 'history', 'members', 'stats', 'subscribe', 'unsubscribe']);
const WRITE_OPS = new Set(['put', 'putMany', 'delete', 'resolve']);

/** The least role that may run `op`: reads, writes, and everything else (keys, credentials, ops yet unknown) for admins. */
export function roleNeeded(op: string): ClientRole {
  return READ_OPS.has(op) ? 'read' : WRITE_OPS.has(op) ? 'write' : 'admin';
}

/**
 * A source on this host: loopback (127.0.0.0/8, ::1), or one of `ownHosts`,
 * the addresses this node binds and advertises (a client on the same host
 * that asks the node at 10.0.0.5 sends from 10.0.0.5). Neither can come from
 * another host: Linux drops, as martian, a datagram that arrives on another
 * interface with one of this host's own addresses as its source (unless
 * net.ipv4.conf.*.accept_local is set, which nothing here expects).
 */
export function isLocalAddress(a: Address, ownHosts: ReadonlySet<string> = NO_HOSTS): boolean {
  const host = parseAddress(a)?.host.toLowerCase() ?? '';
  return host.startsWith('127.') || host === '::1' || host.startsWith('::ffff:127.') || ownHosts.has(host);
}
const NO_HOSTS: ReadonlySet<string> = new Set();

export interface ClientGateConfig {
  /** How far a request's timestamp may be from our clock. */
  clockSkewMs: number;
  /** Request nonces remembered to refuse replays, in all (request-replay.ts). */
  replayCacheMax: number;
  /** auth-required answers per source address: rate and burst. */
  authAnswersPerSecond: number;
  authAnswerBurst: number;
}

export const DEFAULT_CLIENT_GATE_CONFIG: ClientGateConfig = {
  clockSkewMs: 300_000,
  replayCacheMax: 65_536,
  authAnswersPerSecond: 2,
  authAnswerBurst: 4,
};

export interface ClientGateInit {
  crypto: SecurityCrypto | undefined;
  self: NodeId;
  /** Our boot epoch (answer keys are per epoch); 0 on a node without a key. */
  epoch: number;
  access(): ClientAccess;
  credentials(): CredentialStore | undefined;
  /** Whether a source is on this host (isLocalAddress): the first admin's bootstrap is taken only from there. */
  isLocal(a: Address): boolean;
  config?: Partial<ClientGateConfig>;
}

export class ClientGate {
  readonly stats = { admitted: 0, anonymous: 0, authRequired: 0, authAnswersLimited: 0, replays: 0, retargets: 0 };
  private readonly cfg: ClientGateConfig;
  /** Nonces seen, per credential (request-replay.ts). */
  private readonly seen: RequestReplayCache;
  private counter = 0;
  private readonly answerKeys = new Map<string, Aead>();
  /** The AEAD of each credential's request key (importing a key costs a third of opening a request). */
  private readonly requestKeys = new Map<string, Aead>();
  private readonly authAnswers: TokenBuckets<Address>;

  constructor(private readonly init: ClientGateInit) {
    this.cfg = { ...DEFAULT_CLIENT_GATE_CONFIG, ...init.config };
    this.seen = new RequestReplayCache({ max: this.cfg.replayCacheMax, windowMs: this.cfg.clockSkewMs });
    this.authAnswers = new TokenBuckets({ perSecond: this.cfg.authAnswersPerSecond, burst: this.cfg.authAnswerBurst, maxKeys: 1024 });
  }

  /** Checks one client request datagram from `from`; see the file comment. Never throws. */
  admit(now: TimeMs, from: Address, bytes: Uint8Array): GateResult {
    const h = parseRequestHeader(bytes);
    if (!h) return { ok: false, reason: 'client-malformed' };
    const access = this.init.access();
    const creds = this.init.credentials();
    if (h.credential === ANONYMOUS) {
      if (access !== 'required') return this.accept(h.nonce, undefined, { credential: ANONYMOUS, role: 'write' }, bytes.subarray(REQUEST_HEADER_BYTES));
      if (creds && creds.size === 0 && this.init.isLocal(from)) return this.accept(h.nonce, undefined, { credential: ANONYMOUS, role: 'bootstrap' }, bytes.subarray(REQUEST_HEADER_BYTES));
      return this.refuse(now, from, bytes, h.nonce, 'credential-required');
    }
    const cred = creds?.get(h.credential);
    if (!cred || !this.init.crypto) return this.refuse(now, from, bytes, h.nonce, creds?.isRevoked(h.credential) ? 'revoked' : 'unknown-credential');
    const packet = openRequest(this.requestAead(cred.id, cred.key), bytes);
    if (!packet) return this.refuse(now, from, bytes, h.nonce, 'bad-seal');
    const nonce = hexOf(h.nonce);
    const seen = this.seen.check(cred.id, nonce, h.timeMs);
    if (Math.abs(now - h.timeMs) > this.cfg.clockSkewMs || seen === 'below-floor') return this.refuse(now, from, bytes, h.nonce, 'clock-skew');
    if (h.target?.server !== this.init.self || h.target.epoch !== this.init.epoch) return this.retarget(now, from, bytes, h.nonce, this.init.crypto, cred);
    if (seen === 'replay') {
      this.stats.replays++;
      return { ok: false, reason: 'client-replay' };
    }
    this.seen.remember(now, cred.id, nonce, h.timeMs);
    return this.accept(h.nonce, cred.key, { credential: cred.id, role: cred.role }, packet);
  }

  /** Request nonces kept to refuse replays (bounded by replayCacheMax). */
  get noncesKept(): number {
    return this.seen.count;
  }

  /**
   * `packet` in the client answer envelope of `channel`; undefined when its
   * credential was revoked since (what was queued for it is withheld, never
   * sent under another key or in the clear).
   */
  wrap(channel: ClientChannel, packet: Uint8Array): Uint8Array | undefined {
    const crypto = this.init.crypto;
    if (!channel.kc || !crypto) return shortAnswer(ANSWER_FORM.plain, channel.nonce, packet);
    if (!this.init.credentials()?.get(channel.credential)) return undefined;
    return sealAnswer(this.answerAead(crypto, channel.credential, channel.kc), channel.nonce, this.init.self, this.init.epoch, ++this.counter, packet);
  }

  /** The AEAD answers to `credential` are sealed with in this epoch (cached, bounded). */
  private answerAead(crypto: SecurityCrypto, credential: string, kc: Uint8Array): Aead {
    let aead = this.answerKeys.get(credential);
    if (!aead) {
      aead = crypto.aead(answerKey(crypto, kc, this.init.self, this.init.epoch));
      if (this.answerKeys.size >= 1024) this.answerKeys.clear();
      this.answerKeys.set(credential, aead);
    }
    return aead;
  }

  /**
   * A verified request that names no server, another one, or an earlier
   * life of this one: not run, and answered with who we are, sealed to its
   * credential, never larger than the request and at most a few a second
   * per source (a replay from a forged source draws no more than a stranger's junk).
   */
  private retarget(now: TimeMs, from: Address, request: Uint8Array, nonce: Uint8Array, crypto: SecurityCrypto, cred: Credential): GateResult {
    this.stats.retargets++;
    if (request.length < RETARGET_ANSWER_BYTES || !this.authAnswers.take(now, from)) {
      this.stats.authAnswersLimited++;
      return { ok: false, reason: 'client-retarget' };
    }
    const answer = sealAnswer(this.answerAead(crypto, cred.id, cred.key), nonce, this.init.self, this.init.epoch, ++this.counter, new Uint8Array(0), ANSWER_FORM.retarget);
    return { ok: false, reason: 'client-retarget', answer };
  }

  private accept(nonce: Uint8Array, kc: Uint8Array | undefined, who: ClientIdentity, packet: Uint8Array): GateResult {
    this.stats.admitted++;
    if (who.credential === ANONYMOUS) this.stats.anonymous++;
    return { ok: true, packet, who, channel: { kc, credential: who.credential, nonce: new Uint8Array(nonce) } };
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
}
