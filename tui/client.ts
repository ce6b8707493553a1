/**
 * The client library: asks contactd servers over UDP and gets answers back,
 * across loss, slow servers and dead ones.
 *
 * How this works. Every request is one `clientReq` (protocol/wire) with a
 * fresh request id, sent from one UDP socket; answers are matched by id
 * (fragmented answers are reassembled first). A request that gets no answer
 * is sent again with a doubling timeout (attemptTimeoutMs, 2x, 4x… capped),
 * `attemptsPerServer` times, then to the next server of the list; the list
 * is the servers given, then the cluster members learnt from `hello` and
 * `members` answers and from a subscription's snapshots and pushes
 * (members known dead or left are tried last). A retry is byte-for-byte
 * the same request, so a write keeps its op id and a retried create never
 * makes two contacts, even when the first server took it and died before
 * answering. The server that answered last is asked first next time. When
 * every server has been tried, `NoServerError`.
 *
 * `subscribe(onEvent)` starts a live subscription (subscription.ts) that
 * shares the socket: pushes arrive on it and are routed by subscription id.
 *
 * Requests are padded with spaces (valid JSON) to `padToBytes`: a server
 * answers a stranger's error in no more bytes than the request (no
 * amplification), and the padding leaves room for a useful message.
 * IPv4 only for now (one udp4 socket); host names are resolved by dgram.
 *
 * Credentials: every datagram travels in the client envelope
 * (protocol/security/client-envelope.ts), sealed under a key derived from
 * the client's credential (anonymous without one), with a fresh nonce and
 * timestamp on every attempt, so a retry is never mistaken for a replay
 * (the packet inside, op id included, is the same). A server that refuses
 * the credential answers `auth-required`: that fails the request at once
 * with AuthRequiredError (other servers would not help: credentials are the
 * same cluster-wide).
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { decodePacket, encodePacket } from '../protocol/wire/codec.ts';
import { fragmentPacket, Reassembler } from '../protocol/fragments.ts';
import type { ClientPush, ClientRes, PacketHeader } from '../protocol/wire/messages.ts';
import { nodeId, parseAddress } from '../protocol/types.ts';
import { parseJson, toAsciiJson } from '../protocol/client/json.ts';
import { ANONYMOUS, REQUEST_HEADER_BYTES, credentialKey, openAnswer, sealRequest, type RequestTarget } from '../protocol/security/client-envelope.ts';
import { hexOf } from '../protocol/security/envelope.ts';
import { TAG_BYTES, type Aead } from '../protocol/security/crypto.ts';
import { nodeCrypto } from '../daemon/node-crypto.ts';
import { Subscription, type SubscribeOptions, type SubscriptionEvent } from './subscription.ts';

/** Servers a client keeps in its failover list at most (given and learnt). */
export const SERVERS_MAX = 256;

export interface ClientOptions {
  /** `host:port` of servers to try, in order. */
  servers: string[];
  /** The cluster name the servers run with (contactd's --cluster). */
  cluster?: string;
  /** First wait for an answer; doubles on every retry up to `maxAttemptTimeoutMs`. */
  attemptTimeoutMs?: number;
  maxAttemptTimeoutMs?: number;
  attemptsPerServer?: number;
  /** Datagram budget for requests (larger ones are fragmented). */
  budgetBytes?: number;
  padToBytes?: number;
  /** Told when a server did not answer and the next one is tried. */
  onFailover?: (from: string, to: string) => void;
  /** The client's credential (credentials.ts); anonymous without one. */
  credential?: ClientCredential | undefined;
}

/** The answer to one request. */
export interface ClientAnswer {
  result: unknown;
  cursor: string;
  more: boolean;
  /** The server that answered, as it is in `serverList`. */
  server: string;
}

/** The client was closed while the request was waiting. */
export class ClientClosedError extends Error {
  override name = 'ClientClosedError';
  constructor() {
    super('the client was closed');
  }
}

