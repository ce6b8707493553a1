/**
 * The `contacts` process: runs the CLI (cli.ts) on the real argv, stdout,
 * stderr and environment, and exits with its code. `contacts list | head`
 * closing the pipe early is not an error.
 */
import { run } from './cli.ts';

process.stdout.on('error', (err: NodeJS.ErrnoException) => process.exit(err.code === 'EPIPE' ? 0 : 1));
const code = await run(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
});
// Let stdout drain before exiting (a large --json list is written asynchronously to a pipe).
process.exitCode = code;
