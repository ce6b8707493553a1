/**
 * Operator's look at a contacts store: opens it exactly as contactd does
 * (integrity check, migrations), loads it into memory, and prints one JSON
 * object: what open found, the row counts, how long the check and the load
 * took, and the process's memory once loaded. With --search, also the ids
 * a search finds and how long it took. The bench runs it in a fresh process
 * to measure load time and resident memory without its own heap around.
 *
 * Stop contactd first, or point it at a copy: the store is opened
 * read-write (a newer schema is refused, an older one migrated).
 *
 * Usage: node --import tsx daemon/store/inspect.ts <data-dir | file.sqlite> [--search TEXT] [--check auto|full|quick]
 */
import { statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SqliteContactStore, STORE_FILE } from './sqlite-store.ts';
import type { IntegrityCheck } from './schema.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { search: { type: 'string' }, check: { type: 'string', default: 'auto' } },
});
const target = positionals[0];
const check = values.check as IntegrityCheck;
if (!target || !['auto', 'full', 'quick'].includes(check)) {
  process.stderr.write('usage: inspect.ts <data-dir | file.sqlite> [--search TEXT] [--check auto|full|quick]\n');
  process.exit(2);
}
const path = statSync(target, { throwIfNoEntry: false })?.isDirectory() ? `${target}/${STORE_FILE}` : target;

const t0 = performance.now();
const store = await SqliteContactStore.openFile(path, { integrityCheck: check });
const openMs = performance.now() - t0;
const t1 = performance.now();
const memory = await store.load({ journal: false });
const loadMs = performance.now() - t1;
const mem = process.memoryUsage();
const report: Record<string, unknown> = {
  ...store.opened,
  fileBytes: statSync(path).size,
  counts: await store.counts(),
  held: memory.count(),
  openMs,
  loadMs,
  rssBytes: mem.rss,
  heapUsedBytes: mem.heapUsed,
};
if (values.search !== undefined) {
  const t2 = performance.now();
  report.search = { query: values.search, ids: await store.search(values.search, 20), ms: performance.now() - t2 };
}
await store.close();
process.stdout.write(`${JSON.stringify(report)}\n`);
