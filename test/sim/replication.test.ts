/**
 * Replication under faults (see replication-scenarios.ts for the scenario
 * and its checkers). SIM_SEEDS=k runs k fresh seeds; REPLICATION_SEEDS=n
 * runs seeds 1..n. CI runs 20: one seed takes ~7 s of wall time (the issue
 * asks for 100 in CI; that needs replication and the simulator made faster).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { forEachSeed, seeds } from './seeds.ts';
import { range } from './membership-harness.ts';
import { replicationUnderFaults } from './replication-scenarios.ts';

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

test('the checkers catch a merge that loses writes', () => {
  const r = replicationUnderFaults({ seed: 1, minutes: 2, brokenJoin: true });
  assert.ok(r.failures.some((f) => f.includes('is missing')), `no loss reported: ${r.failures.join('; ')}`);
});

test.run();
