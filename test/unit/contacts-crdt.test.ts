/**
 * The contact CRDT's behaviour, scenario by scenario, on in-memory nodes
 * (protocol/contacts/book.ts over MemoryStore) with messages delivered by
 * hand: concurrent edits, conflicts and their resolution, delete against
 * edit, final deletes against replicas that were away (before and after
 * tombstone collection), retried op ids.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { collectTombstones, commitWrite, receiveState, stateForPeer } from '../../protocol/contacts/book.ts';
import { cloudMax, cloudTop, EMPTY_CLOUD, vvMax, vvMeet, type DotCloud, type VersionVector } from '../../protocol/contacts/dots.ts';
import { contactId, entryUid, opId, type ContactId } from '../../protocol/contacts/ids.ts';
import { MemoryStore } from '../../protocol/contacts/memory-store.ts';
import type { Contact, ContactInput } from '../../protocol/contacts/model.ts';
import type { FieldOp, Patch } from '../../protocol/contacts/patch.ts';
import type { ContactState } from '../../protocol/contacts/state.ts';
import { version, view } from '../../protocol/contacts/view.ts';
import type { WriteOutcome } from '../../protocol/contacts/write.ts';
import { nodeId, type NodeId } from '../../protocol/types.ts';

const ID = contactId('01J00000000000000000000001');
const NODES = ['a', 'b', 'c', 'd'].map((c) => nodeId(c.repeat(16)));
const phone = (uid: string, value: string) => ({ uid: entryUid(uid), value, types: ['cell'], pref: false });
const ANN: ContactInput = { id: ID, formattedName: 'Ann', org: { name: 'ACME', units: [] }, phones: [phone('p1', '+1 555 0100')] };

/** Nodes that exchange messages only when a test says so. */
class Cluster {
  readonly stores = NODES.map(() => new MemoryStore());
  private ops = 0;
  nowMs = 1_000;
  /** Members whose version vectors make the stable vector (a node declared dead drops out). */
  members = [0, 1, 2, 3];

  /** Writes at node n; returns the outcome (the delta is not sent anywhere yet). */
  write(n: number, patch: Patch, opts: { read?: DotCloud; op?: string } = {}): WriteOutcome {
    const req = { opId: opId(opts.op ?? `op${this.ops++}`), patch, ...(opts.read ? { read: opts.read } : {}) };
    return commitWrite(this.stores[n]!, NODES[n]!, req, (this.nowMs += 10), this.stable());
  }

  /** Writes at node n and returns the delta; fails the test when the write is refused. */
  delta(n: number, patch: Patch, opts: { read?: DotCloud; op?: string } = {}): ContactState {
    const out = this.write(n, patch, opts);
    if (out.kind !== 'applied') throw new Error(`write refused: ${JSON.stringify(out)}`);
    return out.delta;
  }

  send(m: ContactState, ...to: number[]): void {
    for (const n of to) receiveState(this.stores[n]!, m, this.stable());
  }

  stable(): VersionVector {
    return vvMeet(this.members.map((n) => cloudTop(this.stores[n]!.applied())));
  }

  collect(n: number): ContactId[] {
    const frontier = this.members.map((m) => cloudMax(this.stores[m]!.applied())).reduce(vvMax, {});
    return collectTombstones(this.stores[n]!, { stable: this.stable(), frontier });
  }

  view(n: number): Contact | undefined {
    const s = this.stores[n]!.get(ID);
    return s && view(s);
  }
}

const update = (...ops: FieldOp[]): Patch => ({ kind: 'update', id: ID, ops });
const setName = (value: string): FieldOp => ({ op: 'set', field: 'formattedName', value });

/** A cluster where node 0 created ANN and every node has it. */
function started(): Cluster {
  const c = new Cluster();
  c.send(c.delta(0, { kind: 'create', contact: ANN }), 1, 2, 3);
  return c;
}

test('concurrent phone and email edits merge without conflict', () => {
  const c = started();
  const d1 = c.delta(0, update({ op: 'put', field: 'phones', uid: entryUid('p1'), value: { value: '+1 555 0199', types: ['work'], pref: true } }));
  const d2 = c.delta(1, update({ op: 'put', field: 'emails', uid: entryUid('e1'), value: { value: 'ann@acme.io', types: [], pref: false } }));
  c.send(d1, 1);
  c.send(d2, 0);
  for (const n of [0, 1]) {
    const v = c.view(n)!;
    assert.equal(v.phones.map((p) => p.value), ['+1 555 0199']);
    assert.equal(v.emails.map((e) => e.value), ['ann@acme.io']);
    assert.equal(v.conflicts, []);
  }
  assert.is(version(c.stores[0]!.get(ID)!), version(c.stores[1]!.get(ID)!));
});

