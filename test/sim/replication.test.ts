/**
 * Replication under faults (see replication-scenarios.ts for the scenario
 * and its checkers). CI runs seeds 1..100 on two worker processes
 * (seed-pool.ts; SIM_WORKERS=n to change); a failed seed prints
 * `SEED=<n> reproduces this`, and SEED=n replays it in this process.
 * REPLICATION_SEEDS=n runs seeds 1..n; SIM_SEEDS=k runs k fresh seeds.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { seeds } from './seeds.ts';
import { runSeedPool, seedWorkers } from './seed-pool.ts';
import { range } from './membership-harness.ts';
import { replicationUnderFaults } from './replication-scenarios.ts';
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

test('the checkers catch a merge that loses writes', () => {
  const r = replicationUnderFaults({ seed: 1, minutes: 2, brokenJoin: true });
  assert.ok(r.failures.some((f) => f.includes('is missing')), `no loss reported: ${r.failures.join('; ')}`);
});

test.run();