/** No server answered. */
export class NoServerError extends Error {
  override name = 'NoServerError';
  constructor(readonly tried: readonly string[]) {
    super(`no server answered (tried ${tried.join(', ')}): is contactd running there, with this cluster name? Use --server HOST:PORT`);
  }
}

/** A server answered with an error. */
export class RequestError extends Error {
  override name = 'RequestError';
  constructor(readonly code: string, message: string, readonly issues: readonly { path: string; reason: string }[] = []) {
    super(message);
  }
}

/** A client credential: its id (16 hex digits) and secret (32 bytes). */
export interface ClientCredential {
  id: string;
  secret: Uint8Array;
}

/** Parses a credential token `ID.SECRET` (secret in base64url), as `contacts credentials create` prints it; throws TypeError saying what is wrong. */
export function parseCredential(token: string): ClientCredential {
  const m = /^([0-9a-f]{16})\.([A-Za-z0-9_-]{43})=?$/.exec(token.trim());
  if (!m) throw new TypeError('a credential is ID.SECRET as `contacts credentials create` prints it (16 hex digits, a dot, 43 base64url characters)');
  return { id: m[1]!, secret: new Uint8Array(Buffer.from(m[2]!, 'base64url')) };
}

/** A credential token for `c`. */
export function credentialToken(c: ClientCredential): string {
  return `${c.id}.${Buffer.from(c.secret).toString('base64url')}`;
}

/** The server refused our credential (or its absence): a problem of configuration, not of the cluster. */
export class AuthRequiredError extends Error {
  override name = 'AuthRequiredError';
  constructor(readonly server: string, readonly reason: string, readonly anonymous: boolean) {
    super(anonymous
      ? `${server} requires a credential (${reason}): set CONTACTS_CREDENTIAL to one, or give --credential-file FILE; an admin makes one with \`contacts credentials create --role read|write|admin\``
      : `${server} refused this credential (${reason}): it may have been revoked, or belong to another cluster; ask an admin for a new one (contacts credentials create), or check the clocks if the reason is clock-skew`);
  }
}

interface Pending {
  resolve: (res: ClientRes | AuthRequiredError | undefined) => void;
  /** The server said who it is (a retarget answer): send again, naming it. */
  retarget: (target: RequestTarget) => void;
}

/** Retarget answers one request follows per server: a server restarting that often is not worth chasing. */
const RETARGETS_MAX = 3;

/** A client of a contactd cluster; `close()` it when done. */
export class ContactsClient {
  private readonly servers: string[] = [];
  private readonly header: PacketHeader;
  private readonly pending = new Map<number, Pending>();
  private readonly reassembler = new Reassembler();
  private socket: Socket | undefined;
  private nextReqId = randomBytes(4).readUInt32BE(0);
  private preferred = 0;
  /** Member states learnt, by address: a member known dead or left is tried last. */
  private readonly stateOf = new Map<string, string>();
  private pushListener: ((push: ClientPush, from: string) => void) | undefined;
  private subscription: Subscription | undefined;
  private closed = false;
  private readonly opts: Required<Omit<ClientOptions, 'onFailover' | 'servers' | 'credential'>> & Pick<ClientOptions, 'onFailover'>;
  private readonly credential: string;
  /** K_c: the key requests are sealed under (undefined: anonymous). */
  private readonly kc: Uint8Array | undefined;
  private readonly answerKeys = new Map<string, Aead>();
  /** Which request each envelope nonce belongs to (to match an auth-required or retarget answer). */
  private readonly byNonce = new Map<string, number>();
  /** Who each server is, in its current life, as its retarget answers said (bounded by SERVERS_MAX). */
  private readonly targets = new Map<string, RequestTarget>();

