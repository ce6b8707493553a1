/**
 * Client subscriptions, server side (protocol/client/subscriptions.ts):
 * confirmation, leases, sequence numbers and gaps, the bounds on
 * subscribers and pushes, and packing; then the same through a whole
 * ClusterNode: a subscriber is pushed a write another client made.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Subscriptions, type PushEvent, type PushOut, type PushSource, memberInfo } from '../../protocol/client/subscriptions.ts';
import { ClusterNode } from '../../protocol/node.ts';
import { Reassembler } from '../../protocol/fragments.ts';
import { SeededRng } from '../../protocol/rng.ts';
import { decodePacket, encodePacket } from '../../protocol/wire/codec.ts';
import { toAsciiJson } from '../../protocol/client/json.ts';
import type { ClientPush, ClientRes } from '../../protocol/wire/messages.ts';
import { address, nodeId, type Address } from '../../protocol/types.ts';
import type { ContactId } from '../../protocol/contacts/ids.ts';
import { ulidFromRng } from '../../protocol/contacts/ids.ts';
import type { Contact } from '../../protocol/contacts/model.ts';
import type { MemberView } from '../../protocol/membership/member-table.ts';

const A = address('127.0.0.1:40001');
const B = address('127.0.0.1:40002');
const SELF = nodeId('00000000000000aa');
const BUDGET = 1300;

/** A source whose contacts are small views (or `big` ones that never fit a push). */
function source(big = new Set<string>(), gone = new Set<string>()): PushSource {
  return {
    contact: (id) => (gone.has(id) ? undefined : ({ id, formattedName: big.has(id) ? 'x'.repeat(2000) : `name of ${id}` } as unknown as Contact)),
    memberInfo: (m) => memberInfo(m, SELF, 10_000),
  };
}

const cid = (n: number): ContactId => `C${String(n).padStart(25, '0')}` as ContactId;
const events = (out: PushOut[]): PushEvent[] => out.map((o) => JSON.parse(o.push.event) as PushEvent);

/** A confirmed subscription of `addr` at `now`; returns its subId. */
function confirmed(s: Subscriptions, now: number, addr: Address, leaseMs = 10_000): string {
  const first = s.subscribe(now, addr, { leaseMs });
  assert.ok(first.ok);
  assert.is(first.answer.confirmed, false);
  const second = s.subscribe(now, addr, { subId: first.answer.subId, leaseMs });
  assert.ok(second.ok);
  assert.is(second.answer.confirmed, true);
  assert.is(second.answer.subId, first.answer.subId);
  return first.answer.subId;
}

test('an unconfirmed subscription is pushed nothing and lapses; a confirmed one gets seq 1, 2, 3…', () => {
  const s = new Subscriptions(new SeededRng(1));
  const r = s.subscribe(1000, A, {});
  assert.ok(r.ok);
  assert.is(r.answer.leaseMs, 30_000);
  s.noteContact(cid(1));
  assert.equal(s.flush(1000, source(), BUDGET), [], 'nothing to an unconfirmed address (a forged source never sees the subId)');
  assert.is(s.pollTimeout(), 6000, 'the confirmation window');
  s.handleTimeout(6000);
  assert.is(s.size, 0);

  const subId = confirmed(s, 7000, B);
  const seqs: number[] = [];
  for (let k = 1; k <= 3; k++) {
    s.noteContact(cid(k));
    const out = s.flush(7000 + k, source(), BUDGET);
    assert.is(out.length, 1);
    assert.is(out[0]!.to, B);
    assert.is(out[0]!.push.sub, subId);
    seqs.push(out[0]!.push.seq);
    assert.equal(events(out)[0]!.changed!.map((c) => c.id), [cid(k)]);
  }
  assert.equal(seqs, [1, 2, 3]);
  const renewed = s.subscribe(8000, B, { subId, leaseMs: 10_000 });
  assert.ok(renewed.ok);
  assert.is(renewed.answer.seq, 3, 'a renewal tells the last seq, so a client that lost the last push sees the gap');
});

