/**
 * A node that restarts must not be confused, by its peers, with its
 * previous life, message by message:
 * - a catch-up claim ("with these states you hold every write of origin X
 *   up to s") may be applied only with the states of its own batch: a new
 *   batch must not be numbered like one of the previous life, of which the
 *   asker may still hold a part (here: the old batch's claim was lost);
 * - the pieces of a fragmented packet must not be joined with pieces of a
 *   packet of the previous life that a peer still holds.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ClusterNode } from '../../protocol/node.ts';
import { SeededRng } from '../../protocol/rng.ts';
import { MemoryStore } from '../../protocol/contacts/memory-store.ts';
import { cloudHas } from '../../protocol/contacts/dots.ts';
import { contactId, opId } from '../../protocol/contacts/ids.ts';
import { decodePacket } from '../../protocol/wire/codec.ts';
import type { Message, RepVv } from '../../protocol/wire/messages.ts';
import { address, nodeId } from '../../protocol/types.ts';

const A = nodeId('aaaaaaaaaaaaaaaa');
const B = nodeId('bbbbbbbbbbbbbbbb');
const ADDR_A = address('127.0.0.1:7001');
const ADDR_B = address('127.0.0.1:7002');
const K = contactId('01J0000000000000000000000K');
const M = contactId('01J0000000000000000000000M');

function node(id: typeof A, addr: typeof ADDR_A, seed: number, store?: MemoryStore): ClusterNode {
  return new ClusterNode({ id, addr, rng: new SeededRng(seed), now: 1_000, restored: { store } });
}

/** What `from` sent to `to`, decoded. */
function sent(from: ClusterNode, to: typeof ADDR_A): Message[] {
  const out: Message[] = [];
  for (let t = from.pollTransmit(); t; t = from.pollTransmit()) {
    if (t.to !== to) continue;
    const r = decodePacket(t.bytes, from.config.clusterName);
    assert.ok(r.ok);
    out.push(...r.packet.messages);
  }
  return out;
}

/** `asker` asks `answerer` for one state per batch; returns the answer. */
function ask(asker: ClusterNode, answerer: ClusterNode, now: number, after: number): Message[] {
  const request: RepVv = { type: 'repVv', reply: false, batch: 0, count: 1, more: false, cursor: '', vv: after > 0 ? [{ origin: B, seq: after }] : [] };
  answerer.replication.handleMessage(now, ADDR_A, asker.id, request);
  return sent(answerer, ADDR_A);
}

test('a claim from a restarted node is not applied with a part of a batch from its previous life', () => {
  const store = new MemoryStore({ journal: true });
  const b1 = node(B, ADDR_B, 1, store);
  assert.is(b1.replication.write(2_000, { opId: opId('k'), patch: { kind: 'create', contact: { id: K, formattedName: 'K' } } }).kind, 'applied');
  assert.is(b1.replication.write(2_001, { opId: opId('m'), patch: { kind: 'create', contact: { id: M, formattedName: 'M' } } }).kind, 'applied');
  sent(b1, ADDR_A); // the write deltas: lost
  const a = node(A, ADDR_A, 2);
  // First life of B: a batch of one state (K), whose claim is lost.
  const first = ask(a, b1, 3_000, 0);
  const kState = first.find((m) => m.type === 'repState');
  assert.ok(kState && kState.type === 'repState' && kState.id === K);
  a.replication.handleMessage(3_001, ADDR_B, B, kState);
  const kDots = a.replication.store.get(K)!.entries.map((e) => e.dot.seq);
  // B restarts on the same store; A, holding K's dots, asks again: M comes with a claim, and M's state is lost.
  const b2 = node(B, ADDR_B, 3, store);
  const second = ask(a, b2, 4_000, Math.max(...kDots));
  const claim = second.find((m): m is RepVv => m.type === 'repVv' && m.reply);
  assert.ok(claim, 'no claim in the answer');
  assert.is(claim.count, 1);
  a.replication.handleMessage(4_001, ADDR_B, B, claim);
  const mDots = store.get(M)!.entries.map((e) => e.dot);
  for (const d of mDots) assert.not.ok(cloudHas(a.replication.store.applied(), d), `dot ${d.seq} of M counted as applied without M's state`);
  // When M's state does come, the claim completes.
  const mState = second.find((m) => m.type === 'repState')!;
  a.replication.handleMessage(4_002, ADDR_B, B, mState);
  for (const d of mDots) assert.ok(cloudHas(a.replication.store.applied(), d));
});

