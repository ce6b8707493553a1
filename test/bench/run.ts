/**
 * Runs the benchmarks: `npm run bench` runs all, `npm run bench -- WORD` only
 * those whose name contains WORD. Prints every figure as it comes and writes
 * them all to bench-results.json (git-ignored). Brings dist/ up to date
 * first: the benches that spawn contactd and contacts run the prebuilt
 * JavaScript, as users do.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { formatFigure, type Bench, type Figure } from './harness.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '..', '..');
const words = process.argv.slice(2).filter((a) => !a.startsWith('-'));

execFileSync(process.execPath, [join(root, 'daemon', 'build.js'), '--if-stale', '--quiet'], { stdio: 'inherit' });

const benches: Bench[] = [];
for (const file of readdirSync(here).filter((f) => f.endsWith('.bench.ts')).sort()) {
  const mod = (await import(pathToFileURL(join(here, file)).href)) as { default: Bench[] };
  benches.push(...mod.default);
}
const selected = benches.filter((b) => words.length === 0 || words.some((w) => b.name.includes(w)));
if (selected.length === 0) {
  process.stderr.write(`no benchmark matches ${JSON.stringify(words)}; known: ${benches.map((b) => b.name).join(', ')}\n`);
  process.exit(2);
}

const figures: Figure[] = [];
let failed = 0;
for (const bench of selected) {
  process.stdout.write(`\n## ${bench.name}\n`);
  const started = performance.now();
  try {
    await bench.run((f) => {
      figures.push(f);
      process.stdout.write(formatFigure(f) + '\n');
    });
  } catch (err) {
    failed++;
    process.stdout.write(`bench ${bench.name} failed: ${(err as Error).stack ?? String(err)}\n`);
  }
  process.stdout.write(`(${bench.name}: ${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
}
writeFileSync(join(root, 'bench-results.json'), JSON.stringify(figures, null, 2) + '\n');
process.stdout.write(`\n${figures.length} figures written to bench-results.json\n`);
process.exitCode = failed > 0 ? 1 : 0;
