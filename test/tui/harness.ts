/**
 * The real TUI (App, views, blessed) on fake streams, against an
 * in-process contactd core: fast tests that drive it with keys and read
 * the screen.
 *
 * How this works. `fakeTerminal` gives blessed PassThrough streams that
 * claim to be a TTY of a given size; keys are written to the input as the
 * bytes a terminal sends. The screen is read from blessed's cell buffer
 * (what it last drew), one string per row. `FakeCluster` answers client
 * requests with a real ClusterNode's ClientService (real validation, real
 * CRDT, real paging, real pushes to the real Subscription), reached without
 * a socket; it pretends to be several servers, any of which can be "down"
 * (it then reports the failover the way tui/client.ts does, or
 * NoServerError when all are down), and it can lose an answer after
 * applying the request, as a server dying mid-write would. The member list
 * is scripted (the polling feed reads it; pushes carry only the core's own). `waitFor` polls the screen until a
 * text appears, with a deadline: tests wait on the screen, not on time.
 */
import { PassThrough } from 'node:stream';
import { ClusterNode } from '../../protocol/node.ts';
import { SeededRng } from '../../protocol/rng.ts';
import { decodePacket, encodePacket } from '../../protocol/wire/codec.ts';
import { fragmentPacket, Reassembler } from '../../protocol/fragments.ts';
import { address, nodeId } from '../../protocol/types.ts';
import { toAsciiJson } from '../../protocol/client/json.ts';
import type { ClientPush, ClientRes } from '../../protocol/wire/messages.ts';
import { Subscription, type SubscribeOptions, type SubscriptionEvent } from '../../tui/subscription.ts';
import { SubscriptionFeed } from '../../tui/app/remote/subscription-feed.ts';
import { NoServerError, RequestError, type ClientAnswer } from '../../tui/client.ts';
import { LinkedClient, type RequestClient } from '../../tui/app/remote/link.ts';
import { PollingFeed } from '../../tui/app/remote/polling-feed.ts';
import type { Member } from '../../tui/app/remote/types.ts';
import { App } from '../../tui/app/app.ts';
import { openScreen } from '../../tui/app/terminal.ts';
import { themeFor } from '../../tui/app/theme.ts';
import type blessed from 'blessed';

/** The bytes a terminal sends for each key name the tests use. */
export const KEY_BYTES: Record<string, string> = {
  enter: '\r', escape: '\x1b', tab: '\t', 'S-tab': '\x1b[Z', backspace: '\x7f',
  up: '\x1b[A', down: '\x1b[B', right: '\x1b[C', left: '\x1b[D',
  pageup: '\x1b[5~', pagedown: '\x1b[6~', home: '\x1b[1~', end: '\x1b[4~',
  'C-c': '\x03', 'C-s': '\x13', 'C-u': '\x15', 'C-w': '\x17', 'C-l': '\x0c',
};

export interface FakeTerminal {
  input: PassThrough & { isTTY: boolean; setRawMode(on: boolean): void };
  output: PassThrough & { isTTY: boolean; columns: number; rows: number };
  /** Everything blessed wrote, as text. */
  written(): string;
  resize(cols: number, rows: number): void;
}

export function fakeTerminal(cols: number, rows: number): FakeTerminal {
  const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: (_on: boolean) => undefined });
  const output = Object.assign(new PassThrough(), { isTTY: true, columns: cols, rows });
  const chunks: Buffer[] = [];
  output.on('data', (d: Buffer) => chunks.push(d));
  return {
    input, output,
    written: () => Buffer.concat(chunks).toString('utf8'),
    resize(c, r) {
      output.columns = c;
      output.rows = r;
      output.emit('resize');
    },
  };
}

const CLUSTER = 'contacts';
const FAKE_CLIENT = nodeId('c1c1c1c1c1c1c1c1');
const FAKE_CLIENT_ADDR = address('127.0.0.1:50000');
const HEADER = { cluster: CLUSTER, from: FAKE_CLIENT };

/**
 * A cluster in one process: one real core behind several pretend server
 * addresses. Requests travel as datagrams into the core (so it answers,
 * and pushes to subscribers, exactly as contactd does); a server that is
 * "down" gets nothing and the next is tried, as tui/client.ts does.
 */