test('concurrent name edits: one winner everywhere, the conflict lists both, resolve clears it', () => {
  const c = started();
  const d1 = c.delta(0, update(setName('Ann Smith')));
  const d2 = c.delta(1, update(setName('Anne'))); // later HLC: the winner
  c.send(d1, 1, 2);
  c.send(d2, 0, 2);
  for (const n of [0, 1, 2]) {
    const v = c.view(n)!;
    assert.is(v.formattedName, 'Anne');
    assert.equal(v.conflicts.map((x) => [x.field, x.values.map((y) => [y.value, y.origin])]), [
      ['formattedName', [['Anne', NODES[1]], ['Ann Smith', NODES[0]]]],
    ]);
    assert.ok(v.conflicts[0]!.values[0]!.hlc.wallMs > v.conflicts[0]!.values[1]!.hlc.wallMs);
  }
  const seen = c.view(2)!.seen;
  const fix = c.delta(2, { kind: 'resolve', id: ID, op: setName('Ann Smith') }, { read: seen });
  c.send(fix, 0, 1);
  for (const n of [0, 1, 2]) {
    assert.is(c.view(n)!.formattedName, 'Ann Smith');
    assert.equal(c.view(n)!.conflicts, []);
  }
});

test('a resolve that did not see a newer value leaves that one in conflict', () => {
  const c = started();
  c.send(c.delta(0, update(setName('A1'))), 1);
  const stale = c.view(1)!.seen;
  c.send(c.delta(0, update(setName('A2'))), 1);
  c.send(c.delta(1, { kind: 'resolve', id: ID, op: setName('B') }, { read: stale }), 0);
  assert.equal(c.view(0)!.conflicts[0]!.values.map((v) => v.value), ['B', 'A2']);
});

test('two phones added concurrently both stay; an edit concurrent with a removal wins', () => {
  const c = started();
  const d1 = c.delta(0, update({ op: 'put', field: 'phones', uid: entryUid('p2'), value: { value: '+1 2', types: [], pref: false } }));
  const d2 = c.delta(1, update({ op: 'put', field: 'phones', uid: entryUid('p3'), value: { value: '+1 3', types: [], pref: false } }));
  c.send(d1, 1);
  c.send(d2, 0);
  assert.equal(c.view(0)!.phones.map((p) => p.uid), ['p1', 'p2', 'p3']);
  assert.equal(c.view(1)!.phones, c.view(0)!.phones);
  const rm = c.delta(0, update({ op: 'remove', field: 'phones', uid: entryUid('p1') }));
  const edit = c.delta(1, update({ op: 'put', field: 'phones', uid: entryUid('p1'), value: { value: '+1 9', types: [], pref: false } }));
  c.send(rm, 1);
  c.send(edit, 0);
  assert.equal(c.view(0)!.phones.map((p) => p.value), ['+1 9', '+1 2', '+1 3']);
  assert.equal(c.view(1)!.phones, c.view(0)!.phones);
});

test('one phone edited concurrently: a conflict on that entry, the others untouched', () => {
  const c = started();
  const put = (v: string): FieldOp => ({ op: 'put', field: 'phones', uid: entryUid('p1'), value: { value: v, types: [], pref: false } });
  const d1 = c.delta(0, update(put('+1 111')));
  const d2 = c.delta(1, update(put('+1 222')));
  c.send(d1, 1);
  c.send(d2, 0);
  const v = c.view(0)!;
  assert.equal(v.phones.map((p) => p.value), ['+1 222']);
  assert.equal(v.conflicts.map((x) => [x.field, x.uid, x.values.length]), [['phones', 'p1', 2]]);
  assert.equal(c.view(1), v);
});

test('the same value written concurrently is no conflict', () => {
  const c = started();
  const d1 = c.delta(0, update({ op: 'set', field: 'title', value: 'CEO' }));
  const d2 = c.delta(1, update({ op: 'set', field: 'title', value: 'CEO' }));
  c.send(d1, 1);
  c.send(d2, 0);
  assert.is(c.view(0)!.title, 'CEO');
  assert.equal(c.view(0)!.conflicts, []);
});

test('a delete concurrent with an edit loses: the contact stays with all its fields, flagged revived', () => {
  const c = started();
  const del = c.delta(0, { kind: 'delete', id: ID });
  assert.is(c.view(0), undefined);
  const edit = c.delta(1, update({ op: 'set', field: 'title', value: 'CTO' }));
  c.send(edit, 0);
  c.send(del, 1);
  for (const n of [0, 1]) {
    const v = c.view(n)!;
    assert.ok(v.revived);
    assert.equal([v.formattedName, v.org?.name, v.title, v.phones.length], ['Ann', 'ACME', 'CTO', 1]);
  }
  // Someone who saw the flag edits again: the flag goes.
  c.send(c.delta(1, update({ op: 'set', field: 'title', value: 'CFO' })), 0);
  assert.not.ok(c.view(0)!.revived);
});

