/**
 * Replication under faults (see replication-scenarios.ts for the scenario
 * and its checkers). CI runs seeds 1..100 on two worker processes
 * (seed-pool.ts; SIM_WORKERS=n to change); a failed seed prints
 * `SEED=<n> reproduces this`, and SEED=n replays it in this process.
 * REPLICATION_SEEDS=n runs seeds 1..n; SIM_SEEDS=k runs k fresh seeds.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { OpId } from '../../protocol/contacts/ids.ts';
import { isTombstone } from '../../protocol/contacts/state.ts';
import { seeds, simTest } from './seeds.ts';
import { runSeedPool, seedWorkers } from './seed-pool.ts';
import { allSee, newCluster, range } from './membership-harness.ts';
import { contactIdOf, replicationUnderFaults, sameEverywhere } from './replication-scenarios.ts';
import type { ReplicationSeedResult } from './replication-seed.ts';

const NAME = 'replication under faults';

test('7 nodes, random writes under loss, duplication, partitions, crashes: converge within 30 s of healing, nothing lost or resurrected', async () => {
  const list = seeds(range(Number(process.env['REPLICATION_SEEDS'] ?? 100), 1));
  const workers = seedWorkers();
  const results = await runSeedPool<ReplicationSeedResult>(NAME, list, new URL('./replication-seed.ts', import.meta.url), workers);
  let writes = 0;
  let slowest = { ms: -1, seed: 0 };
  for (const [seed, r] of results) {
    writes += r.writes;
    if (r.convergedAfterHealMs > slowest.ms) slowest = { ms: r.convergedAfterHealMs, seed };
  }
  assert.is(results.size, list.length);
  const consecutive = list.length > 1 && list.every((s, i) => s === list[0]! + i);
  const which = consecutive ? `${list.length} seeds (${list[0]}..${list[list.length - 1]})` : `seed(s) ${list.join(', ')}`;
  console.log(`${NAME}: ${which} on ${Math.min(workers, list.length)} process(es): ${writes} acknowledged writes checked; slowest convergence ${slowest.ms} ms after heal (seed ${slowest.seed})`);
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