export class FakeCluster implements RequestClient {
  readonly node = new ClusterNode({ id: nodeId('00000000000000a1'), addr: address('127.0.0.1:7001'), rng: new SeededRng(5), now: Date.now() });
  readonly serverList: string[];
  readonly down = new Set<string>();
  members: Member[];
  /** Ops answered, in order (op and args). */
  readonly requests: { op: string; args: Record<string, unknown>; server: string }[] = [];
  /** The next request of this op is applied, then its answer is lost and the server goes down. */
  loseAnswerOf: string | undefined;
  /** The next request of this op is refused with this error (as a server with other rules would). */
  refuseNext: { op: string; code: string; message: string; issues: { path: string; reason: string }[] } | undefined;
  onFailover: (from: string, to: string) => void = () => undefined;
  private preferred = 0;
  private reqId = 0;
  private pushListener: ((push: ClientPush, from: string) => void) | undefined;
  /** Where the last subscribe was answered: pushes come from there while it is up. */
  private subscribedAt: string | undefined;

  constructor(servers = ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003']) {
    this.serverList = [...servers];
    this.members = servers.map((s, i) => ({ id: `00000000000000a${i + 1}`, name: `node-${i + 1}`, address: s, state: 'alive', incarnation: 0, lastHeardMsAgo: 100 * i }));
  }

  addServer(s: string): void {
    if (!this.serverList.includes(s)) this.serverList.push(s);
  }

  close(): void {}

  /** A live subscription over this fake, as ContactsClient.subscribe makes one. */
  subscribe(onEvent: (e: SubscriptionEvent) => void, options?: SubscribeOptions): Subscription {
    return new Subscription({
      request: (op, args) => this.request(op, args),
      learnMembers: (ms) => { for (const m of ms) if (m.state === 'alive') this.addServer(m.address); },
      notify: () => undefined,
      setPushListener: (l) => { this.pushListener = l; },
    }, onEvent, options);
  }

  async request(op: string, args: Record<string, unknown> = {}): Promise<ClientAnswer> {
    await new Promise((r) => setImmediate(r));
    const tried: string[] = [];
    for (let k = 0; k < this.serverList.length; k++) {
      const server = this.serverList[(this.preferred + k) % this.serverList.length]!;
      if (k > 0) this.onFailover(tried[tried.length - 1]!, server);
      tried.push(server);
      if (this.down.has(server)) continue;
      if (this.refuseNext?.op === op) {
        const { code, message, issues } = this.refuseNext;
        this.refuseNext = undefined;
        throw new RequestError(code, message, issues);
      }
      const res = this.answer(op, args, server);
      if (this.loseAnswerOf === op) {
        this.loseAnswerOf = undefined;
        this.down.add(server);
        continue;
      }
      this.preferred = this.serverList.indexOf(server);
      if (op === 'subscribe') this.subscribedAt = server;
      if (!res.ok) {
        const e = JSON.parse(res.result) as { code: string; message: string; issues?: { path: string; reason: string }[] };
        throw new RequestError(e.code, e.message, e.issues ?? []);
      }
      return { result: JSON.parse(res.result), cursor: res.cursor, more: res.more, server };
    }
    throw new NoServerError(tried);
  }

  /** Writes a contact as another client would (straight into the core; subscribers are pushed the change). */
  async add(name: string, more: Record<string, unknown> = {}): Promise<{ id: string; seen: unknown }> {
    const id = `01J${String(++this.reqId).padStart(23, '0')}`;
    const r = this.answer('put', { opId: `seed-${id}`, patch: { kind: 'create', contact: { id, formattedName: name, ...more } } }, this.serverList[0]!, false);
    if (!r.ok) throw new Error(r.result);
    return JSON.parse(r.result).contact;
  }

