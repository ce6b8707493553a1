/**
 * Concurrent edits across a partition, on the simulator: edits of
 * different fields merge without conflict; edits of the same field leave
 * one winner everywhere and a conflict listing both, which a resolve
 * clears everywhere.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ClusterNode } from '../../protocol/node.ts';
import type { ContactId, EntryUid, OpId } from '../../protocol/contacts/ids.ts';
import type { WriteRequest } from '../../protocol/contacts/patch.ts';
import { view } from '../../protocol/contacts/view.ts';
import type { Contact } from '../../protocol/contacts/model.ts';
import { simTest } from './seeds.ts';
import { addStaggered, allSee, newCluster, range } from './membership-harness.ts';
import { contactIdOf } from './replication-scenarios.ts';
import type { Simulation } from './sim.ts';

const ID: ContactId = contactIdOf(1);
let ops = 0;

function write(sim: Simulation<ClusterNode>, node: number, req: Omit<WriteRequest, 'opId'>): void {
  sim.poke(node, (core, now) => {
    const r = core.replication.write(now, { ...req, opId: `op-${++ops}` as OpId });
    assert.is(r.kind, 'applied', `write at node ${node}: ${JSON.stringify(r)}`);
  });
}

function read(sim: Simulation<ClusterNode>, node: number): Contact | undefined {
  const s = sim.core(node)!.replication.store.get(ID);
  return s ? view(s) : undefined;
}

function sameOnAll(sim: Simulation<ClusterNode>, nodes: number[]): boolean {
  const texts = nodes.map((i) => JSON.stringify({ ...read(sim, i), seen: undefined, updated: undefined }));
  return texts.every((t) => t === texts[0]) && read(sim, nodes[0]!) !== undefined;
}

function setup(seed: number): Simulation<ClusterNode> {
  const sim = newCluster({ seed, name: 'concurrent edits' });
  addStaggered(sim, 3, 500);
  assert.ok(sim.runUntilCondition(() => allSee(sim, range(3), range(3), 'alive'), 10_000));
  write(sim, 0, {
    patch: {
      kind: 'create',
      contact: {
        id: ID, formattedName: 'Ana Lima',
        phones: [{ uid: 'p1' as EntryUid, value: '+55 11 5555-0001', types: ['cell'], pref: true }],
        emails: [{ uid: 'e1' as EntryUid, value: 'ana@example.org', types: ['home'], pref: true }],
      },
    },
  });
  assert.ok(sim.runUntilCondition(() => sameOnAll(sim, range(3)), 5_000), 'create did not replicate');
  return sim;
}

simTest(test, 'partitioned edits of the phone and the email of one contact both survive, without conflict', [1, 2, 3], (seed) => {
  const sim = setup(seed);
  sim.network.partition([[0], [1, 2]]);
  write(sim, 0, { patch: { kind: 'update', id: ID, ops: [{ op: 'put', field: 'phones', uid: 'p1' as EntryUid, value: { value: '+55 11 5555-0002', types: ['cell'], pref: true } }] } });
  write(sim, 1, { patch: { kind: 'update', id: ID, ops: [{ op: 'put', field: 'emails', uid: 'e1' as EntryUid, value: { value: 'ana.lima@example.org', types: ['work'], pref: true } }] } });
  sim.runFor(5_000);
  sim.network.heal();
  assert.ok(sim.runUntilCondition(() => sameOnAll(sim, range(3)), 30_000), 'did not converge after heal');
  const c = read(sim, 2)!;
  assert.equal(c.phones.map((p) => p.value), ['+55 11 5555-0002']);
  assert.equal(c.emails.map((e) => e.value), ['ana.lima@example.org']);
  assert.equal(c.conflicts, []);
});

simTest(test, 'partitioned edits of the name: one winner everywhere, a conflict with both values, cleared by a resolve', [1, 2, 3], (seed) => {
  const sim = setup(seed);
  sim.network.partition([[0], [1, 2]]);
  write(sim, 0, { patch: { kind: 'update', id: ID, ops: [{ op: 'set', field: 'formattedName', value: 'Ana Maria Lima' }] } });
  sim.runFor(50);
  write(sim, 1, { patch: { kind: 'update', id: ID, ops: [{ op: 'set', field: 'formattedName', value: 'Ana L.' }] } });
  sim.runFor(5_000);
  sim.network.heal();
  assert.ok(sim.runUntilCondition(() => sameOnAll(sim, range(3)), 30_000), 'did not converge after heal');
  const c = read(sim, 2)!;
  const conflict = c.conflicts.find((k) => k.field === 'formattedName');
  assert.ok(conflict, `no conflict reported: ${JSON.stringify(c.conflicts)}`);
  assert.equal(conflict!.values.map((v) => v.value).sort(), ['Ana L.', 'Ana Maria Lima']);
  assert.is(c.formattedName, conflict!.values[0]!.value, 'the reader sees the winner');
  write(sim, 2, { patch: { kind: 'resolve', id: ID, op: { op: 'set', field: 'formattedName', value: 'Ana Maria Lima' } }, read: c.seen });
  assert.ok(sim.runUntilCondition(() => sameOnAll(sim, range(3)) && read(sim, 0)!.conflicts.length === 0, 10_000), 'resolve did not clear the conflict everywhere');
  assert.is(read(sim, 1)!.formattedName, 'Ana Maria Lima');
});

test.run();