test('the lease: renewing extends it; past it, no pushes and the subId is unknown', () => {
  const s = new Subscriptions(new SeededRng(2));
  const subId = confirmed(s, 0, A, 5000);
  assert.is(s.pollTimeout(), 5000);
  assert.ok(s.subscribe(4000, A, { subId, leaseMs: 5000 }).ok);
  assert.is(s.pollTimeout(), 9000);
  s.handleTimeout(8999);
  assert.is(s.size, 1);
  s.handleTimeout(9000);
  assert.is(s.size, 0);
  assert.is(s.stats.expired, 1);
  s.noteContact(cid(1));
  assert.equal(s.flush(9001, source(), BUDGET), []);
  const again = s.subscribe(9500, A, { subId });
  assert.ok(again.ok);
  assert.is.not(again.answer.subId, subId, 'a lapsed subId gets a new subscription: the client sees it and re-reads');
  assert.is(again.answer.confirmed, false);
});

test('a subId quoted from another address is not that subscription', () => {
  const s = new Subscriptions(new SeededRng(3));
  const subId = confirmed(s, 0, A);
  const r = s.subscribe(10, B, { subId });
  assert.ok(r.ok);
  assert.is(r.answer.confirmed, false);
  assert.is.not(r.answer.subId, subId);
  s.noteContact(cid(1));
  assert.equal(s.flush(20, source(), BUDGET).map((o) => o.to), [A], 'pushes go only to the address that subscribed');
});

test('bad arguments are refused with what to send', () => {
  const s = new Subscriptions(new SeededRng(4));
  for (const [args, re] of [
    [{ leaseMs: 10 }, /leaseMs.*1000\.\.60000/],
    [{ leaseMs: 3_600_000 }, /leaseMs/],
    [{ leaseMs: '30s' }, /leaseMs/],
    [{ subId: 'nope' }, /subId.*16 hex/],
    [{ subId: 7 }, /subId/],
  ] as const) {
    const r = s.subscribe(0, A, args);
    assert.not.ok(r.ok);
    if (!r.ok) assert.match(r.message, re);
  }
  assert.is(s.size, 0);
});

test('bounds: strangers evict only unconfirmed ones; confirmations evict the one renewed longest ago', () => {
  const s = new Subscriptions(new SeededRng(5), { subscribersMax: 6, unconfirmedMax: 2 });
  const addr = (n: number) => address(`127.0.0.1:${41000 + n}`);
  const ids = [0, 1, 2, 3].map((n) => confirmed(s, n, addr(n)));
  assert.is(s.size, 4);
  // A flood of forged subscribes: only two unconfirmed slots, the confirmed four stay.
  for (let n = 10; n < 50; n++) assert.ok(s.subscribe(100, addr(n), {}).ok);
  assert.is(s.size, 6);
  for (const [n, subId] of ids.entries()) assert.is((s.subscribe(200, addr(n), { subId }) as { answer: { subId: string } }).answer.subId, subId);
  // Renew all but #2 later; a fifth confirmation evicts #2, renewed longest ago.
  for (const n of [0, 1, 3]) s.subscribe(300, addr(n), { subId: ids[n] });
  confirmed(s, 400, addr(4));
  assert.is(s.stats.evicted >= 39, true);
  const two = s.subscribe(500, addr(2), { subId: ids[2] });
  assert.ok(two.ok);
  assert.is(two.answer.confirmed, false, '#2 was evicted');
  assert.ok(s.size <= 6);
});

