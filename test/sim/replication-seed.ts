/**
 * One seed of the replication-under-faults scenario (replication-scenarios.ts),
 * as a seed pool runs it (seed-pool.ts): throws when a check fails or the
 * cluster did not converge within 30 s of healing, else returns the figures.
 */
import { replicationUnderFaults } from './replication-scenarios.ts';

export interface ReplicationSeedResult {
  /** Acknowledged writes the checkers followed. */
  writes: number;
  convergedAfterHealMs: number;
}

export default function replicationSeed(seed: number): ReplicationSeedResult {
  const r = replicationUnderFaults({ seed });
  if (r.failures.length > 0) throw new Error(`seed ${seed}: checks failed:\n  ${r.failures.join('\n  ')}`);
  if (r.convergedAfterHealMs === undefined) throw new Error(`seed ${seed}: did not converge within 30 s of healing`);
  return { writes: r.writes, convergedAfterHealMs: r.convergedAfterHealMs };
}
