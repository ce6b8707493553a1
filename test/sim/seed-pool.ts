/**
 * Runs a seeded scenario over many seeds on several processes, so a
 * hundred seeds use every core CI has, and still says which seed failed
 * and how to replay it.
 *
 * How this works: the scenario is a module whose default export maps a
 * seed to a JSON-safe result (seed-pool-child.ts loads it). With more than
 * one seed and more than one worker, `runSeedPool` forks that many children
 * (same Node flags, so tsx too), hands each one seed at a time (a queue:
 * a slow seed does not hold up the others) and collects the results in seed
 * order. A scenario that throws, or a child that dies, fails its seed: the
 * pool prints `SEED=<n> reproduces this` for every failed seed (as
 * forEachSeed does) and then throws. With one seed (SEED=n) or one worker
 * it runs in this process, so a replay gives a plain stack trace.
 * Workers: SIM_WORKERS, else min(2, the machine's parallelism).
 */
import { fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { reproduceLine } from './seeds.ts';

/** A scenario module's default export: one seed in, a JSON-safe result out. */
export type SeedScenario<R> = (seed: number) => R | Promise<R>;

/** What a child says about one seed. */
export type ChildReply<R> = { seed: number; ok: true; result: R } | { seed: number; ok: false; error: string };

/** How many processes run seeds: SIM_WORKERS, else up to two (what CI has). */
export function seedWorkers(env: NodeJS.ProcessEnv = process.env): number {
  const set = env['SIM_WORKERS'];
  if (set !== undefined && set !== '') {
    const n = Number(set);
    if (!Number.isInteger(n) || n < 1) throw new Error(`SIM_WORKERS must be a positive integer, got ${JSON.stringify(set)}`);
    return n;
  }
  return Math.min(2, availableParallelism());
}

/** Thrown when seeds failed; every failed seed's reproduce line has been printed. */
export class SeedPoolError extends Error {
  override name = 'SeedPoolError';
  constructor(readonly failures: ReadonlyMap<number, string>) {
    super(`${failures.size} seed(s) failed: ${[...failures].map(([seed, error]) => `seed ${seed}: ${error}`).join('\n')}`);
  }
}

/**
 * Runs `scenario` (a module URL whose default export is a SeedScenario) for
 * every seed of `seedList`; returns the results by seed, in seed order.
 * Throws SeedPoolError (after printing reproduce lines) if any seed failed.
 */
export async function runSeedPool<R>(name: string, seedList: readonly number[], scenario: URL, workers = seedWorkers()): Promise<Map<number, R>> {
  const replies = seedList.length <= 1 || workers <= 1 ? await runHere<R>(seedList, scenario) : await runForked<R>(seedList, scenario, workers);
  const results = new Map<number, R>();
  const failures = new Map<number, string>();
  for (const seed of seedList) {
    const reply = replies.get(seed);
    if (reply?.ok) results.set(seed, reply.result);
    else failures.set(seed, reply ? reply.error : 'no result (its worker died)');
  }
  if (failures.size > 0) {
    for (const seed of failures.keys()) process.stderr.write(`\n${reproduceLine(name, seed)}\n`);
    throw new SeedPoolError(failures);
  }
  return results;
}

async function runHere<R>(seedList: readonly number[], scenario: URL): Promise<Map<number, ChildReply<R>>> {
  const run = (await import(scenario.href) as { default: SeedScenario<R> }).default;
  const replies = new Map<number, ChildReply<R>>();
  for (const seed of seedList) {
    try {
      replies.set(seed, { seed, ok: true, result: await run(seed) });
    } catch (err) {
      // In this process the stack is worth more than a line: rethrow with the seed printed.
      process.stderr.write(`\nseed ${seed} threw\n`);
      throw err;
    }
  }
  return replies;
}

function runForked<R>(seedList: readonly number[], scenario: URL, workers: number): Promise<Map<number, ChildReply<R>>> {
  const queue = [...seedList];
  const replies = new Map<number, ChildReply<R>>();
  const child = fileURLToPath(new URL('./seed-pool-child.ts', import.meta.url));
  const one = () =>
    new Promise<void>((resolve) => {
      const proc = fork(child, [scenario.href], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      let current: number | undefined;
      const next = () => {
        current = queue.shift();
        if (current === undefined) proc.disconnect();
        else proc.send(current);
      };
      proc.on('message', (m: ChildReply<R> | 'ready') => {
        if (m !== 'ready') replies.set(m.seed, m);
        next();
      });
      // A child that dies fails the seed it had; its other seeds go to the next child.
      proc.on('exit', (code, signal) => {
        if (current !== undefined && !replies.has(current)) replies.set(current, { seed: current, ok: false, error: `worker exited (${signal ?? code}) while running it` });
        resolve();
      });
    });
  return Promise.all(Array.from({ length: Math.min(workers, seedList.length) }, one)).then(async () => {
    // Seeds left when every child died: run them here, so each still gets a verdict.
    if (queue.length > 0) for (const [seed, reply] of await runHere<R>(queue.splice(0), scenario)) replies.set(seed, reply);
    return replies;
  });
}