  constructor(options: ClientOptions) {
    if (options.servers.length === 0) throw new TypeError('ContactsClient needs at least one server');
    for (const s of options.servers) this.addServer(s);
    this.opts = {
      cluster: options.cluster ?? 'contacts', attemptTimeoutMs: options.attemptTimeoutMs ?? 300,
      maxAttemptTimeoutMs: options.maxAttemptTimeoutMs ?? 2000, attemptsPerServer: options.attemptsPerServer ?? 3,
      budgetBytes: options.budgetBytes ?? 1400, padToBytes: options.padToBytes ?? 600, onFailover: options.onFailover,
    };
    // A random client id: the packet header needs a sender id, and servers never add it to their member table.
    this.header = { cluster: this.opts.cluster, from: nodeId(randomBytes(8).toString('hex')) };
    this.credential = options.credential?.id ?? ANONYMOUS;
    this.kc = options.credential && credentialKey(nodeCrypto, options.credential.id, options.credential.secret);
  }

  /** `packet` in a request envelope for `server`, with a fresh nonce (every attempt gets its own: a server refuses a nonce twice). */
  private envelope(reqId: number, packet: Uint8Array, server: string): Uint8Array {
    const nonce = new Uint8Array(randomBytes(12));
    this.byNonce.set(hexOf(nonce), reqId);
    if (this.byNonce.size > 4096) this.byNonce.delete(this.byNonce.keys().next().value as string);
    return sealRequest(nodeCrypto, { credential: this.credential, timeMs: Date.now(), nonce, target: this.targets.get(server) }, this.kc, packet);
  }

  /** Whether requests go without a credential (a server's inbound guard then counts us as a stranger, with a far lower rate). */
  get anonymous(): boolean {
    return this.kc === undefined;
  }

  /** The servers tried, in order (given ones first, then learnt ones). */
  get serverList(): readonly string[] {
    return this.servers;
  }

  /** Adds a server to the end of the failover list (once; at most SERVERS_MAX); throws on a malformed address. */
  addServer(s: string): void {
    const a = parseAddress(s);
    if (!a) throw new TypeError(`not a HOST:PORT server address: ${JSON.stringify(s)}`);
    if (a.host.includes(':')) throw new TypeError(`IPv6 servers are not supported yet: ${s}`);
    if (!this.servers.includes(s) && this.servers.length < SERVERS_MAX) this.servers.push(s);
  }

  /** Notes cluster members (from `members`, a snapshot or a push): live ones join the failover list, dead and left ones are tried last. */
  learnMembers(members: readonly { address: string; state: string }[]): void {
    for (const m of members) {
      this.stateOf.set(m.address, m.state);
      if (m.state !== 'alive' && m.state !== 'suspect') continue;
      try {
        this.addServer(m.address);
      } catch {
        // A member we cannot reach from here (IPv6): the others still serve.
      }
    }
  }

  /**
   * Starts a live subscription: `onEvent` hears a snapshot, then every
   * change, member change, re-read and outage (subscription.ts). Close it,
   * or the client, to stop. One at a time: a server keeps one subscription
   * per client address, and this client has one socket.
   */
  subscribe(onEvent: (e: SubscriptionEvent) => void, options?: SubscribeOptions): Subscription {
    if (this.closed) throw new ClientClosedError();
    if (this.subscription && !this.subscription.isClosed) throw new TypeError('this client already has a subscription: close it first (one per client)');
    const sub = new Subscription({
      request: (op, args) => this.request(op, args),
      learnMembers: (m) => this.learnMembers(m),
      notify: (server, op, args) => this.notify(server, op, args),
      setPushListener: (l) => { this.pushListener = l; },
    }, onEvent, options);
    this.subscription = sub;
    return sub;
  }

  /** Sends `op` once to `server` and does not wait for an answer (an unsubscribe on the way out). */
  notify(server: string, op: string, args: Record<string, unknown>): void {
    const a = parseAddress(server);
    if (!a || this.closed) return;
    const reqId = this.nextReqId = (this.nextReqId + 1) >>> 0;
    const bytes = encodePacket(this.header, [{ type: 'clientReq', reqId, op, args: this.pad(toAsciiJson(args)) }]);
    this.open().send(this.envelope(reqId, bytes, server), a.port, a.host, () => undefined);
  }

