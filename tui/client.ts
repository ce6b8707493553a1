/**
 * The client library: asks contactd servers over UDP and gets answers back,
 * across loss, slow servers and dead ones.
 *
 * How this works. Every request is one `clientReq` (protocol/wire) with a
 * fresh request id, sent from one UDP socket; answers are matched by id
 * (fragmented answers are reassembled first). A request that gets no answer
 * is sent again with a doubling timeout (attemptTimeoutMs, 2x, 4x… capped),
 * `attemptsPerServer` times, then to the next server of the list; the list
 * is the servers given, then the members learnt from `hello`. A retry is
 * byte-for-byte the same request, so a write keeps its op id and a retried
 * create never makes two contacts, even when the first server took it and
 * died before answering. The server that answered last is asked first next
 * time. When every server has been tried, `NoServerError`.
 *
 * Requests are padded with spaces (valid JSON) to `padToBytes`: a server
 * answers a stranger's error in no more bytes than the request (no
 * amplification), and the padding leaves room for a useful message.
 * IPv4 only for now (one udp4 socket); host names are resolved by dgram.
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { decodePacket, encodePacket } from '../protocol/wire/codec.ts';
import { fragmentPacket, Reassembler } from '../protocol/fragments.ts';
import type { ClientRes, PacketHeader } from '../protocol/wire/messages.ts';
import { nodeId, parseAddress } from '../protocol/types.ts';
import { parseJson, toAsciiJson } from '../protocol/client/json.ts';

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
}

/** The answer to one request. */
export interface ClientAnswer {
  result: unknown;
  cursor: string;
  more: boolean;
  /** The server that answered. */
  server: string;
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

interface Pending {
  resolve: (res: ClientRes, server: string) => void;
}

/** A client of a contactd cluster; `close()` it when done. */
export class ContactsClient {
  private readonly servers: string[] = [];
  private readonly header: PacketHeader;
  private readonly pending = new Map<number, Pending>();
  private readonly reassembler = new Reassembler();
  private socket: Socket | undefined;
  private nextReqId = randomBytes(4).readUInt32BE(0);
  private preferred = 0;
  private readonly opts: Required<Omit<ClientOptions, 'onFailover' | 'servers'>> & Pick<ClientOptions, 'onFailover'>;

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
  }

  /** The servers tried, in order (given ones first, then learnt ones). */
  get serverList(): readonly string[] {
    return this.servers;
  }

  /** Adds a server to the end of the failover list (once); throws on a malformed address. */
  addServer(s: string): void {
    const a = parseAddress(s);
    if (!a) throw new TypeError(`not a HOST:PORT server address: ${JSON.stringify(s)}`);
    if (a.host.includes(':')) throw new TypeError(`IPv6 servers are not supported yet: ${s}`);
    if (!this.servers.includes(s)) this.servers.push(s);
  }

  /** Sends `op` with `args` until a server answers; throws RequestError for an error answer, NoServerError when none answers. */
  async request(op: string, args: Record<string, unknown> = {}): Promise<ClientAnswer> {
    const reqId = this.nextReqId = (this.nextReqId + 1) >>> 0;
    const text = toAsciiJson(args);
    const padded = text + ' '.repeat(Math.max(0, this.opts.padToBytes - text.length));
    const bytes = encodePacket(this.header, [{ type: 'clientReq', reqId, op, args: padded }]);
    const datagrams = bytes.length > this.opts.budgetBytes ? fragmentPacket(this.header, bytes, reqId, this.opts.budgetBytes) : [bytes];
    const tried: string[] = [];
    for (let k = 0; k < this.servers.length; k++) {
      const i = (this.preferred + k) % this.servers.length;
      const server = this.servers[i]!;
      if (k > 0) this.opts.onFailover?.(tried[tried.length - 1]!, server);
      tried.push(server);
      const answer = await this.tryServer(server, reqId, datagrams);
      if (!answer) continue;
      this.preferred = this.servers.indexOf(answer.server);
      return this.unwrap(answer.res, answer.server);
    }
    throw new NoServerError(tried);
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

  /** Asks for the live members and adds their addresses to the failover list; returns the answer. */
  async hello(): Promise<{ node: string; name: string; members: { id: string; name: string; address: string }[] }> {
    const r = (await this.request('hello')).result as Awaited<ReturnType<ContactsClient['hello']>>;
    for (const m of r.members) {
      try {
        this.addServer(m.address);
      } catch {
        // A member we cannot reach from here (IPv6): the others still serve.
      }
    }
    return r;
  }

  close(): void {
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

  /** Sends to one server with retries; the answer, or undefined after the last attempt's timeout. */
  private tryServer(server: string, reqId: number, datagrams: Uint8Array[]): Promise<{ res: ClientRes; server: string } | undefined> {
    const { host, port } = parseAddress(server)!;
    const socket = this.open();
    return new Promise((resolve) => {
      let attempt = 0;
      let timer: NodeJS.Timeout | undefined;
      const finish = (value: { res: ClientRes; server: string } | undefined): void => {
        clearTimeout(timer);
        this.pending.delete(reqId);
        resolve(value);
      };
      this.pending.set(reqId, { resolve: (res, from) => finish({ res, server: from }) });
      const send = (): void => {
        if (attempt >= this.opts.attemptsPerServer) return finish(undefined);
        const waitMs = Math.min(this.opts.attemptTimeoutMs * 2 ** attempt, this.opts.maxAttemptTimeoutMs);
        attempt++;
        // Errors (unreachable port, DNS) show as no answer: the timeout moves on.
        for (const d of datagrams) socket.send(d, port, host, () => undefined);
        timer = setTimeout(send, waitMs);
      };
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
    const r = decodePacket(bytes, this.opts.cluster);
    if (!r.ok) return;
    for (const m of r.packet.messages) {
      if (m.type === 'frag' && !reassembled) {
        const whole = this.reassembler.add(Date.now(), r.packet.from, m);
        if (whole) this.onDatagram(whole, from, true);
      } else if (m.type === 'clientRes') {
        this.pending.get(m.reqId)?.resolve(m, from);
      }
    }
  }
}
