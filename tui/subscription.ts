/**
 * A live subscription to a contactd cluster, client side: keeps a lease at
 * one server, turns its pushes into events, and re-reads whatever it may
 * have missed: after a gap in the pushes, a server's overflow notice, a
 * lost lease, or a move to another server.
 *
 * How this works:
 * - Attach: `subscribe {leaseMs}` then `subscribe {subId, leaseMs}` to
 *   confirm (protocol/client/subscriptions.ts: a server pushes only to a
 *   subscription confirmed with the subId its answer carried). The confirm
 *   answer's `seq` is the baseline; then `members` and every page of
 *   `list` are read and handed over as one `snapshot`. Pushes that arrive
 *   meanwhile are kept and applied after it, in order.
 * - Every `renewEveryMs` the subscription is renewed (the same request).
 *   The renewal is also how a dead server is noticed: the client library
 *   retries it and moves to the next server; there the subId is unknown,
 *   the answer carries a new one, and we attach again (reason `failover`).
 *   The same at the same server means our lease was lost (`lease-lost`:
 *   it lapsed, was evicted, or the server restarted).
 * - Each push carries seq = previous + 1. A push further ahead, or a
 *   renewal reporting a seq we never received, is a gap: re-read (`gap`).
 *   A push `{resync}` asks for the same (`overflow`). Pushes of another
 *   subscription (an old server still pushing until its lease ends) are
 *   ignored.
 * - When no server answers, `offline` is reported and attaching is retried
 *   with doubling backoff, through every server the client knows, the
 *   cluster members learnt from snapshots and member pushes included.
 * Everything the subscription does is reported as a `SubscriptionEvent`,
 * in order, so a TUI can both update its model and log what happened.
 */
import type { Contact } from '../protocol/contacts/model.ts';
import type { ClientPush } from '../protocol/wire/messages.ts';
import type { MemberInfo, PushEvent } from '../protocol/client/subscriptions.ts';
import { parseJson } from '../protocol/client/json.ts';
import { NoServerError, RequestError, type ClientAnswer } from './client.ts';

/** Why a subscription (re)reads everything. */
export type ResyncReason =
  /** The first attach. */
  | 'start'
  /** A push (or a renewal's seq) showed pushes we never received. */
  | 'gap'
  /** The server had more changes than it could push. */
  | 'overflow'
  /** The same server no longer knew our subscription (lapsed, evicted, restarted). */
  | 'lease-lost'
  /** Another server answered: the one we were attached to stopped answering. */
  | 'failover'
  /** A server answered again after none did. */
  | 'reconnected'
  /** `refresh()` was called. */
  | 'refresh';

/** A member's state as servers report it. */
export type MemberState = MemberInfo['state'];

/** What a subscription tells its listener, in order. */
export type SubscriptionEvent =
  /** About to re-read everything from `server` (node id `node`); a `snapshot` follows unless the read fails. */
  | { type: 'resync'; reason: ResyncReason; detail: string; server: string; node: string; previousServer: string | undefined }
  /** Every live contact and every member, as read at `atMs` (Date.now()). Replaces what the listener had. */
  | { type: 'snapshot'; reason: ResyncReason; server: string; contacts: Contact[]; members: MemberInfo[]; atMs: number }
  /** A contact was created or changed: its new view. */
  | { type: 'changed'; server: string; seq: number; contact: Contact }
  /** A contact was deleted. */
  | { type: 'removed'; server: string; seq: number; id: string }
  /** A member's state, incarnation, name or address changed; `members` is the whole list after it. */
  | { type: 'member'; server: string; seq: number; member: MemberInfo; previous: MemberState | 'none'; members: MemberInfo[]; atMs: number }
  /** The server forgot a member (reaped long after it died or left). */
  | { type: 'member-forgotten'; server: string; seq: number; id: string; name: string; members: MemberInfo[] }
  /** No server answered (`tried` lists them); the next attempt is in `retryInMs`. */
  | { type: 'offline'; tried: readonly string[]; retryInMs: number }
  /**
   * Something went wrong that the subscription works around or retries (a
   * server's error answer, with its `code`; a malformed push); worth a log
   * line. `code` 'unknown-op' means the server predates subscriptions: poll it instead.
   */
  | { type: 'problem'; message: string; code?: string };

