/**
 * Seeds for simulation tests: which ones to run, and what to print when one
 * fails, so any failure anyone sees can be replayed exactly.
 *
 * How this works: `seeds(defaults)` reads the environment. `SEED=<n>` runs
 * that one seed (to replay a failure); `SIM_SEEDS=<k>` runs k fresh random
 * seeds (to hunt for new failures; Math.random is fine here, in the harness,
 * and never in protocol/); otherwise the defaults, so CI is stable.
 * `forEachSeed` runs a scenario once per seed and, when one throws, prints
 * `SEED=<n> reproduces this` with the test name before rethrowing. `simTest`
 * registers that as one uvu test.
 */
import type { Test } from 'uvu';

/** The seeds to run: [SEED] if set, else SIM_SEEDS fresh random ones, else `defaults`. */
export function seeds(defaults: readonly number[], env: NodeJS.ProcessEnv = process.env): number[] {
  const one = env['SEED'];
  if (one !== undefined && one !== '') {
    const seed = Number(one);
    if (!Number.isInteger(seed)) throw new Error(`SEED must be an integer, got ${JSON.stringify(one)}`);
    return [seed];
  }
  const fresh = env['SIM_SEEDS'];
  if (fresh !== undefined && fresh !== '') {
    const k = Number(fresh);
    if (!Number.isInteger(k) || k < 1) throw new Error(`SIM_SEEDS must be a positive integer, got ${JSON.stringify(fresh)}`);
    return Array.from({ length: k }, () => Math.floor(Math.random() * 0x100000000));
  }
  return [...defaults];
}

/** The line printed when `seed` fails test `name`. */
export function reproduceLine(name: string, seed: number): string {
  return `SEED=${seed} reproduces this (test "${name}"): SEED=${seed} node --import tsx test/run.ts sim`;
}

/**
 * Runs `scenario` once per seed, in order; on the first that throws, prints
 * the reproduce line to stderr and rethrows.
 */
export async function forEachSeed(
  name: string,
  seedList: readonly number[],
  scenario: (seed: number) => unknown,
): Promise<void> {
  for (const seed of seedList) {
    try {
      await scenario(seed);
    } catch (err) {
      process.stderr.write(`\n${reproduceLine(name, seed)}\n`);
      throw err;
    }
  }
}

/** Registers uvu test `name` that runs `scenario` for each of `seeds(defaults)`. */
export function simTest(test: Test, name: string, defaults: readonly number[], scenario: (seed: number) => unknown): void {
  test(name, () => forEachSeed(name, seeds(defaults), scenario));
}