test('a restarted node\'s fragmented packets are never joined with pieces from its previous life', () => {
  const store = new MemoryStore({ journal: true });
  const photo = (c: string) => ({ mediaType: 'image/png' as const, base64: `iVBORw0KGgo${c.repeat(20_000 - 11)}` });
  const P1 = contactId('01J000000000000000000000P1');
  const P2 = contactId('01J000000000000000000000P2');
  const b1 = node(B, ADDR_B, 1, store);
  assert.is(b1.replication.write(2_000, { opId: opId('p1'), patch: { kind: 'create', contact: { id: P1, formattedName: 'P1', photo: photo('A') } } }).kind, 'applied');
  sent(b1, ADDR_A);
  const a = node(A, ADDR_A, 2);
  // B's first life sends P1 in pieces; only the first piece arrives.
  b1.replication.handleMessage(3_000, ADDR_A, A, { type: 'repVv', reply: false, batch: 0, count: 1, more: false, cursor: '', vv: [] });
  const pieces1: Uint8Array[] = [];
  for (let t = b1.pollTransmit(); t; t = b1.pollTransmit()) pieces1.push(t.bytes);
  assert.ok(pieces1.length > 2, 'P1 did not go in pieces');
  a.handleDatagram(3_001, ADDR_B, pieces1[0]!);
  // B restarts two seconds later, writes P2 (as large), and sends it whole.
  const b2 = new ClusterNode({ id: B, addr: ADDR_B, rng: new SeededRng(3), now: 5_000, restored: { store } });
  assert.is(b2.replication.write(5_000, { opId: opId('p2'), patch: { kind: 'create', contact: { id: P2, formattedName: 'P2', photo: photo('B') } } }).kind, 'applied');
  const top = Math.max(...store.get(P1)!.entries.map((e) => e.dot.seq));
  // A asks a second later (a catch-up answer leaves out writes younger than a sync interval: see the next test).
  b2.replication.handleMessage(6_001, ADDR_A, A, { type: 'repVv', reply: false, batch: 0, count: 1, more: false, cursor: '', vv: [{ origin: B, seq: top }] });
  for (let t = b2.pollTransmit(); t; t = b2.pollTransmit()) if (t.to === ADDR_A) a.handleDatagram(6_002, ADDR_B, t.bytes);
  const got = a.replication.store.get(P2);
  assert.ok(got, 'P2 did not arrive whole');
  assert.equal(got.entries.find((e) => e.key === 'photo')!.value, photo('B'));
});

test('a catch-up answer passes over what the asker holds, fills its gaps at once, and sends a write a moment old only once it settled', () => {
  const b = node(B, ADDR_B, 1);
  const ids = [1, 2, 3, 4, 5, 6, 7].map((k) => contactId(`01J00000000000000000000C0${k}`));
  const create = (now: number, k: number) => assert.is(b.replication.write(now, { opId: opId(`c${k}`), patch: { kind: 'create', contact: { id: ids[k - 1]!, formattedName: `C${k}` } } }).kind, 'applied');
  const seqs = (k: number) => b.replication.store.get(ids[k - 1]!)!.entries.map((e) => e.dot.seq);
  const first = (k: number) => Math.min(...seqs(k));
  const last = (k: number) => Math.max(...seqs(k));
  for (let k = 1; k <= 5; k++) create(2_000, k);
  create(2_500, 6);
  sent(b, ADDR_A);
  const answer = (now: number, vv: number, held: number[]) => {
    b.replication.handleMessage(now, ADDR_A, A, { type: 'repAsk', count: 0, cursor: '', vv: [{ origin: B, seq: vv }], held: held.length > 0 ? [{ origin: B, ranges: held }] : [] });
    const out = sent(b, ADDR_A);
    return {
      states: out.flatMap((m) => (m.type === 'repState' ? [ids.indexOf(m.id as never) + 1] : [])),
      claim: out.find((m): m is RepVv => m.type === 'repVv' && m.reply)?.vv,
    };
  };
  // A holds contacts 1, 3 and 4 (2 and 5 were lost, 6 is on its way): 2 and 5 come; 6, half a second old, not yet.
  assert.equal(answer(3_000, last(1), [first(3), last(4)]), { states: [2, 5], claim: [{ origin: B, seq: last(5) }] });
  // Asked again once 6 is over a sync interval old: it comes.
  assert.equal(answer(3_600, last(5), []), { states: [6], claim: [{ origin: B, seq: last(6) }] });
  // A write a moment old below one A has seen is a lost push: it comes at once. What A holds does not.
  create(5_000, 7);
  assert.is(b.replication.write(5_000, { opId: opId('u1'), patch: { kind: 'update', id: ids[0]!, ops: [{ op: 'set', field: 'title', value: 'T' }] } }).kind, 'applied');
  sent(b, ADDR_A);
  const update = b.replication.store.get(ids[0]!)!.entries.find((e) => e.key === 'title')!.dot.seq;
  assert.ok(update > last(7));
  assert.equal(answer(5_001, last(6), [update, update]), { states: [7], claim: [{ origin: B, seq: update }] });
});

test('a request from a node of the first wire version, or with a held list out of form, is answered as holding nothing above its vector', () => {
  const b = node(B, ADDR_B, 1);
  const ids = [1, 2, 3].map((k) => contactId(`01J00000000000000000000D0${k}`));
  for (const [k, id] of ids.entries()) assert.is(b.replication.write(2_000, { opId: opId(`d${k}`), patch: { kind: 'create', contact: { id, formattedName: `D${k}` } } }).kind, 'applied');
  sent(b, ADDR_A);
  const statesFor = (now: number, msg: Message) => {
    b.replication.handleMessage(now, ADDR_A, A, msg);
    return sent(b, ADDR_A).flatMap((m) => (m.type === 'repState' ? [ids.indexOf(m.id as never) + 1] : []));
  };
  const old: Message = { type: 'repVv', reply: false, batch: 0, count: 0, more: false, cursor: '', vv: [] };
  // Half a second after the writes, they are left to their pushes; a second after, they come.
  assert.equal(statesFor(2_500, old), []);
  assert.equal(statesFor(3_000, old), [1, 2, 3]);
  // Ranges out of order, or not in pairs: nothing counts as held.
  for (const ranges of [[5, 3], [1, 2, 3]]) assert.equal(statesFor(3_100, { type: 'repAsk', count: 0, cursor: '', vv: [], held: [{ origin: B, ranges }] }), [1, 2, 3]);
});

test.run();