export interface SubscribeOptions {
  /** Lease asked of the server, ms (the server accepts 1,000..60,000). */
  leaseMs?: number;
  /** How often the lease is renewed; also how soon a dead server is noticed. */
  renewEveryMs?: number;
  /** Backoff when no server answers: first wait, doubling up to the max. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Contacts per `list` page in a snapshot. */
  pageLimit?: number;
  /** Ids of one push re-read with `get`; more make a full re-read. */
  rereadMax?: number;
  /** Pushes kept while a snapshot is read; more make another re-read after it. */
  bufferMax?: number;
  /** Clock for `atMs` (tests pass a fake one). */
  nowMs?: () => number;
}

/** What the subscription needs of the client library (ContactsClient implements it). */
export interface SubscriptionTransport {
  request(op: string, args?: Record<string, unknown>): Promise<ClientAnswer>;
  /** Adds live members' addresses to the failover list. */
  learnMembers(members: readonly { address: string; state: string }[]): void;
  /** Sends one request once to `server`, answer ignored (unsubscribe on close). */
  notify(server: string, op: string, args: Record<string, unknown>): void;
  /** Where pushes go; undefined stops them. */
  setPushListener(listener: ((push: ClientPush, from: string) => void) | undefined): void;
}

/** Pages one snapshot may take (1,000 pages of up to 1,000 contacts). */
const PAGES_MAX = 1000;

interface Attached {
  server: string;
  node: string;
  subId: string;
  /** Last seq applied (or covered by a snapshot). */
  appliedSeq: number;
  /** Highest seq received. */
  receivedSeq: number;
}

interface SubscribeResult {
  subId: string;
  seq: number;
  confirmed: boolean;
  node: string;
}

/** A live subscription; see the file comment. Made by ContactsClient.subscribe. */
export class Subscription {
  private readonly opts: Required<SubscribeOptions>;
  private attached: Attached | undefined;
  /** A re-read to do at the next turn of the loop. */
  private want: { reason: ResyncReason; detail: string } | undefined = { reason: 'start', detail: 'subscribing' };
  /** Pushes received while a snapshot is read. */
  private buffer: ClientPush[] | undefined;
  private bufferOverflowed = false;
  /** Bumped by every re-read: work begun before it (a push's re-read gets) is dropped. */
  private epoch = 0;
  private chain: Promise<void> = Promise.resolve();
  private members = new Map<string, MemberInfo>();
  private closed = false;
  private failures = 0;
  private wake: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly done: Promise<void>;

  constructor(private readonly transport: SubscriptionTransport, private readonly onEvent: (e: SubscriptionEvent) => void, options: SubscribeOptions = {}) {
    this.opts = {
      leaseMs: 30_000, renewEveryMs: 2_000, retryMinMs: 1_000, retryMaxMs: 10_000, pageLimit: 1000, rereadMax: 64, bufferMax: 10_000,
      nowMs: Date.now, ...options,
    };
    if (this.opts.renewEveryMs * 2 > this.opts.leaseMs) throw new TypeError(`renewEveryMs (${this.opts.renewEveryMs}) must be at most half of leaseMs (${this.opts.leaseMs}), or a late renewal loses the lease`);
    transport.setPushListener((push) => this.onPush(push));
    this.done = this.loop();
  }

  /** The server the subscription is attached to, if any. */
  get server(): string | undefined {
    return this.attached?.server;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The member list as last read and pushed. */
  get memberList(): MemberInfo[] {
    return [...this.members.values()];
  }

  /** Re-read everything now (the user asked to refresh). */
  refresh(): void {
    this.requestResync('refresh', 'refresh asked for');
  }

  /**
   * Stops renewing, tells the server (one datagram, best effort) and emits
   * nothing more. Resolves when the loop has ended, which waits for a
   * request in flight (closing the client ends those at once).
   */
  async close(): Promise<void> {
    if (this.closed) return this.done;
    this.closed = true;
    this.transport.setPushListener(undefined);
    const a = this.attached;
    if (a) this.transport.notify(a.server, 'unsubscribe', { subId: a.subId });
    clearTimeout(this.timer);
    this.wake?.();
    return this.done;
  }

  // ---------------------------------------------------------------- the loop

  private async loop(): Promise<void> {
    while (!this.closed) {
      let waitMs = this.opts.renewEveryMs;
      try {
        if (this.want) await this.attach(this.want);
        else await this.renew();
        this.failures = 0;
      } catch (err) {
        if (this.closed) break;
        waitMs = Math.min(this.opts.retryMaxMs, this.opts.retryMinMs * 2 ** this.failures);
        this.failures++;
        this.endBuffering();
        if (err instanceof NoServerError) {
          this.emit({ type: 'offline', tried: err.tried, retryInMs: waitMs });
          this.attached = undefined;
          this.want = { reason: this.want?.reason === 'start' ? 'start' : 'reconnected', detail: `no server answered (tried ${err.tried.join(', ')})` };
        } else {
          const code = err instanceof RequestError ? { code: err.code } : {};
          this.emit({ type: 'problem', message: `subscription: ${(err as Error).message}; retrying in ${waitMs} ms`, ...code });
          this.want ??= { reason: 'lease-lost', detail: (err as Error).message };
        }
      }
      if (this.closed) break;
      // Renew after the interval; re-read at once, unless the last attempt failed.
      if (!this.want || this.failures > 0) await this.sleep(waitMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        clearTimeout(this.timer);
        this.wake = undefined;
        resolve();
      };
      this.timer = setTimeout(this.wake, ms);
    });
  }