test('a delete that follows every edit is final, even when a replica that was away sends its old state', () => {
  const c = started();
  const old = c.stores[3]!.get(ID)!; // node 3 goes away holding this
  c.members = [0, 1, 2];
  c.send(c.delta(0, { kind: 'delete', id: ID }), 1, 2);
  c.send(old, 0, 1, 2);
  for (const n of [0, 1, 2]) assert.is(c.view(n), undefined, 'before collection');
  c.collect(0);
  assert.equal(c.collect(0), [ID], 'the fence is passed on the second pass');
  assert.is(c.stores[0]!.get(ID), undefined);
  // Node 3 comes back and offers its old copy: refused, and it is told.
  const got = receiveState(c.stores[0]!, old, c.stable());
  assert.ok(got.senderStale);
  assert.is(c.view(0), undefined, 'after collection');
  receiveState(c.stores[3]!, stateForPeer(c.stores[0]!, ID, c.stable()), cloudTop(c.stores[3]!.applied()));
  assert.is(c.view(3), undefined, 'the returning replica drops it too');
  assert.equal(c.stores[3]!.get(ID)?.entries ?? [], []);
});

test('an edit still in flight when the delete became stable revives the contact whole', () => {
  const c = started();
  const edit = c.delta(2, update({ op: 'set', field: 'title', value: 'CTO' })); // not sent yet
  c.send(c.delta(0, { kind: 'delete', id: ID }), 1, 2, 3);
  // Every member has applied the delete, and node 0's tombstone is all below W.
  assert.equal(c.collect(0), []);
  assert.equal(c.collect(0), [], 'the fence waits for the edit node 2 made before it saw the delete');
  c.send(edit, 0, 1, 3);
  const v = c.view(0)!;
  assert.ok(v.revived);
  assert.equal([v.formattedName, v.title, v.phones.length], ['Ann', 'CTO', 1]);
});

test('a contact created again after its tombstone was collected shows nothing of its old life at a member still holding the tombstone', () => {
  const c = started();
  c.send(c.delta(0, { kind: 'delete', id: ID }), 1, 2, 3);
  // Node 0 collects the tombstone (a fence first, then the forget); node 1 has not run a pass yet.
  c.collect(0);
  assert.equal(c.collect(0), [ID]);
  assert.is(c.stores[0]!.get(ID), undefined);
  // The id is created again at node 0, with other fields; its delta reaches node 1, still holding the tombstone.
  c.send(c.delta(0, { kind: 'create', contact: { id: ID, formattedName: 'Bea' } }), 1);
  const v = c.view(1)!;
  assert.equal([v.formattedName, v.org, v.phones.length, v.conflicts], ['Bea', undefined, 0, []]);
  assert.is(version(c.stores[1]!.get(ID)!), version(c.stores[0]!.get(ID)!));
});

test('after a create of a collected contact, writes to it carry its old life\'s bound: an update arriving before the create shows no old field', () => {
  const c = started();
  c.send(c.delta(0, { kind: 'delete', id: ID }), 1, 2, 3);
  c.collect(0);
  assert.equal(c.collect(0), [ID]);
  const create = c.delta(0, { kind: 'create', contact: { id: ID, formattedName: 'Bea' } });
  c.send(create, 2);
  // Node 2 took the create; its update reaches node 1, still holding the tombstone, before the create does.
  c.send(c.delta(2, update({ op: 'set', field: 'title', value: 'CEO' })), 1);
  const early = c.stores[1]!.get(ID)!.entries.map((e) => String(e.value));
  assert.ok(!early.some((v) => v.includes('Ann') || v.includes('ACME') || v.includes('0100')), `node 1 holds ${early.join(', ')}`);
  c.send(create, 1);
  assert.equal([c.view(1)!.formattedName, c.view(1)!.title, c.view(1)!.org, c.view(1)!.phones.length], ['Bea', 'CEO', undefined, 0]);
});

test('a member that was away drops its stale copy, creates the contact again, and the others show nothing of the old life', () => {
  const c = started();
  c.members = [0, 1, 2]; // node 3 declared dead and removed
  c.send(c.delta(0, update({ op: 'set', field: 'title', value: 'CTO' })), 1, 2);
  c.send(c.delta(0, { kind: 'delete', id: ID }), 1, 2);
  c.collect(0);
  assert.equal(c.collect(0), [ID]);
  // Node 3 comes back with its copy of Ann: node 0 answers with the absent state, which takes it all.
  c.send(stateForPeer(c.stores[0]!, ID, c.stable()), 3);
  assert.is(c.stores[3]!.get(ID), undefined);
  c.send(c.delta(3, { kind: 'create', contact: { id: ID, formattedName: 'Bea' } }), 1);
  const v = c.view(1)!;
  assert.equal([v.formattedName, v.title, v.org, v.phones.length, v.revived], ['Bea', undefined, undefined, 0, false]);
  assert.is(version(c.stores[1]!.get(ID)!), version(c.stores[3]!.get(ID)!));
});

