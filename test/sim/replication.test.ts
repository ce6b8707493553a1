/**
 * Replication under faults (see replication-scenarios.ts for the scenario
 * and its checkers). SIM_SEEDS=k runs k fresh seeds; REPLICATION_SEEDS=n
 * runs seeds 1..n. CI runs 20: one seed takes ~7 s of wall time (the issue
 * asks for 100 in CI; that needs replication and the simulator made faster).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { OpId } from '../../protocol/contacts/ids.ts';
import { isTombstone } from '../../protocol/contacts/state.ts';
import { forEachSeed, seeds, simTest } from './seeds.ts';
import { allSee, newCluster, range } from './membership-harness.ts';
import { contactIdOf, replicationUnderFaults, sameEverywhere } from './replication-scenarios.ts';

test('7 nodes, random writes under loss, duplication, partitions, crashes: converge within 30 s of healing, nothing lost or resurrected', async () => {
  let writes = 0;
  let slowest = 0;
  await forEachSeed('replication under faults', seeds(range(Number(process.env['REPLICATION_SEEDS'] ?? 20), 1)), (seed) => {
    const r = replicationUnderFaults({ seed });
    writes += r.writes;
    assert.equal(r.failures, [], `seed ${seed}: checks failed`);
    assert.ok(r.convergedAfterHealMs !== undefined, `seed ${seed}: did not converge within 30 s of healing`);
    slowest = Math.max(slowest, r.convergedAfterHealMs!);
  });
  console.log(`replication under faults: ${writes} acknowledged writes checked; slowest convergence ${slowest} ms after heal`);
});

simTest(test, 'a node that has not reached its seed yet collects no tombstone (it cannot know who has seen it)', [1], (seed) => {
  const sim = newCluster({ seed, name: 'tombstone before join' });
  sim.addNode();
  sim.network.partition([[0], [1]]);
  sim.addNode(); // joins through node 0, which it cannot reach
  const id = contactIdOf(1);
  sim.poke(1, (core, now) => {
    core.replication.write(now, { opId: 'op-create' as OpId, patch: { kind: 'create', contact: { id, formattedName: 'Ana' } } });
    core.replication.write(now, { opId: 'op-delete' as OpId, patch: { kind: 'delete', id } });
  });
  sim.runFor(60_000); // twelve stability ticks
  const held = sim.core(1)!.replication.store.get(id);
  assert.ok(held && isTombstone(held), 'node 1 still holds the tombstone');
  sim.network.heal();
  assert.ok(sim.runUntilCondition(() => allSee(sim, [0, 1], [0, 1], 'alive') && sameEverywhere(sim, [0, 1]), 60_000), 'joined and converged after the heal');
  const at0 = sim.core(0)!.replication.store.get(id);
  assert.ok(!at0 || isTombstone(at0), 'the delete reached node 0');
});

test('the checkers catch a merge that loses writes', () => {
  const r = replicationUnderFaults({ seed: 1, minutes: 2, brokenJoin: true });
  assert.ok(r.failures.some((f) => f.includes('is missing')), `no loss reported: ${r.failures.join('; ')}`);
});

test.run();
