/**
 * Runs every test suite (test/<suite>/**.test.ts) with uvu, one child process
 * per suite so that a crash or a leaked handle in one cannot hide another's
 * results, and ends with the one line CI reads: `N passed, N failed`.
 *
 * Usage: node --import tsx test/run.ts [suite-or-path-substring ...]
 *
 * It first brings dist/ up to date (`daemon/build.js --if-stale`): the
 * integration and tmux tests spawn `daemon/bin.js` and `tui/bin.js`, which
 * run the prebuilt JavaScript, and must not test an older build.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const SUITES = ['unit', 'sim', 'integration', 'tui'];

function findTests(dir: string): string[] {
  let out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out = out.concat(findTests(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

interface SuiteResult { suite: string; passed: number; failed: number; skipped: number; code: number | null }

function runSuite(suite: string, files: string[]): Promise<SuiteResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'test', 'uvu-suite.ts'), ...files], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      text += chunk.toString('utf8');
    });
    child.on('close', (code) => {
      // uvu's summary: "Total:  N", "Passed:  N", "Skipped:  N" (with ANSI colours).
      const plain = text.replace(/\x1b\[[0-9;]*m/g, '');
      const num = (label: string) => {
        const all = [...plain.matchAll(new RegExp(`${label}:\\s+(\\d+)`, 'g'))];
        const last = all[all.length - 1];
        return last ? Number(last[1]) : 0;
      };
      const total = num('Total');
      const passed = num('Passed');
      const skipped = num('Skipped');
      let failed = total - passed - skipped;
      // A suite that died before printing its summary counts as one failure.
      if (code !== 0 && failed === 0) failed = 1;
      resolve({ suite, passed, failed, skipped, code });
    });
  });
}

try {
  execFileSync(process.execPath, [join(root, 'daemon', 'build.js'), '--if-stale', '--quiet'], { stdio: 'inherit' });
} catch {
  // The build printed why.
  process.stdout.write('the build of dist/ failed: no suite ran\n0 passed, 1 failed\n');
  process.exit(1);
}

const filters = process.argv.slice(2);
const results: SuiteResult[] = [];
for (const suite of SUITES) {
  const dir = join(root, 'test', suite);
  let files: string[];
  try { files = findTests(dir); } catch { continue; }
  if (filters.length > 0) {
    files = files.filter((f) => filters.some((w) => suite === w || relative(root, f).includes(w)));
  }
  if (files.length === 0) continue;
  process.stdout.write(`\n=== suite ${suite}: ${files.length} file(s)\n`);
  results.push(await runSuite(suite, files));
}

let passed = 0;
let failed = 0;
let skipped = 0;
for (const r of results) {
  passed += r.passed;
  failed += r.failed;
  skipped += r.skipped;
  process.stdout.write(`suite ${r.suite}: ${r.passed} passed, ${r.failed} failed${r.skipped ? `, ${r.skipped} skipped` : ''}\n`);
}
process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exitCode = failed > 0 || results.length === 0 ? 1 : 0;
