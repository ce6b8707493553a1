/**
 * The check that keeps the executables from running an old build
 * (daemon/run-built.js): on a copy of it in a scratch tree with its own sources
 * and manifest, so the real dist/ is never touched.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

type DistModule = typeof import('../../daemon/run-built.js');

const root = fileURLToPath(new URL('../..', import.meta.url));
const dirs: string[] = [];
test.after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

/** A scratch tree: daemon/run-built.js, one source `a.ts`, and (unless told not to) a manifest that matches it. */
async function scratch(opts: { manifest?: boolean } = {}): Promise<{ dir: string; dist: DistModule }> {
  const dir = mkdtempSync(join(tmpdir(), 'dist-check-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'daemon'));
  mkdirSync(join(dir, 'dist'));
  copyFileSync(join(root, 'daemon', 'run-built.js'), join(dir, 'daemon', 'run-built.js'));
  writeFileSync(join(dir, 'a.ts'), 'export const a = 1;\n');
  writeFileSync(join(dir, 'dist', 'main.js'), 'process.stdout.write("ran the build\\n");\n');
  const dist = (await import(pathToFileURL(join(dir, 'daemon', 'run-built.js')).href)) as DistModule;
  if (opts.manifest !== false) {
    const st = statSync(join(dir, 'a.ts'));
    const manifest = { entries: { main: { source: 'a.ts' } }, inputs: { 'a.ts': { size: st.size, mtimeMs: st.mtimeMs, sha256: dist.sha256Of(join(dir, 'a.ts')) } } };
    writeFileSync(join(dir, 'dist', 'manifest.json'), JSON.stringify(manifest));
  }
  return { dir, dist };
}

test('a build of the sources as they are is current; an unknown entry is not', async () => {
  const { dist } = await scratch();
  assert.is(dist.staleReason('main'), undefined);
  assert.is(dist.staleReason(), undefined);
  assert.is(dist.staleReason('other'), 'no entry "other" in it');
});

test('no build at all: says to run npm run build', async () => {
  const { dist } = await scratch({ manifest: false });
  assert.is(dist.staleReason('main'), 'no build yet');
  assert.match(dist.distProblem('main') ?? '', /no build yet\); run `npm run build` in /);
});

test('a source touched but not changed (a git checkout) is current; a changed or removed one is not', async () => {
  const { dir, dist } = await scratch();
  const later = new Date(Date.now() + 60_000);
  utimesSync(join(dir, 'a.ts'), later, later);
  assert.is(dist.staleReason('main'), undefined);
  writeFileSync(join(dir, 'a.ts'), 'export const a = 2;\n');
  assert.is(dist.staleReason('main'), 'a.ts changed');
  rmSync(join(dir, 'a.ts'));
  // The only source is gone: that is dist/ shipped on its own, taken as built.
  assert.is(dist.staleReason('main'), undefined);
  writeFileSync(join(dir, 'b.ts'), '');
  const manifestWithTwo = { entries: { main: { source: 'a.ts' } }, inputs: { 'a.ts': { size: 1, mtimeMs: 1, sha256: 'x' }, 'b.ts': { size: 0, mtimeMs: statSync(join(dir, 'b.ts')).mtimeMs, sha256: dist.sha256Of(join(dir, 'b.ts')) } } };
  writeFileSync(join(dir, 'dist', 'manifest.json'), JSON.stringify(manifestWithTwo));
  assert.is(dist.staleReason('main'), 'a.ts is gone');
});

test('runBuilt runs a current build and refuses a stale one with exit 1 and what to do', async () => {
  const { dir } = await scratch();
  const runner = `import { runBuilt } from ${JSON.stringify(pathToFileURL(join(dir, 'daemon', 'run-built.js')).href)}; await runBuilt('main', 'prog');`;
  const run = () => spawnSync(process.execPath, ['--input-type=module', '-e', runner], { encoding: 'utf8' });
  const ok = run();
  assert.is(ok.status, 0, ok.stderr);
  assert.is(ok.stdout, 'ran the build\n');
  writeFileSync(join(dir, 'a.ts'), 'export const a = 3;\n');
  const stale = run();
  assert.is(stale.status, 1);
  assert.is(stale.stdout, '');
  assert.match(stale.stderr, /^prog: dist\/, the JavaScript that runs, is not the build of these sources \(a\.ts changed\); run `npm run build` in /);
});

test.run();
