/**
 * The client library's subscription (tui/subscription.ts) against fake
 * servers, on sinon's fake clock: attach and snapshot, pushes in order,
 * gaps, overflow notices, lost leases, failover, outages with backoff,
 * pushes buffered during a snapshot, re-reads of big contacts, close.
 * Nothing waits in real time.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import sinon from 'sinon';
import { Subscription, type SubscriptionEvent, type SubscriptionTransport } from '../../tui/subscription.ts';
import { NoServerError, RequestError, type ClientAnswer } from '../../tui/client.ts';
import type { ClientPush } from '../../protocol/wire/messages.ts';
import type { PushEvent } from '../../protocol/client/subscriptions.ts';

interface FakeServer {
  addr: string;
  node: string;
  up: boolean;
  subs: Map<string, { seq: number; confirmed: boolean }>;
  contacts: Map<string, { id: string; formattedName: string }>;
  /** Answers of `list` are held until this resolves (to push during a snapshot). */
  listGate?: Promise<void>;
}

/** A fake cluster behind the transport: the first server up (from the last that answered) answers. */
class FakeCluster implements SubscriptionTransport {
  readonly servers: FakeServer[];
  readonly notified: [string, string, Record<string, unknown>][] = [];
  readonly ops: string[] = [];
  private preferred = 0;
  private listener: ((push: ClientPush, from: string) => void) | undefined;
  private nextSub = 0;

  constructor(n: number) {
    this.servers = Array.from({ length: n }, (_, i) => ({
      addr: `10.0.0.${i + 1}:7700`, node: `${i + 1}`.repeat(16), up: true, subs: new Map(), contacts: new Map(),
    }));
  }

  async request(op: string, args: Record<string, unknown> = {}): Promise<ClientAnswer> {
    this.ops.push(op);
    await Promise.resolve();
    const order = [...this.servers.slice(this.preferred), ...this.servers.slice(0, this.preferred)];
    const s = order.find((x) => x.up);
    if (!s) throw new NoServerError(this.servers.map((x) => x.addr));
    this.preferred = this.servers.indexOf(s);
    return { result: await this.answer(s, op, args), cursor: '', more: false, server: s.addr };
  }

  private async answer(s: FakeServer, op: string, args: Record<string, unknown>): Promise<unknown> {
    switch (op) {
      case 'subscribe': {
        const known = typeof args.subId === 'string' ? s.subs.get(args.subId) : undefined;
        if (known) {
          known.confirmed = true;
          return { subId: args.subId, seq: known.seq, leaseMs: args.leaseMs, confirmed: true, node: s.node };
        }
        const subId = (++this.nextSub).toString(16).padStart(16, '0');
        s.subs.set(subId, { seq: 0, confirmed: false });
        return { subId, seq: 0, leaseMs: args.leaseMs, confirmed: false, node: s.node };
      }
      case 'members':
        return this.servers.map((x) => ({ id: x.node, name: x.addr, address: x.addr, state: x.up ? 'alive' : 'dead', incarnation: 0, lastHeardMsAgo: 0 }));
      case 'list':
        await s.listGate;
        return [...s.contacts.values()];
      case 'get': {
        const c = s.contacts.get(String(args.id));
        if (!c) throw new RequestError('not-found', `no contact ${String(args.id)}`);
        return c;
      }
      default:
        throw new RequestError('unknown-op', op);
    }
  }

  learnMembers(): void {}

  notify(server: string, op: string, args: Record<string, unknown>): void {
    this.notified.push([server, op, args]);
  }

  setPushListener(listener: ((push: ClientPush, from: string) => void) | undefined): void {
    this.listener = listener;
  }

  /** The confirmed subscription at `s` (there is one per test). */
  subOf(s: FakeServer): string {
    const e = [...s.subs.entries()].find(([, v]) => v.confirmed);
    assert.ok(e, `no confirmed subscription at ${s.addr}`);
    return e[0];
  }

  /** Pushes `event` from `s` with the next seq (or `seq`). */
  push(s: FakeServer, event: PushEvent, opts: { seq?: number; sub?: string } = {}): void {
    const subId = opts.sub ?? this.subOf(s);
    const st = s.subs.get(subId) ?? { seq: 0, confirmed: true };
    st.seq = opts.seq ?? st.seq + 1;
    this.listener?.({ type: 'clientPush', sub: subId, seq: st.seq, event: JSON.stringify(event) }, s.addr);
  }
}

