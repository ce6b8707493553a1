/**
 * A seed pool worker (seed-pool.ts): loads the scenario module named by its
 * argument, then runs each seed the parent sends and answers with the
 * result or the error, until the parent disconnects.
 */
import type { ChildReply, SeedScenario } from './seed-pool.ts';

const send = (m: ChildReply<unknown> | 'ready') => process.send!(m);
const run = (await import(process.argv[2]!) as { default: SeedScenario<unknown> }).default;

process.on('message', async (seed: number) => {
  try {
    send({ seed, ok: true, result: await run(seed) });
  } catch (err) {
    send({ seed, ok: false, error: err instanceof Error ? err.stack ?? err.message : String(err) });
  }
});
process.on('disconnect', () => process.exit(0));
send('ready');