test('packing: views that fit ride along, big ones are ids to re-read, deletions are ids; every push fits the budget', () => {
  const s = new Subscriptions(new SeededRng(6));
  confirmed(s, 0, A);
  const big = new Set([cid(3)]);
  const gone = new Set([cid(4)]);
  for (let k = 1; k <= 30; k++) s.noteContact(cid(k));
  const out = s.flush(1, source(big, gone), BUDGET);
  assert.ok(out.length > 1 && out.length <= 8, `${out.length} pushes`);
  for (const o of out) assert.ok(o.push.event.length <= BUDGET);
  assert.equal(out.map((o) => o.push.seq), out.map((_, i) => i + 1));
  const all = events(out);
  const changed = all.flatMap((e) => e.changed ?? []).map((c) => c.id);
  assert.equal(all.flatMap((e) => e.reread ?? []), [cid(3)]);
  assert.equal(all.flatMap((e) => e.removed ?? []), [cid(4)]);
  assert.is(changed.length, 28);
});

test('more than pushesPerFlushMax pushes become one resync notice', () => {
  const s = new Subscriptions(new SeededRng(7));
  confirmed(s, 0, A);
  for (let k = 1; k <= 2000; k++) s.noteContact(cid(k));
  const out = s.flush(1, source(), BUDGET);
  assert.equal(events(out), [{ resync: 'overflow' }]);
  assert.is(out[0]!.push.seq, 1);
  assert.is(s.stats.overflows, 1);
});

test('a subscriber out of tokens is withheld a flush, whose seqs it then sees missing', () => {
  const s = new Subscriptions(new SeededRng(8), { pushBurst: 2, pushesPerSecond: 1 });
  const subId = confirmed(s, 0, A);
  const got: number[] = [];
  for (let k = 1; k <= 4; k++) {
    s.noteContact(cid(k));
    got.push(...s.flush(0, source(), BUDGET).map((o) => o.push.seq));
  }
  assert.equal(got, [1, 2], 'two tokens, two pushes');
  assert.is(s.stats.pushesWithheld, 2);
  s.noteContact(cid(9));
  assert.equal(s.flush(1000, source(), BUDGET).map((o) => o.push.seq), [5], 'a token a second later: seq 5, so 3 and 4 are a gap');
  const r = s.subscribe(1000, A, { subId });
  assert.ok(r.ok);
  assert.is(r.answer.seq, 5);
});

test('member changes are pushed with their incarnation and what they were', () => {
  const s = new Subscriptions(new SeededRng(9));
  confirmed(s, 0, A);
  const m: MemberView = { id: nodeId('00000000000000bb'), name: 'b', addr: B, incarnation: 3, state: 'suspect', stateSince: 0, lastHeardAt: 7_000 };
  s.noteMember(m, 'alive');
  s.noteForgotten({ ...m, state: 'dead' });
  const [e] = events(s.flush(0, source(), BUDGET));
  assert.equal(e!.members, [{ id: m.id, name: 'b', address: B, state: 'suspect', incarnation: 3, lastHeardMsAgo: 3000, previous: 'alive' }]);
  assert.equal(e!.forgotten, [{ id: m.id, name: 'b' }]);
});

test('with no subscriber, changes are not even kept', () => {
  const s = new Subscriptions(new SeededRng(10));
  for (let k = 0; k < 10_000; k++) s.noteContact(cid(k));
  confirmed(s, 0, A);
  assert.equal(s.flush(0, source(), BUDGET), []);
});

// ---------------------------------------------------------------- through a ClusterNode

const CLUSTER = 'contacts';
let reqId = 0;

interface Sent { res: ClientRes | undefined; pushes: Map<Address, ClientPush[]> }

/** Sends a client request from `from`; returns the answer to it and every push the node sent, by address. */
function ask(node: ClusterNode, now: number, from: Address, op: string, args: unknown): Sent {
  const id = ++reqId;
  const bytes = encodePacket({ cluster: CLUSTER, from: nodeId('c1c1c1c1c1c1c1c1') }, [{ type: 'clientReq', reqId: id, op, args: toAsciiJson(args) }]);
  node.handleDatagram(now, from, bytes);
  return drain(node, from, id);
}

