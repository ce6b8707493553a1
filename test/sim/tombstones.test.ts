/**
 * When a deleted contact may be forgotten, on the simulator. DESIGN.md
 * promises that a delete that follows every edit is final and that a node
 * that was down a long time must not bring the contact back, and that a
 * tombstone is dropped once every member has seen it. Like Cassandra's
 * gc_grace and Riak's waiting for every primary, a member that is down
 * still counts until it is reaped (reapDeadAfterMs, a day by default): it
 * holds collection back, and when it returns with its old copy the
 * contact stays deleted. A member reaped while down no longer counts: the
 * others collect without it, and its old copy is refused when it returns
 * (every entry of it is at or below their stable vector). A node that
 * restarts remembering no member (all looked dead to it when it last saved
 * its member list) must not take itself for the whole cluster.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ClusterNode, NodeConfig } from '../../protocol/node.ts';
import type { OpId } from '../../protocol/contacts/ids.ts';
import type { Patch } from '../../protocol/contacts/patch.ts';
import { isTombstone } from '../../protocol/contacts/state.ts';
import { view } from '../../protocol/contacts/view.ts';
import { simTest } from './seeds.ts';
import { addStaggered, allSee, newCluster, range } from './membership-harness.ts';
import { contactIdOf } from './replication-scenarios.ts';
import type { Simulation } from './sim.ts';

const ID = contactIdOf(7);
const N = 4;
const DOWN = 3;
const UP = range(N - 1);

function write(sim: Simulation<ClusterNode>, node: number, patch: Patch, opId: string): void {
  sim.poke(node, (core, now) => {
    const r = core.replication.write(now, { opId: opId as OpId, patch });
    assert.is(r.kind, 'applied', `write at node ${node}: ${JSON.stringify(r)}`);
  });
}

/** What node i holds for the contact: nothing, a tombstone, or the live contact. */
function held(sim: Simulation<ClusterNode>, i: number): 'nothing' | 'tombstone' | 'live' {
  const s = sim.core(i)!.replication.store.get(ID);
  return !s ? 'nothing' : view(s) ? 'live' : isTombstone(s) ? 'tombstone' : 'nothing';
}

/** A cluster of N nodes holding the contact, with node DOWN crashed and the contact then deleted at node 0. */
function deletedWhileOneIsDown(seed: number, config: Partial<NodeConfig>): Simulation<ClusterNode> {
  const sim = newCluster({ seed, name: 'tombstones', config });
  addStaggered(sim, N, 500);
  assert.ok(sim.runUntilCondition(() => allSee(sim, range(N), range(N), 'alive'), 10_000), 'cluster did not form');
  write(sim, 0, { kind: 'create', contact: { id: ID, formattedName: 'Rosa Parks' } }, 'create');
  assert.ok(sim.runUntilCondition(() => range(N).every((i) => held(sim, i) === 'live'), 10_000), 'create did not replicate');
  sim.crash(DOWN);
  write(sim, 0, { kind: 'delete', id: ID }, 'delete');
  assert.ok(sim.runUntilCondition(() => UP.every((i) => held(sim, i) !== 'live'), 10_000), 'delete did not replicate');
  return sim;
}

/** Runs until `done` (for at most `limitMs`), failing at once if a node that saw the delete shows the contact again. */
function runWithoutResurrection(sim: Simulation<ClusterNode>, limitMs: number, done: () => boolean = () => false): boolean {
  return sim.runUntilCondition(() => {
    for (const i of UP) assert.is.not(held(sim, i), 'live', `node ${i} shows the deleted contact again (t=${sim.now})`);
    return done();
  }, limitMs, 250);
}

simTest(test, 'a member that is down holds tombstone collection back; back with its old copy, it cannot revive the contact; then the tombstone goes everywhere', [1, 2], (seed) => {
  const sim = deletedWhileOneIsDown(seed, {});
  // Long enough for node 3 to be declared dead (not reaped: that takes a day) and for many stability rounds.
  runWithoutResurrection(sim, 120_000);
  for (const i of UP) assert.is(held(sim, i), 'tombstone', `node ${i} collected a tombstone a down member has not seen`);
  assert.ok(allSee(sim, UP, [DOWN], 'dead'), 'the down member was not declared dead');
  sim.restart(DOWN);
  assert.is(held(sim, DOWN), 'live', 'the returning member holds its old copy');
  const collected = runWithoutResurrection(sim, 60_000, () => range(N).every((i) => held(sim, i) === 'nothing'));
  assert.ok(collected, 'the tombstone was not collected everywhere once every member had seen the delete');
});

simTest(test, 'a member reaped while down no longer counts: the others collect the tombstone, and its old copy is refused when it returns', [1, 2], (seed) => {
  const sim = deletedWhileOneIsDown(seed, { reapDeadAfterMs: 120_000 });
  const collected = runWithoutResurrection(sim, 600_000, () => UP.every((i) => held(sim, i) === 'nothing'));
  assert.ok(collected, 'the others did not collect the tombstone once the down member was reaped');
  sim.restart(DOWN);
  const dropped = runWithoutResurrection(sim, 60_000, () => held(sim, DOWN) === 'nothing' && allSee(sim, range(N), range(N), 'alive'));
  assert.ok(dropped, 'the returning member kept its old copy');
  // And it stays that way.
  runWithoutResurrection(sim, 30_000);
  for (const i of range(N)) assert.is(held(sim, i), 'nothing');
});

simTest(test, 'a node that restarts remembering no member does not collect, alone, the tombstone of a delete only it has', [1, 2], (seed) => {
  const sim = newCluster({ seed, name: 'tombstones' });
  addStaggered(sim, 3, 500);
  assert.ok(sim.runUntilCondition(() => allSee(sim, range(3), range(3), 'alive'), 10_000), 'cluster did not form');
  write(sim, 0, { kind: 'create', contact: { id: ID, formattedName: 'Rosa Parks' } }, 'create');
  assert.ok(sim.runUntilCondition(() => range(3).every((i) => held(sim, i) === 'live'), 10_000), 'create did not replicate');
  // Node 0 (the one that started the cluster: no seeds) is cut off until the others look dead to it, deletes, and restarts.
  sim.network.partition([[0], [1, 2]]);
  assert.ok(sim.runUntilCondition(() => allSee(sim, [0], [1, 2], 'dead'), 120_000), 'node 0 did not declare the others dead');
  write(sim, 0, { kind: 'delete', id: ID }, 'delete');
  sim.runFor(10_000); // its member list, saved with only itself in it
  sim.crash(0);
  sim.restart(0);
  sim.runFor(60_000); // many stability rounds, still cut off
  assert.is(held(sim, 0), 'tombstone', 'node 0 collected, alone, a delete no other node has');
  sim.network.heal();
  assert.ok(sim.runUntilCondition(() => {
    assert.is.not(held(sim, 0), 'live', `node 0 shows the deleted contact again (t=${sim.now})`);
    return range(3).every((i) => held(sim, i) !== 'live');
  }, 60_000, 250), 'the delete did not reach the others');
});

test.run();
