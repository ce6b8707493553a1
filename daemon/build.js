#!/usr/bin/env node
/**
 * `npm run build`: bundles the TypeScript into dist/, the JavaScript that
 * `contactd` and `contacts` run. `npm ci` runs it (the `prepare` script);
 * `npm start`, `npm run node`, the test runner and the bench runner run it
 * with --if-stale first, so none of them can run old code.
 *
 * Usage: node daemon/build.js [--if-stale] [--quiet]
 *   --if-stale  build only when dist/ is missing or older than a source
 *   --quiet     say nothing when there is nothing to do
 *
 * How this works: esbuild bundles each entry point with every package left
 * external (blessed loads its widgets with computed requires, sqlite3 is
 * native, and the rest load as they are from node_modules). Code splitting
 * keeps the dynamic imports lazy: the TUI draws its first frame before it
 * loads the client library, and a CLI command never loads blessed. Source
 * maps (without the sources inside: the stack traces need only the lines)
 * name the .ts file and line in every stack trace.
 *
 * A process may start while a build is writing: every file goes to a
 * temporary name and is renamed into place, chunks before the entry points
 * that import them, the manifest (what `daemon/run-built.js` checks) last; files
 * of an earlier build are removed only after that.
 */
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DIST, MANIFEST, ROOT, sha256Of, staleReason } from './run-built.js';

/** Entry points: dist/<name>.js from the source file. */
const ENTRIES = {
  contactd: 'daemon/main.ts',
  contacts: 'tui/main.ts',
  'local-cluster': 'daemon/local-cluster.ts',
  // The SQLite store's writer thread (daemon/store/sqlite-store.ts starts it from beside itself).
  'store-writer': 'daemon/store/commit-worker.ts',
};
/**
 * Packages loaded from node_modules as they are; the rest are bundled.
 * Bundled: typebox, ~500 small ES modules that cost a process 24 MB of
 * memory and ~100 ms to load one by one (bundled, only what the schemas
 * use is kept). External: native addons (sqlite3, unix-dgram, cbor-x's
 * optional extractor), blessed (it requires its widgets by computed
 * names), pino (its transports run files in worker threads), and the rest
 * (CommonJS, small).
 */
const EXTERNAL = ['blessed', 'cbor-x', 'dgram-as-promised', 'pino', 'prom-client', 'sqlite3', 'unix-dgram'];

/** A file of this script's own: a change to how dist/ is built makes it stale too. */
const SELF = relative(ROOT, fileURLToPath(import.meta.url));

async function build() {
  // Loaded here, not at the top: `--if-stale` on an up-to-date tree never pays for esbuild.
  const esbuild = await import('esbuild');
  const startedMs = Date.now();
  let result;
  try {
    result = await esbuild.build({
      absWorkingDir: ROOT,
      entryPoints: ENTRIES,
      outdir: DIST,
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      external: EXTERNAL,
      sourcemap: 'linked',
      sourcesContent: false,
      metafile: true,
      write: false,
      logLevel: 'warning',
    });
  } catch (err) {
    // esbuild has printed each error with its file and line.
    const count = /** @type {{ errors?: unknown[] }} */ (err).errors?.length ?? 'some';
    throw new Error(`${count} error(s) above; dist/ was not changed`);
  }
  const outputs = result.outputFiles.map((f) => ({ path: f.path, contents: f.contents }));
  // Chunks first, then the entry points that import them.
  const isEntry = (/** @type {string} */ path) => Object.keys(ENTRIES).some((name) => basename(path).startsWith(`${name}.js`));
  outputs.sort((a, b) => Number(isEntry(a.path)) - Number(isEntry(b.path)));
  mkdirSync(DIST, { recursive: true });
  for (const out of outputs) writeAtomically(out.path, out.contents);

  /** @type {Record<string, import('./run-built.js').InputRecord>} */
  const inputs = {};
  // Not the bundled packages' files: installing packages (npm ci, npm install) runs the build itself.
  const sources = Object.keys(result.metafile.inputs).filter((path) => !path.split('/').includes('node_modules'));
  for (const path of [...sources, SELF, 'daemon/run-built.js'].sort()) {
    const st = statSync(join(ROOT, path));
    // A file saved while esbuild ran may not be what it bundled: record no hash, so the next check rebuilds.
    const sha256 = st.mtimeMs < startedMs ? sha256Of(join(ROOT, path)) : 'saved during the build';
    inputs[path] = { size: st.size, mtimeMs: st.mtimeMs, sha256 };
  }
  const entries = Object.fromEntries(Object.entries(ENTRIES).map(([name, source]) => [name, { source }]));
  writeAtomically(MANIFEST, JSON.stringify({ entries, inputs }, null, 1) + '\n');

  const keep = new Set([...outputs.map((o) => basename(o.path)), basename(MANIFEST)]);
  // Not another build's files on their way in (name.tmp-PID): that build renames them next.
  for (const name of readdirSync(DIST)) if (!keep.has(name) && !name.includes('.tmp-')) rmSync(join(DIST, name), { force: true });
  return { files: outputs.length, inputs: Object.keys(inputs).length };
}

/**
 * @param {string} path
 * @param {string | Uint8Array} contents
 */
function writeAtomically(path, contents) {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, contents);
  renameSync(tmp, path);
}

const { values } = parseArgs({ options: { 'if-stale': { type: 'boolean' }, quiet: { type: 'boolean' } } });
const stale = values['if-stale'] ? staleReason() : 'asked to';
if (!stale) {
  if (!values.quiet) process.stdout.write('dist/ is up to date\n');
} else {
  const t0 = performance.now();
  try {
    const { files, inputs } = await build();
    process.stdout.write(`built dist/ (${stale}): ${files} files from ${inputs} sources in ${Math.round(performance.now() - t0)} ms\n`);
  } catch (err) {
    process.stderr.write(`build failed: ${/** @type {Error} */ (err).message}\n`);
    process.exit(1);
  }
}