test('a retried op id is applied once, at the same node or at another that has the first attempt', () => {
  const c = started();
  const patch = update({ op: 'put', field: 'emails', uid: entryUid('e1'), value: { value: 'ann@x.io', types: [], pref: false } });
  const first = c.write(0, patch, { op: 'retry-me' });
  const again = c.write(0, patch, { op: 'retry-me' });
  assert.is(first.kind, 'applied');
  assert.equal(again, { kind: 'duplicate', dots: first.kind === 'applied' ? first.dots : undefined });
  c.send((first as { delta: ContactState }).delta, 1);
  assert.is(c.write(1, patch, { op: 'retry-me' }).kind, 'duplicate');
  // Node 2 never got the first attempt: it applies the retry, and the two merge as one value.
  const other = c.delta(2, patch, { op: 'retry-me' });
  c.send(other, 0);
  assert.equal(c.view(0)!.emails.map((e) => e.value), ['ann@x.io']);
  assert.equal(c.view(0)!.conflicts, []);
});

test('a retried create is answered with the first result, a different create of the same id is refused', () => {
  const c = new Cluster();
  const create: Patch = { kind: 'create', contact: ANN };
  const first = c.write(0, create, { op: 'c1' });
  assert.is(c.write(0, create, { op: 'c1' }).kind, 'duplicate');
  const clash = c.write(0, create, { op: 'c2' });
  assert.is(clash.kind === 'rejected' && clash.error.code, 'exists');
  assert.is(first.kind, 'applied');
});

test('writes are refused with the field and the reason', () => {
  const c = started();
  const table: [Patch, string, string][] = [
    [update({ op: 'put', field: 'phones', uid: entryUid('p9'), value: { value: 'call me', types: [], pref: false } }), 'invalid', 'phones[p9].value'],
    [update({ op: 'set', field: 'birthday', value: '1990-02-30' as never }), 'invalid', 'birthday'],
    [update(setName('')), 'invalid', 'formattedName'],
    [{ kind: 'update', id: contactId('01J00000000000000000000009'), ops: [setName('X')] }, 'not-found', ''],
  ];
  for (const [patch, code, path] of table) {
    const out = c.write(0, patch);
    assert.is(out.kind, 'rejected');
    if (out.kind !== 'rejected') continue;
    assert.is(out.error.code, code);
    assert.is(out.error.issues[0]?.path ?? '', path);
  }
  c.delta(0, { kind: 'delete', id: ID });
  const late = c.write(0, update(setName('Z')));
  assert.is(late.kind === 'rejected' && late.error.code, 'deleted');
});

test('a write may not grow a list past its limit', () => {
  const c = new Cluster();
  const phones = Array.from({ length: 20 }, (_, i) => phone(`p${i}`, `+1 ${100 + i}`));
  c.delta(0, { kind: 'create', contact: { ...ANN, phones } });
  const out = c.write(0, update({ op: 'put', field: 'phones', uid: entryUid('p20'), value: { value: '+1 999', types: [], pref: false } }));
  assert.is(out.kind === 'rejected' && out.error.code, 'too-many');
  assert.is(out.kind === 'rejected' && out.error.issues[0]!.path, 'phones');
  assert.is(c.write(0, update({ op: 'put', field: 'phones', uid: entryUid('p3'), value: { value: '+1 999', types: [], pref: false } })).kind, 'applied');
});

test('a blind write (empty read context) replaces nothing: it stands beside what is there', () => {
  const c = started();
  c.delta(0, update({ op: 'set', field: 'title', value: 'CEO' }));
  c.delta(0, update({ op: 'set', field: 'title', value: 'CTO' }), { read: EMPTY_CLOUD });
  assert.equal(c.view(0)!.conflicts.map((x) => x.values.map((v) => v.value)), [['CTO', 'CEO']]);
});

test('a view is computed once per state: the same state gives the same view, any other state its own', () => {
  const c = started();
  const s1 = c.stores[0]!.get(ID)!;
  assert.ok(view(s1) === view(s1));
  c.delta(0, update(setName('Anne')));
  const s2 = c.stores[0]!.get(ID)!;
  assert.is(view(s2)!.formattedName, 'Anne');
  assert.is(view(s1)!.formattedName, 'Ann', 'the older state still shows its own view');
  assert.equal(view({ ...s1 }), view(s1), 'a copy is viewed anew, alike');
});

test.run();
