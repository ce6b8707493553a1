/**
 * Catch-up batches between two nodes, message by message. A claim ("with
 * these states you hold every write of origin X up to s") may be applied
 * only with the states of its own batch: a node that restarts must not
 * number a new batch like one of its previous life, of which the asker
 * may still hold a part (here: the claim of the old batch was lost).
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

test.run();
