/**
 * The feed that works with today's servers: reads the member list and
 * every contact, again and again.
 *
 * How this works. One round asks `members` (and adds the live members'
 * addresses to the client's failover list, so it always knows where else
 * to go), then pages through `list` and hands the whole set over as a
 * snapshot. Rounds run `everyMs` apart; a list of many pages waits 3x
 * its read time, so a very large list (100,000 contacts) does not keep a
 * server busy answering us. When no server answers, the next round waits with
 * doubling backoff (1 s, 2 s, 4 s… capped at `maxBackoffMs`); each round
 * tries every server the client knows, and the first answer ends the
 * outage by itself. After a write, or when asked, a round runs at once. The
 * subscription feed replaces this when servers push changes.
 */
import { isNoServer, isRequestError } from './errors.ts';
import type { Contact } from '../../../protocol/contacts/model.ts';
import type { LinkedClient } from './link.ts';
import type { Feed, FeedSink, Member } from './types.ts';

export interface PollingOptions {
  everyMs?: number;
  firstBackoffMs?: number;
  maxBackoffMs?: number;
  /** Contacts asked for per page (the server caps pages at 1000 and ~48 KB). */
  pageLimit?: number;
}

/** Pages one read may take at most: 1000 pages of up to 1000 contacts is far past any address book. */
const PAGES_MAX = 1000;

export class PollingFeed implements Feed {
  private sink: FeedSink | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private again = false;
  private stopped = false;
  private failures = 0;
  private lastAtMs: number | undefined;
  private readonly opts: Required<PollingOptions>;

  constructor(private readonly client: LinkedClient, options: PollingOptions = {}) {
    this.opts = { everyMs: 1000, firstBackoffMs: 1000, maxBackoffMs: 10_000, pageLimit: 1000, ...options };
  }

  start(sink: FeedSink): void {
    this.sink = sink;
    sink.sync({ kind: 'loading' });
    void this.round();
  }

  wrote(): void {
    this.refresh();
  }

  refresh(): void {
    if (this.stopped || !this.sink) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    void this.round();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async round(): Promise<void> {
    const sink = this.sink!;
    this.running = true;
    const startedMs = Date.now();
    let waitMs = this.opts.everyMs;
    try {
      const members = (await this.client.request('members')).result as Member[];
      for (const m of members) if (m.state === 'alive') this.client.learn(m.address);
      if (this.stopped) return;
      sink.members(members, Date.now());
      const { contacts, pages } = await this.listAll();
      if (this.stopped) return;
      this.lastAtMs = Date.now();
      sink.snapshot(contacts, this.lastAtMs);
      this.failures = 0;
      // A long list is read less often; a one-page read that was slow because a server died is not a reason to wait.
      if (pages > 1) waitMs = Math.max(this.opts.everyMs, 3 * (this.lastAtMs - startedMs));
      sink.sync({ kind: 'polling', lastAtMs: this.lastAtMs, everyMs: waitMs });
    } catch (err) {
      if (this.stopped) return;
      if (isNoServer(err)) {
        waitMs = Math.min(this.opts.maxBackoffMs, this.opts.firstBackoffMs * 2 ** this.failures);
        this.failures++;
        sink.sync({ kind: 'stale', lastAtMs: this.lastAtMs, retryAtMs: Date.now() + waitMs });
      } else {
        sink.note('error', `reading from the server failed: ${(err as Error).message}`);
      }
    } finally {
      this.running = false;
    }
    if (this.stopped) return;
    if (this.again) {
      this.again = false;
      waitMs = 0;
    }
    this.timer = setTimeout(() => void this.round(), waitMs);
  }

  /** Every live contact, page after page (a page may come from another server after a failover: cursors are contact ids). */
  private async listAll(): Promise<{ contacts: Contact[]; pages: number }> {
    const contacts: Contact[] = [];
    let after = '';
    for (let pages = 1; pages <= PAGES_MAX; pages++) {
      const page = await this.client.request('list', after ? { after, limit: this.opts.pageLimit } : { limit: this.opts.pageLimit });
      for (const c of page.result as Contact[]) contacts.push(c);
      if (!page.more) return { contacts, pages };
      after = page.cursor;
    }
    throw new Error(`the list did not end after ${PAGES_MAX} pages`);
  }
}
