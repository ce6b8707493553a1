/**
 * The live feed: a subscription (tui/subscription.ts) on which the server
 * pushes every contact and membership change, and which re-reads
 * everything after a gap, an overflow, a lost lease or a move to another
 * server. Changes reach the screen as they happen, without polling.
 *
 * How this works: each SubscriptionEvent becomes FeedSink calls (snapshot,
 * changed, removed, members) and, for re-reads and problems, a line in the
 * event log; where the subscription is attached, and when no server
 * answers, is told to the LinkedClient, which the top line reads. Pushes
 * carry member *changes*; "last heard" ages without one, so the member
 * list is also read every `membersEveryMs`. The client library is loaded
 * on start (after the first frame). A server
 * that predates subscriptions answers `unknown-op`: the feed then polls
 * (PollingFeed) and says so.
 */
import type { ResyncReason, Subscription, SubscribeOptions, SubscriptionEvent } from '../../subscription.ts';
import type { LinkedClient } from './link.ts';
import { PollingFeed } from './polling-feed.ts';
import type { Feed, FeedSink, Member } from './types.ts';

/** What the feed needs of the client library (ContactsClient has it). */
export interface Subscribable {
  subscribe(onEvent: (e: SubscriptionEvent) => void, options?: SubscribeOptions): Subscription;
}

/** Why a re-read happened, for the log. */
const REASONS: Partial<Record<ResyncReason, string>> = {
  gap: 'pushes were missed', overflow: 'more changes than could be pushed', 'lease-lost': 'the server no longer knew our subscription',
  reconnected: 'a server answers again', refresh: 'asked for',
};

export class SubscriptionFeed implements Feed {
  private sub: Subscription | undefined;
  private polling: PollingFeed | undefined;
  private stopped = false;
  private lastAtMs: number | undefined;
  private membersTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly load: () => Promise<Subscribable>,
    private readonly link: LinkedClient,
    private readonly options: SubscribeOptions & { membersEveryMs?: number } = {},
  ) {}

  start(sink: FeedSink): void {
    sink.sync({ kind: 'loading' });
    this.load().then((client) => {
      if (this.stopped) return;
      const { membersEveryMs = 2000, ...subscribeOptions } = this.options;
      this.sub = client.subscribe((e) => this.onEvent(sink, e), subscribeOptions);
      this.membersTimer = setInterval(() => void this.readMembers(sink), membersEveryMs);
    }, (err: unknown) => sink.note('error', `the client library did not load: ${(err as Error).message}`));
  }

  /** The member list again, for its "last heard" ages (a failure here is the subscription's to report). */
  private async readMembers(sink: FeedSink): Promise<void> {
    if (this.polling || this.lastAtMs === undefined) return;
    try {
      const members = (await this.link.request('members')).result as Member[];
      if (!this.stopped && !this.polling) sink.members(members, Date.now());
    } catch {
      // No server answered, or one refused: the subscription says so and retries.
    }
  }

  wrote(): void {
    // The change comes back as a push; a polling fallback reads again.
    this.polling?.wrote();
  }

  refresh(): void {
    if (this.polling) this.polling.refresh();
    else this.sub?.refresh();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.membersTimer);
    void this.sub?.close();
    this.polling?.stop();
  }

  private onEvent(sink: FeedSink, e: SubscriptionEvent): void {
    switch (e.type) {
      case 'resync': {
        this.link.answered(e.server);
        const why = REASONS[e.reason];
        if (why) sink.note('info', `re-reading everything from ${e.server}: ${why} (${e.detail})`);
        return;
      }
      case 'snapshot':
        this.lastAtMs = e.atMs;
        sink.members(e.members as Member[], e.atMs);
        sink.snapshot(e.contacts, e.atMs);
        sink.sync({ kind: 'live', lastAtMs: e.atMs });
        return;
      case 'changed':
        return sink.changed(e.contact);
      case 'removed':
        return sink.removed(e.id);
      case 'member':
        return sink.members(e.members as Member[], e.atMs);
      case 'member-forgotten':
        return sink.members(e.members as Member[], Date.now());
      case 'offline':
        this.link.unreachable(e.tried);
        return sink.sync({ kind: 'stale', lastAtMs: this.lastAtMs, retryAtMs: Date.now() + e.retryInMs });
      case 'problem':
        if (e.code === 'unknown-op' && !this.polling) return this.fallBack(sink);
        return sink.note('error', e.message);
    }
  }

  /** The server has no subscriptions: poll it instead. */
  private fallBack(sink: FeedSink): void {
    void this.sub?.close();
    this.sub = undefined;
    sink.note('info', 'the server does not push changes (it predates subscriptions): reading everything every second instead');
    this.polling = new PollingFeed(this.link);
    if (!this.stopped) this.polling.start(sink);
  }
}