  /** Renews the lease; a new subId or another server means we must attach again. */
  private async renew(): Promise<void> {
    const a = this.attached!;
    const answer = await this.transport.request('subscribe', { subId: a.subId, leaseMs: this.opts.leaseMs });
    const r = answer.result as SubscribeResult;
    if (this.closed || this.attached !== a) return;
    if (answer.server !== a.server || r.subId !== a.subId) {
      const moved = answer.server !== a.server;
      this.want = {
        reason: moved ? 'failover' : 'lease-lost',
        detail: moved ? `${a.server} stopped answering; ${answer.server} answered` : `${a.server} no longer knew subscription ${a.subId}`,
      };
      return this.attach(this.want, answer);
    }
    if (r.seq > a.receivedSeq) this.requestResync('gap', `the server sent push ${r.seq}, the last received was ${a.receivedSeq}`);
  }

  /**
   * Subscribes and confirms (starting from `first` when a renewal already
   * got a new subscription), then reads everything while buffering pushes.
   */
  private async attach(why: { reason: ResyncReason; detail: string }, first?: ClientAnswer): Promise<void> {
    const previous = this.attached;
    this.epoch++;
    this.buffer = [];
    this.bufferOverflowed = false;
    const { answer, result } = await this.confirm(first, previous);
    if (this.closed) return;
    const a: Attached = { server: answer.server, node: result.node, subId: result.subId, appliedSeq: result.seq, receivedSeq: result.seq };
    this.attached = a;
    const { reason } = why;
    this.emit({ type: 'resync', reason, detail: why.detail, server: a.server, node: a.node, previousServer: previous?.server });
    const members = (await this.transport.request('members')).result as MemberInfo[];
    const contacts = await this.listAll();
    if (this.closed || this.attached !== a) return;
    this.members = new Map(members.map((m) => [m.id, m]));
    this.transport.learnMembers(members);
    this.want = undefined;
    this.emit({ type: 'snapshot', reason, server: a.server, contacts, members, atMs: this.opts.nowMs() });
    const buffered = this.buffer ?? [];
    const overflowed = this.bufferOverflowed;
    this.endBuffering();
    if (overflowed) return this.requestResync('overflow', `more than ${this.opts.bufferMax} pushes arrived during the re-read`);
    for (const push of buffered) this.accept(push, a);
  }

  /** Subscribe answers until one is confirmed (a confirm that reaches another server gets a new subId: confirm that). */
  private async confirm(first: ClientAnswer | undefined, previous: Attached | undefined): Promise<{ answer: ClientAnswer; result: SubscribeResult }> {
    let answer = first ?? (await this.transport.request('subscribe', { leaseMs: this.opts.leaseMs, ...(previous ? { subId: previous.subId } : {}) }));
    for (let attempt = 0; attempt < 4; attempt++) {
      const result = answer.result as SubscribeResult;
      if (result.confirmed) return { answer, result };
      answer = await this.transport.request('subscribe', { subId: result.subId, leaseMs: this.opts.leaseMs });
    }
    throw new RequestError('unconfirmed', 'the subscription could not be confirmed: every confirmation reached a server that did not know it');
  }

