/**
 * A contact's history (protocol/contacts/history.ts): what each write
 * records, the bound on how many are kept, that it replicates with the
 * contact (a peer tells the same history), that a deleted contact keeps
 * it, and the `history` op through a whole ClusterNode.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { commitWrite, receiveState } from '../../protocol/contacts/book.ts';
import { contactId, entryUid, opId } from '../../protocol/contacts/ids.ts';
import { MemoryStore } from '../../protocol/contacts/memory-store.ts';
import type { Patch } from '../../protocol/contacts/patch.ts';
import { history } from '../../protocol/contacts/history.ts';
import { OPS_REMEMBERED, patchFields } from '../../protocol/contacts/write.ts';
import { encodeMessage } from '../../protocol/wire/codec.ts';
import { toRepState } from '../../protocol/replication/wire-state.ts';
import { ClusterNode } from '../../protocol/node.ts';
import { SeededRng } from '../../protocol/rng.ts';
import { decodePacket, encodePacket } from '../../protocol/wire/codec.ts';
import { toAsciiJson } from '../../protocol/client/json.ts';
import { address, nodeId } from '../../protocol/types.ts';

const ID = contactId('01J00000000000000000000001');
const A = nodeId('a'.repeat(16));
const B = nodeId('b'.repeat(16));
const phone = (uid: string, value: string) => ({ uid: entryUid(uid), value, types: [], pref: false });

test('patchFields: what each kind of write touched', () => {
  const cases: [Patch, string[]][] = [
    [{ kind: 'create', contact: { id: ID, formattedName: 'Ann', phones: [phone('p1', '+1 555 0100')], emails: [], extra: { 'X-A': ['1'] } } }, ['extra', 'formattedName', 'phones']],
    [{ kind: 'update', id: ID, ops: [{ op: 'set', field: 'note', value: null }, { op: 'put', field: 'phones', uid: entryUid('p2'), value: { value: '+1 555 0101', types: [], pref: false } }, { op: 'setExtra', name: 'X-B', values: ['2'] }] }, ['extra', 'note', 'phones']],
    [{ kind: 'resolve', id: ID, op: { op: 'set', field: 'title', value: 'CEO' } }, ['title']],
    [{ kind: 'delete', id: ID }, []],
  ];
  for (const [patch, fields] of cases) assert.equal(patchFields(patch), fields, patch.kind);
});

test('each write is recorded with its node, time, kind, fields and op id; a peer tells the same history; delete keeps it', () => {
  const a = new MemoryStore();
  const b = new MemoryStore();
  const write = (store: MemoryStore, node: typeof A, patch: Patch, op: string, now: number) => {
    const out = commitWrite(store, node, { opId: opId(op), patch }, now);
    assert.is(out.kind, 'applied');
    return out.kind === 'applied' ? out.delta : undefined!;
  };
  const d1 = write(a, A, { kind: 'create', contact: { id: ID, formattedName: 'Ann' } }, 'op-create', 1_000);
  receiveState(b, d1, {});
  const d2 = write(b, B, { kind: 'update', id: ID, ops: [{ op: 'set', field: 'title', value: 'CEO' }] }, 'op-title', 2_000);
  receiveState(a, d2, {});
  const d3 = write(a, A, { kind: 'delete', id: ID }, 'op-delete', 3_000);
  receiveState(b, d3, {});
  const h = history(a.get(ID)!);
  assert.is(h.deleted, true);
  assert.equal(h.entries.map((e) => [e.opId, e.node, e.hlc.wallMs, e.kind, e.fields]), [
    ['op-create', A, 1_000, 'create', ['formattedName']],
    ['op-title', B, 2_000, 'update', ['title']],
    ['op-delete', A, 3_000, 'delete', []],
  ]);
  assert.equal(history(b.get(ID)!), h, 'the history replicates with the contact');
});

test(`at most ${OPS_REMEMBERED} writes are kept, the newest; a contact with a full history stays small`, () => {
  const a = new MemoryStore();
  // Op ids as long as the ULIDs clients make, so the size is the real one.
  const w = (k: number) => `01J${String(k).padStart(23, '0')}`;
  commitWrite(a, A, { opId: opId(w(0)), patch: { kind: 'create', contact: { id: ID, formattedName: 'Ann' } } }, 1_000);
  for (let k = 1; k < 80; k++) {
    const out = commitWrite(a, A, { opId: opId(w(k)), patch: { kind: 'update', id: ID, ops: [{ op: 'set', field: 'note', value: `note ${k}` }] } }, 1_000 + k);
    assert.is(out.kind, 'applied');
  }
  const h = history(a.get(ID)!);
  assert.is(h.entries.length, OPS_REMEMBERED);
  assert.equal(h.entries.map((e) => e.opId), Array.from({ length: OPS_REMEMBERED }, (_, k) => w(80 - OPS_REMEMBERED + k)));
  const bytes = encodeMessage(toRepState(a.get(ID)!, { reply: false, full: true, batch: 0 })).length;
  console.log(`history: a contact edited 80 times (${OPS_REMEMBERED} writes remembered) takes ${bytes} bytes to replicate`);
  assert.ok(bytes < 8_000, `a contact with ${OPS_REMEMBERED} writes remembered takes ${bytes} bytes to replicate`);
});

test('a record of another shape (an older peer) reads as kind unknown', () => {
  const a = new MemoryStore();
  commitWrite(a, A, { opId: opId('w0'), patch: { kind: 'create', contact: { id: ID, formattedName: 'Ann' } } }, 1_000);
  const s = a.get(ID)!;
  const old = { ...s, entries: s.entries.map((e) => (e.key === '$op' ? { ...e, value: { first: 1, last: 2 } } : e)) };
  assert.equal(history(old).entries.map((e) => [e.kind, e.fields]), [['unknown', []]]);
});

test('the history op through a ClusterNode: entries with the node name and wall time; unknown ids are not-found', () => {
  const node = new ClusterNode({ id: A, addr: address('127.0.0.1:7700'), rng: new SeededRng(3), now: 5_000, config: { nodeName: 'alpha' } });
  let reqId = 0;
  // Padded as the client library pads: an error to a stranger is no larger than its request.
  const ask = (op: string, args: unknown) => {
    node.handleDatagram(5_000 + reqId, address('127.0.0.1:50000'), encodePacket({ cluster: 'contacts', from: nodeId('c1c1c1c1c1c1c1c1') }, [{ type: 'clientReq', reqId: ++reqId, op, args: toAsciiJson(args).padEnd(600) }]));
    for (let t = node.pollTransmit(); t; t = node.pollTransmit()) {
      const r = decodePacket(t.bytes, 'contacts');
      if (r.ok && r.packet.messages[0]?.type === 'clientRes') return r.packet.messages[0];
    }
    throw new Error('no answer');
  };
  assert.ok(ask('put', { opId: 'op-1', patch: { kind: 'create', contact: { id: ID, formattedName: 'Ann', phones: [phone('p1', '+1 555 0100')] } } }).ok);
  const res = ask('history', { id: ID });
  assert.ok(res.ok, res.result);
  const h = JSON.parse(res.result);
  assert.is(h.id, ID);
  assert.is(h.deleted, false);
  assert.equal(h.entries.map((e: Record<string, unknown>) => [e.opId, e.node, e.nodeName, e.kind, e.fields, e.atMs]), [['op-1', A, 'alpha', 'create', ['formattedName', 'phones'], 5_000]]);
  const missing = ask('history', { id: '01J00000000000000000000009' });
  assert.not.ok(missing.ok);
  assert.is(JSON.parse(missing.result).code, 'not-found');
  assert.is(JSON.parse(ask('history', {}).result).code, 'bad-request');
});

test.run();