  /** The failover order: the server that answered last, the rest in list order, members known down last. */
  private order(): string[] {
    const n = this.servers.length;
    const rotated = Array.from({ length: n }, (_, k) => this.servers[(this.preferred + k) % n]!);
    const down = (s: string): boolean => this.stateOf.get(s) === 'dead' || this.stateOf.get(s) === 'left';
    return [...rotated.filter((s) => !down(s)), ...rotated.filter(down)];
  }

  private pad(text: string): string {
    return text + ' '.repeat(Math.max(0, this.opts.padToBytes - text.length));
  }

  /**
   * Sends `op` with `args` until a server answers; throws RequestError for an error answer, NoServerError when none answers.
   * `attemptTimeoutMs` overrides the client's first wait (a large request takes a busy server longer than a small one).
   */
  async request(op: string, args: Record<string, unknown> = {}, options: { attemptTimeoutMs?: number } = {}): Promise<ClientAnswer> {
    if (this.closed) throw new ClientClosedError();
    const reqId = this.nextReqId = (this.nextReqId + 1) >>> 0;
    const bytes = encodePacket(this.header, [{ type: 'clientReq', reqId, op, args: this.pad(toAsciiJson(args)) }]);
    // Each datagram grows by its envelope: the pieces leave room for it.
    const budget = this.opts.budgetBytes - REQUEST_HEADER_BYTES - TAG_BYTES;
    const datagrams = bytes.length > budget ? fragmentPacket(this.header, bytes, reqId, budget) : [bytes];
    const tried: string[] = [];
    for (const server of this.order()) {
      if (tried.length > 0) this.opts.onFailover?.(tried[tried.length - 1]!, server);
      tried.push(server);
      const res = await this.tryServer(server, reqId, datagrams, options.attemptTimeoutMs ?? this.opts.attemptTimeoutMs);
      if (this.closed) throw new ClientClosedError();
      if (res instanceof AuthRequiredError) throw res;
      if (!res) continue;
      this.preferred = this.servers.indexOf(server);
      const answer = this.unwrap(res, server);
      if ((op === 'members' || op === 'hello') && Array.isArray((answer.result as { members?: unknown })?.members ?? answer.result)) {
        this.learnFrom(op, answer.result);
      }
      return answer;
    }
    throw new NoServerError(tried);
  }

  private learnFrom(op: string, result: unknown): void {
    const list = (op === 'hello' ? (result as { members: unknown[] }).members : result) as { address?: unknown; state?: unknown }[];
    this.learnMembers(list.filter((m) => typeof m?.address === 'string').map((m) => ({ address: m.address as string, state: typeof m.state === 'string' ? m.state : 'alive' })));
  }

  /** Every item of a paged op (list, search, conflicts), asking page after page. */
  async all(op: string, args: Record<string, unknown> = {}): Promise<unknown[]> {
    const items: unknown[] = [];
    let after = '';
    for (;;) {
      const page = await this.request(op, after ? { ...args, after } : args);
      items.push(...(page.result as unknown[]));
      if (!page.more) return items;
      after = page.cursor;
    }
  }

  /** Asks for the live members (their addresses join the failover list); returns the answer. */
  async hello(): Promise<{ node: string; name: string; members: { id: string; name: string; address: string }[] }> {
    return (await this.request('hello')).result as Awaited<ReturnType<ContactsClient['hello']>>;
  }

  /** Closes subscriptions (each tells its server), ends requests in flight with ClientClosedError, and closes the socket. */
  close(): void {
    void this.subscription?.close();
    this.closed = true;
    for (const p of [...this.pending.values()]) p.resolve(undefined);
    this.socket?.close();
    this.socket = undefined;
  }

