/**
 * Loads the given test files into one uvu run, the way uvu's own CLI does
 * (UVU_DEFER queues each file's suites), then executes them all.
 */
import { pathToFileURL } from 'node:url';
import { relative } from 'node:path';
const g = globalThis as unknown as { UVU_DEFER: number; UVU_QUEUE: unknown[][]; UVU_INDEX: number };
// uvu decides at load time whether a CLI is driving it, so defer first, then load it.
g.UVU_DEFER = 1;
const { exec } = await import('uvu');
const files = process.argv.slice(2);
for (let i = 0; i < files.length; i++) {
  const file = files[i]!;
  g.UVU_QUEUE.push([relative(process.cwd(), file)]);
  g.UVU_INDEX = i;
  await import(pathToFileURL(file).href);
}
await exec(false);