function drain(node: ClusterNode, from?: Address, id = -1): Sent {
  const sent: Sent = { res: undefined, pushes: new Map() };
  const pieces = new Reassembler();
  for (let t = node.pollTransmit(); t; t = node.pollTransmit()) {
    let r = decodePacket(t.bytes, CLUSTER);
    assert.ok(r.ok);
    const [first] = r.packet.messages;
    if (first?.type === 'frag') {
      // An answer larger than a datagram (stats) comes in pieces.
      const whole = pieces.add(0, r.packet.from, first);
      if (!whole) continue;
      r = decodePacket(whole, CLUSTER);
      assert.ok(r.ok);
    }
    for (const m of r.packet.messages) {
      if (m.type === 'clientRes' && m.reqId === id && t.to === from) sent.res = m;
      if (m.type === 'clientPush') sent.pushes.set(t.to, [...(sent.pushes.get(t.to) ?? []), m]);
    }
  }
  while (node.pollEvent()) { /* drained */ }
  return sent;
}

test('ClusterNode: a subscriber is pushed the contact another client created, until its lease ends', () => {
  const node = new ClusterNode({ id: nodeId('0000000000000001'), addr: address('127.0.0.1:7700'), rng: new SeededRng(11), now: 1_000 });
  node.join(1_000, []);
  drain(node);
  const sub = JSON.parse(ask(node, 2_000, A, 'subscribe', { leaseMs: 5_000 }).res!.result);
  assert.is(sub.node, '0000000000000001');
  assert.is(sub.confirmed, false);
  assert.ok(ask(node, 2_000, A, 'subscribe', { subId: sub.subId, leaseMs: 5_000 }).res!.ok);
  const id = ulidFromRng(1_700_000_000_000, new SeededRng(12));
  const put = ask(node, 2_100, B, 'put', { opId: 'op-1', patch: { kind: 'create', contact: { id, formattedName: 'Pushed' } } });
  assert.ok(put.res!.ok);
  const toA = put.pushes.get(A) ?? [];
  assert.is(toA.length, 1, 'pushed in the same drain as the write');
  assert.is(toA[0]!.sub, sub.subId);
  assert.is(toA[0]!.seq, 1);
  assert.equal((JSON.parse(toA[0]!.event) as PushEvent).changed!.map((c) => c.formattedName), ['Pushed']);
  assert.is(put.pushes.get(B), undefined, 'nothing to the writer, who did not subscribe');
  const del = ask(node, 2_200, B, 'delete', { opId: 'op-2', id });
  assert.equal(del.pushes.get(A)!.map((p) => [p.seq, JSON.parse(p.event)]), [[2, { removed: [id] }]]);
  assert.ok(node.pollTimeout()! <= 7_000, 'the lease end is a deadline of the node');
  node.handleTimeout(7_000);
  drain(node);
  const later = ask(node, 7_100, B, 'put', { opId: 'op-3', patch: { kind: 'create', contact: { id: ulidFromRng(1_700_000_000_001, new SeededRng(13)), formattedName: 'Late' } } });
  assert.is(later.pushes.get(A), undefined, 'lease over: nothing more');
  const stats = JSON.parse(ask(node, 7_200, B, 'stats', {}).res!.result);
  assert.is(stats.subscriptions.expired, 1);
  assert.is(stats.subscriptions.pushes, 2);
});

test('ClusterNode: a push sent to a server is dropped and counted', () => {
  const node = new ClusterNode({ id: nodeId('0000000000000001'), addr: address('127.0.0.1:7700'), rng: new SeededRng(14), now: 1_000 });
  node.handleDatagram(1_000, A, encodePacket({ cluster: CLUSTER, from: nodeId('c1c1c1c1c1c1c1c1') }, [{ type: 'clientPush', sub: '00', seq: 1, event: '{}' }]));
  assert.is(node.stats.dropped['stray-client-message'], 1);
});

test.run();