  private unwrap(res: ClientRes, server: string): ClientAnswer {
    const parsed = parseJson(res.result);
    if (!parsed.ok) throw new RequestError('bad-answer', `${server} answered with malformed JSON: ${parsed.message}`);
    if (!res.ok) {
      const e = parsed.value as { code?: string; message?: string; issues?: { path: string; reason: string }[] };
      throw new RequestError(e.code ?? 'error', e.message || `the server refused the request (${e.code ?? 'no reason given'})`, e.issues ?? []);
    }
    return { result: parsed.value, cursor: res.cursor, more: res.more, server };
  }

  /** Sends to one server with retries; the answer, or undefined after the last attempt's timeout (or on close). */
  private tryServer(server: string, reqId: number, datagrams: Uint8Array[], attemptTimeoutMs: number): Promise<ClientRes | AuthRequiredError | undefined> {
    const { host, port } = parseAddress(server)!;
    const socket = this.open();
    return new Promise((resolve) => {
      let attempt = 0;
      let retargets = 0;
      let timer: NodeJS.Timeout | undefined;
      const finish = (value: ClientRes | AuthRequiredError | undefined): void => {
        clearTimeout(timer);
        this.pending.delete(reqId);
        resolve(value);
      };
      const transmit = (): void => {
        // Errors (unreachable port, DNS) show as no answer: the timeout moves on.
        for (const d of datagrams) socket.send(this.envelope(reqId, d, server), port, host, () => undefined);
      };
      const send = (): void => {
        if (attempt >= this.opts.attemptsPerServer || this.closed) return finish(undefined);
        const waitMs = Math.min(attemptTimeoutMs * 2 ** attempt, Math.max(attemptTimeoutMs, this.opts.maxAttemptTimeoutMs));
        attempt++;
        transmit();
        timer = setTimeout(send, waitMs);
      };
      const retarget = (target: RequestTarget): void => {
        const known = this.targets.get(server);
        if (known?.server === target.server && known.epoch === target.epoch) return; // an earlier attempt's answer
        if (retargets++ >= RETARGETS_MAX || this.closed) return;
        if (!known && this.targets.size >= SERVERS_MAX) this.targets.delete(this.targets.keys().next().value as string);
        this.targets.set(server, target);
        transmit(); // at once: the server is there and answering; the attempt's timer keeps running
      };
      // Matched by request id alone: a server named by host name answers from its IP address.
      this.pending.set(reqId, { resolve: finish, retarget });
      send();
    });
  }

  private open(): Socket {
    if (this.socket) return this.socket;
    const s = createSocket('udp4');
    s.on('message', (buf, rinfo) => this.onDatagram(new Uint8Array(buf.buffer, buf.byteOffset, buf.length), `${rinfo.address}:${rinfo.port}`));
    // ICMP port unreachable and the like: a dead server is handled by the timeout.
    s.on('error', () => undefined);
    this.socket = s;
    return s;
  }

  private onDatagram(bytes: Uint8Array, from: string, reassembled = false): void {
    if (!reassembled) {
      const opened = openAnswer(nodeCrypto, this.kc, bytes, this.answerKeys);
      if (opened.kind === 'invalid') return;
      if (opened.kind === 'auth-required' || opened.kind === 'retarget') {
        const reqId = this.byNonce.get(hexOf(opened.nonce));
        const pending = reqId === undefined ? undefined : this.pending.get(reqId);
        if (opened.kind === 'retarget') pending?.retarget(opened.target);
        else pending?.resolve(new AuthRequiredError(from, opened.reason, this.kc === undefined));
        return;
      }
      bytes = opened.packet;
    }
    const r = decodePacket(bytes, this.opts.cluster);
    if (!r.ok) return;
    for (const m of r.packet.messages) {
      if (m.type === 'frag' && !reassembled) {
        const whole = this.reassembler.add(Date.now(), r.packet.from, m);
        if (whole) this.onDatagram(whole, from, true);
      } else if (m.type === 'clientRes') {
        this.pending.get(m.reqId)?.resolve(m);
      } else if (m.type === 'clientPush') {
        this.pushListener?.(m, from);
      }
    }
  }
}
