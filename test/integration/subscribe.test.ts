/**
 * Subscriptions against two real contactd processes on 127.0.0.1: a client
 * subscribed at A (the only server it is given) is pushed a contact added
 * at B without asking; after A is killed -9 its subscription moves by
 * itself to B (a member it learnt from A's snapshot), re-reads, and is
 * pushed B's next change. Every wait is on an event of the subscription.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { freeUdpPort, killAll, memberRecord, startNode, tempDir, waitForLog, type NodeProc } from './contactd-harness.ts';
import { ContactsClient } from '../../tui/client.ts';
import type { Subscription, SubscriptionEvent } from '../../tui/subscription.ts';
import { ulid } from '../../protocol/contacts/ids.ts';

const nodes: NodeProc[] = [];
const events: SubscriptionEvent[] = [];
const waiters: (() => void)[] = [];
let watcher: ContactsClient | undefined;
let writer: ContactsClient | undefined;
let sub: Subscription | undefined;

test.after(async () => {
  await sub?.close();
  watcher?.close();
  writer?.close();
  await killAll();
});

/** Resolves with the first event (old or new) after index `from` that matches `pred`; fails after `timeoutMs` listing what came. */
function eventAfter(from: number, what: string, pred: (e: SubscriptionEvent) => boolean, timeoutMs = 20_000): Promise<SubscriptionEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no subscription event "${what}" within ${timeoutMs} ms; got:\n${events.slice(from).map((e) => `  ${JSON.stringify(e).slice(0, 200)}`).join('\n')}`)), timeoutMs);
    const check = (): void => {
      const hit = events.slice(from).find(pred);
      if (hit) {
        clearTimeout(timer);
        resolve(hit);
      } else waiters.push(check);
    };
    check();
  });
}

function add(name: string, server: string): Promise<string> {
  const id = ulid(Date.now(), randomBytes(10));
  const w = (writer ??= new ContactsClient({ servers: [server] }));
  return w.request('put', { opId: ulid(Date.now(), randomBytes(10)), patch: { kind: 'create', contact: { id, formattedName: name } } }).then(() => id);
}

test('two nodes form a cluster', async () => {
  const base = tempDir();
  const [pa, pb] = await Promise.all([freeUdpPort(), freeUdpPort()]);
  nodes.push(startNode({ name: 'a', port: pa!, dataDir: join(base, 'a') }));
  await waitForLog(nodes[0]!, 'joined', (r) => r.event === 'joined');
  nodes.push(startNode({ name: 'b', port: pb!, dataDir: join(base, 'b'), join: [nodes[0]!.addr] }));
  const ids = await Promise.all(nodes.map(async (n) => String((await waitForLog(n, 'started', (r) => r.event === 'started')).id)));
  await waitForLog(nodes[0]!, 'b alive at a', memberRecord(ids[1]!, 'alive'));
  await waitForLog(nodes[1]!, 'a alive at b', memberRecord(ids[0]!, 'alive'));
});

test('a subscriber at A sees a contact added at B, pushed, not polled', async () => {
  const [a, b] = nodes;
  watcher = new ContactsClient({ servers: [a!.addr] });
  sub = watcher.subscribe((e) => {
    events.push(e);
    for (const w of waiters.splice(0)) w();
  }, { leaseMs: 10_000, renewEveryMs: 1_000 });
  const snap = await eventAfter(0, 'first snapshot', (e) => e.type === 'snapshot');
  assert.ok(snap.type === 'snapshot' && snap.reason === 'start' && snap.server === a!.addr);
  assert.equal(snap.members.map((m) => m.name).sort(), ['a', 'b']);
  assert.ok(watcher.serverList.includes(b!.addr), 'B learnt from the snapshot, for failover');
  const mark = events.length;
  const id = await add('Pushed From B', b!.addr);
  const ackedAt = Date.now();
  const changed = await eventAfter(mark, 'the contact pushed', (e) => e.type === 'changed' && e.contact.id === id);
  console.log(`subscribe: written at B, pushed by A to the subscriber ${Date.now() - ackedAt} ms after B acknowledged it`);
  assert.ok(changed.type === 'changed' && changed.server === a!.addr && changed.contact.formattedName === 'Pushed From B');
  assert.not.ok(events.slice(mark).some((e) => e.type === 'resync'), 'no re-read was needed: the push carried it');
});

test('A killed -9: the subscription moves to B by itself, re-reads, and is pushed again', async () => {
  const [a, b] = nodes;
  const killedAt = Date.now();
  a!.child.kill('SIGKILL');
  await a!.exited;
  const mark = events.length;
  const resync = await eventAfter(mark, 'failover to B', (e) => e.type === 'resync');
  const movedMs = Date.now() - killedAt;
  assert.ok(resync.type === 'resync');
  assert.is(resync.reason, 'failover', resync.detail);
  assert.is(resync.server, b!.addr);
  assert.is(resync.previousServer, a!.addr);
  const snap = await eventAfter(mark, 'snapshot from B', (e) => e.type === 'snapshot');
  assert.ok(snap.type === 'snapshot' && snap.server === b!.addr && snap.contacts.some((c) => c.formattedName === 'Pushed From B'));
  console.log(`subscribe: kill -9 of A to re-subscribed at B ${movedMs} ms, re-read done ${Date.now() - killedAt} ms (renewing every 1 s; the client's retries take 2.1 s)`);
  const id = await add('After Failover', b!.addr);
  const changed = await eventAfter(mark, 'pushed by B', (e) => e.type === 'changed' && e.contact.id === id);
  assert.ok(changed.type === 'changed' && changed.server === b!.addr);
  // B's view of A: in the snapshot, or pushed as SWIM gets there (suspect, then dead).
  const aDown = (m: { name: string; state: string }) => m.name === 'a' && m.state === 'dead';
  if (!(snap.type === 'snapshot' && snap.members.some(aDown))) await eventAfter(mark, 'A marked dead', (e) => e.type === 'member' && aDown(e.member));
});

test('A restarted: B pushes it alive again, one incarnation up', async () => {
  const [a] = nodes;
  const mark = events.length;
  nodes[0] = startNode({ name: 'a', port: a!.port, dataDir: a!.dataDir });
  const back = await eventAfter(mark, 'A alive', (e) => e.type === 'member' && e.member.name === 'a' && e.member.state === 'alive');
  assert.ok(back.type === 'member');
  assert.is(back.previous, 'dead');
  assert.ok(back.member.incarnation >= 1);
  assert.ok(back.members.some((m) => m.name === 'a' && m.state === 'alive'), 'the whole list comes with it');
});

test.run();