function setup(n = 2, options = {}): { cluster: FakeCluster; events: SubscriptionEvent[]; sub: Subscription; clock: sinon.SinonFakeTimers; types: () => string[] } {
  const clock = sinon.useFakeTimers({ now: 1_000_000, toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  const cluster = new FakeCluster(n);
  cluster.servers[0]!.contacts.set('c1', { id: 'c1', formattedName: 'One' });
  const events: SubscriptionEvent[] = [];
  const sub = new Subscription(cluster, (e) => events.push(e), { leaseMs: 10_000, renewEveryMs: 2_000, ...options });
  return { cluster, events, sub, clock, types: () => events.map((e) => (e.type === 'resync' || e.type === 'snapshot' ? `${e.type}:${e.reason}` : e.type)) };
}

const contact = (id: string, name: string) => ({ id, formattedName: name }) as never;

test('attach: subscribe, confirm with the subId, then one snapshot of contacts and members', async () => {
  const { cluster, events, sub, clock } = setup();
  await clock.tickAsync(0);
  assert.equal(cluster.ops.slice(0, 4), ['subscribe', 'subscribe', 'members', 'list']);
  const [resync, snap] = events;
  assert.equal(resync, { type: 'resync', reason: 'start', detail: 'subscribing', server: '10.0.0.1:7700', node: '1'.repeat(16), previousServer: undefined });
  assert.ok(snap?.type === 'snapshot');
  assert.equal(snap.contacts.map((c) => c.id), ['c1']);
  assert.is(snap.members.length, 2);
  assert.is(sub.server, '10.0.0.1:7700');
  await sub.close();
  clock.restore();
});

test('pushes in order become events; a push of another subscription is ignored; a gap re-reads', async () => {
  const { cluster, events, sub, clock, types } = setup();
  await clock.tickAsync(0);
  const s = cluster.servers[0]!;
  cluster.push(s, { changed: [contact('c2', 'Two')], removed: ['c1'] });
  cluster.push(s, { changed: [contact('c9', 'Stale')] }, { sub: 'ffffffffffffffff', seq: 2 });
  await clock.tickAsync(0);
  assert.equal(types(), ['resync:start', 'snapshot:start', 'changed', 'removed']);
  cluster.push(s, { changed: [contact('c3', 'Three')] }, { seq: 3 });
  await clock.tickAsync(0);
  const gap = events.find((e) => e.type === 'resync' && e.reason === 'gap');
  assert.ok(gap?.type === 'resync' && gap.detail === 'expected push 2, got 3', JSON.stringify(gap));
  assert.equal(types().slice(4), ['resync:gap', 'snapshot:gap']);
  await sub.close();
  clock.restore();
});

test('a renewal that reports a seq never received is a gap; an overflow notice re-reads', async () => {
  const { cluster, events, sub, clock, types } = setup();
  await clock.tickAsync(0);
  const s = cluster.servers[0]!;
  s.subs.get(cluster.subOf(s))!.seq = 4; // pushes 1..4 lost
  await clock.tickAsync(2_000);
  assert.ok(events.some((e) => e.type === 'resync' && e.reason === 'gap' && e.detail.includes('push 4')));
  const before = events.length;
  cluster.push(s, { resync: 'overflow' });
  await clock.tickAsync(0);
  assert.equal(types().slice(before), ['resync:overflow', 'snapshot:overflow']);
  await sub.close();
  clock.restore();
});

test('the same server forgetting us is lease-lost; another server answering is failover', async () => {
  const { cluster, events, sub, clock } = setup(3);
  await clock.tickAsync(0);
  cluster.servers[0]!.subs.clear();
  await clock.tickAsync(2_000);
  const lost = events.find((e) => e.type === 'resync' && e.reason === 'lease-lost');
  assert.ok(lost?.type === 'resync' && lost.server === '10.0.0.1:7700');
  cluster.servers[0]!.up = false;
  await clock.tickAsync(2_000);
  const moved = events.find((e) => e.type === 'resync' && e.reason === 'failover');
  assert.ok(moved?.type === 'resync');
  assert.is(moved.server, '10.0.0.2:7700');
  assert.is(moved.previousServer, '10.0.0.1:7700');
  assert.is(events[events.length - 1]!.type, 'snapshot');
  // Pushes from the new server are applied; the old one's are not.
  const n = events.length;
  cluster.push(cluster.servers[1]!, { changed: [contact('c5', 'Five')] });
  await clock.tickAsync(0);
  assert.is(events.length, n + 1);
  await sub.close();
  clock.restore();
});

test('no server answers: offline with doubling backoff, then reconnected by itself', async () => {
  const { cluster, events, sub, clock } = setup(2);
  await clock.tickAsync(0);
  for (const s of cluster.servers) s.up = false;
  await clock.tickAsync(2_000 + 1_000 + 2_000 + 4_000);
  const waits = events.filter((e) => e.type === 'offline').map((e) => (e.type === 'offline' ? e.retryInMs : 0));
  assert.equal(waits, [1_000, 2_000, 4_000, 8_000]);
  cluster.servers[1]!.up = true;
  await clock.tickAsync(8_000);
  const back = events.filter((e) => e.type === 'resync');
  assert.is(back[back.length - 1]!.type === 'resync' && (back[back.length - 1] as { reason: string }).reason, 'reconnected');
  assert.is(events[events.length - 1]!.type, 'snapshot');
  await sub.close();
  clock.restore();
});

test('pushes during a snapshot are applied after it, in order; a big contact is re-read, a gone one removed', async () => {
  const { cluster, events, sub, clock, types } = setup();
  const s = cluster.servers[0]!;
  let open!: () => void;
  s.listGate = new Promise((r) => { open = r; });
  await clock.tickAsync(0);
  assert.equal(types(), ['resync:start']);
  s.contacts.set('big', { id: 'big', formattedName: 'Big' });
  cluster.push(s, { changed: [contact('c2', 'Two')] });
  cluster.push(s, { reread: ['big', 'gone'] });
  open();
  await clock.tickAsync(0);
  assert.equal(types(), ['resync:start', 'snapshot:start', 'changed', 'changed', 'removed']);
  assert.equal(events.slice(2).map((e) => (e.type === 'changed' ? e.contact.id : e.type === 'removed' ? e.id : '')), ['c2', 'big', 'gone']);
  await sub.close();
  clock.restore();
});

test('close tells the server once and nothing is emitted after', async () => {
  const { cluster, events, sub, clock } = setup();
  await clock.tickAsync(0);
  const subId = cluster.subOf(cluster.servers[0]!);
  await sub.close();
  assert.equal(cluster.notified, [['10.0.0.1:7700', 'unsubscribe', { subId }]]);
  const n = events.length;
  await clock.tickAsync(10_000);
  assert.is(events.length, n);
  clock.restore();
});

test('renewEveryMs must leave room within the lease', () => {
  assert.throws(() => new Subscription(new FakeCluster(1), () => {}, { leaseMs: 3_000, renewEveryMs: 2_000 }), /at most half/);
});

test.run();