  private async listAll(): Promise<Contact[]> {
    const contacts: Contact[] = [];
    let after = '';
    for (let pages = 1; pages <= PAGES_MAX; pages++) {
      const page = await this.transport.request('list', after ? { after, limit: this.opts.pageLimit } : { limit: this.opts.pageLimit });
      for (const c of page.result as Contact[]) contacts.push(c);
      if (!page.more) return contacts;
      after = page.cursor;
    }
    throw new RequestError('too-many-pages', `the contact list did not end after ${PAGES_MAX} pages`);
  }

  private endBuffering(): void {
    this.buffer = undefined;
    this.bufferOverflowed = false;
  }

  private requestResync(reason: ResyncReason, detail: string): void {
    if (this.closed || this.want) return;
    this.want = { reason, detail };
    this.epoch++;
    if (!this.buffer) this.wake?.();
  }

  // ---------------------------------------------------------------- pushes

  /** A push from the network: buffered while a snapshot is read, else checked and applied. Only its subId tells it is ours. */
  private onPush(push: ClientPush): void {
    if (this.closed) return;
    if (this.buffer) {
      if (this.buffer.length >= this.opts.bufferMax) this.bufferOverflowed = true;
      else this.buffer.push(push);
      return;
    }
    if (this.attached) this.accept(push, this.attached);
  }

  /** Checks a push's subscription and seq, and queues it to be applied in order. */
  private accept(push: ClientPush, a: Attached): void {
    // Another subscription's (an old server pushing until its lease ends), a duplicate, or covered by the re-read to come.
    if (push.sub !== a.subId || push.seq <= a.appliedSeq || this.want) return;
    a.receivedSeq = Math.max(a.receivedSeq, push.seq);
    if (push.seq !== a.appliedSeq + 1) {
      const expected = a.appliedSeq + 1;
      a.appliedSeq = push.seq;
      return this.requestResync('gap', `expected push ${expected}, got ${push.seq}`);
    }
    a.appliedSeq = push.seq;
    const parsed = parseJson(push.event);
    if (!parsed.ok || parsed.value === null || typeof parsed.value !== 'object') {
      this.emit({ type: 'problem', message: `push ${push.seq} from ${a.server} is not a JSON object; re-reading` });
      return this.requestResync('gap', `push ${push.seq} was unreadable`);
    }
    const epoch = this.epoch;
    this.chain = this.chain.then(() => this.apply(parsed.value as PushEvent, push.seq, a, epoch)).catch((err: unknown) => {
      this.emit({ type: 'problem', message: `applying push ${push.seq}: ${(err as Error).message}` });
    });
  }

  private async apply(e: PushEvent, seq: number, a: Attached, epoch: number): Promise<void> {
    if (epoch !== this.epoch) return;
    const server = a.server;
    if (e.resync) return this.requestResync('overflow', `${server} had more changes than it could push`);
    for (const m of e.members ?? []) {
      const { previous, ...member } = m;
      this.members.set(member.id, member);
      this.transport.learnMembers([member]);
      this.emit({ type: 'member', server, seq, member, previous, members: this.memberList, atMs: this.opts.nowMs() });
    }
    for (const f of e.forgotten ?? []) {
      this.members.delete(f.id);
      this.emit({ type: 'member-forgotten', server, seq, id: f.id, name: f.name, members: this.memberList });
    }
    for (const contact of e.changed ?? []) this.emit({ type: 'changed', server, seq, contact });
    for (const id of e.removed ?? []) this.emit({ type: 'removed', server, seq, id });
    const reread = e.reread ?? [];
    if (reread.length > this.opts.rereadMax) return this.requestResync('overflow', `push ${seq} named ${reread.length} contacts to re-read`);
    for (const id of reread) {
      const contact = await this.get(id);
      if (epoch !== this.epoch) return;
      if (contact) this.emit({ type: 'changed', server, seq, contact });
      else this.emit({ type: 'removed', server, seq, id });
    }
  }

  private async get(id: string): Promise<Contact | undefined> {
    try {
      return (await this.transport.request('get', { id })).result as Contact;
    } catch (err) {
      if (err instanceof RequestError && err.code === 'not-found') return undefined;
      throw err;
    }
  }

  private emit(e: SubscriptionEvent): void {
    if (this.closed) return;
    try {
      this.onEvent(e);
    } catch {
      // The listener's own failure must not stop the subscription; it reports its own errors.
    }
  }
}