  /** One request as a datagram into the core; its answer (members is scripted). Pushes it makes are delivered on the next turn. */
  private answer(op: string, args: Record<string, unknown>, server: string, record = true): ClientRes {
    if (record) this.requests.push({ op, args, server });
    if (op === 'members') return { type: 'clientRes', reqId: 0, ok: true, result: toAsciiJson(this.members), cursor: '', more: false };
    const reqId = ++this.reqId;
    const bytes = encodePacket(HEADER, [{ type: 'clientReq', reqId, op, args: toAsciiJson(args) }]);
    for (const d of bytes.length > 1400 ? fragmentPacket(HEADER, bytes, reqId, 1400) : [bytes]) this.node.handleDatagram(Date.now(), FAKE_CLIENT_ADDR, d);
    let answer: ClientRes | undefined;
    const re = new Reassembler();
    for (let t = this.node.pollTransmit(); t; t = this.node.pollTransmit()) {
      if (t.to !== FAKE_CLIENT_ADDR) continue;
      let r = decodePacket(t.bytes, CLUSTER);
      if (!r.ok) continue;
      let m = r.packet.messages[0]!;
      if (m.type === 'frag') {
        const whole = re.add(0, r.packet.from, m);
        if (!whole) continue;
        r = decodePacket(whole, CLUSTER);
        if (!r.ok) continue;
        m = r.packet.messages[0]!;
      }
      if (m.type === 'clientRes' && m.reqId === reqId) answer = m;
      for (const msg of r.packet.messages) if (msg.type === 'clientPush') this.deliver(msg);
    }
    if (!answer) throw new Error(`the core did not answer ${op}`);
    return answer;
  }

  private deliver(push: ClientPush): void {
    setImmediate(() => {
      if (this.subscribedAt !== undefined && !this.down.has(this.subscribedAt)) this.pushListener?.(push, this.subscribedAt);
    });
  }
}

export interface TestApp {
  app: App;
  screen: blessed.Widgets.Screen;
  term: FakeTerminal;
  cluster: FakeCluster;
  /** The screen as blessed last drew it, one string per row. */
  rows(): string[];
  text(): string;
  /** Sends keys (names from KEY_BYTES, or characters) one by one. */
  press(...keys: string[]): void;
  /** Types text, one character per keypress. */
  type(text: string): void;
  /** Resolves when `check` holds for the screen text; fails after `timeoutMs` showing the screen. */
  waitFor(what: string | RegExp | ((text: string) => boolean), timeoutMs?: number): Promise<void>;
  quitCalls: number;
  close(): void;
}

export interface TestAppOptions {
  cols?: number;
  rows?: number;
  env?: Record<string, string | undefined>;
  cluster?: FakeCluster;
  /** The feed: a live subscription (as `contacts` runs), or polling every `pollMs`. */
  feed?: 'subscribe' | 'poll';
  pollMs?: number;
}

/** Starts the real App on a fake terminal against a FakeCluster. */
export function startApp(opts: TestAppOptions = {}): TestApp {
  const term = fakeTerminal(opts.cols ?? 100, opts.rows ?? 30);
  const cluster = opts.cluster ?? new FakeCluster();
  const linked = new LinkedClient(cluster);
  cluster.onFailover = (from, to) => linked.failover(from, to);
  const screen = openScreen({ input: term.input, output: term.output, term: 'xterm-256color' });
  const t: TestApp = {
    app: undefined as unknown as App, screen, term, cluster, quitCalls: 0,
    // blessed keeps what it drew as rows of [attributes, character] cells; a wide character's second cell is blank.
    rows: () => (screen as unknown as { lines: [number, string][][] }).lines.map((row) => row.map((cell) => cell[1]).join('').replace(/\x03/g, '')),
    text: () => t.rows().join('\n'),
    press: (...keys) => {
      for (const k of keys) term.input.write(KEY_BYTES[k] ?? k);
    },
    type: (s) => {
      for (const ch of s) term.input.write(ch);
    },
    waitFor: (what, timeoutMs = 5000) => {
      const check = typeof what === 'function' ? what : (s: string) => (typeof what === 'string' ? s.includes(what) : what.test(s));
      const deadline = Date.now() + timeoutMs;
      return new Promise((resolve, reject) => {
        const poll = (): void => {
          if (check(t.text())) return resolve();
          if (Date.now() > deadline) return reject(new Error(`screen never showed ${String(what)} within ${timeoutMs} ms; it shows:\n${t.text()}`));
          setTimeout(poll, 5);
        };
        poll();
      });
    },
    close: () => {
      t.app.stop();
      screen.destroy();
    },
  };
  t.app = new App({
    screen, theme: themeFor(opts.env ?? {}), client: linked,
    feed: opts.feed === 'poll'
      ? new PollingFeed(linked, { everyMs: opts.pollMs ?? 50, firstBackoffMs: 50, maxBackoffMs: 200 })
      : new SubscriptionFeed(() => Promise.resolve(cluster), linked, { leaseMs: 2000, renewEveryMs: 100, retryMinMs: 50, retryMaxMs: 200 }),
    onQuit: () => { t.quitCalls++; },
  });
  t.app.start();
  return t;
}
