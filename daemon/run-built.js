/**
 * The prebuilt JavaScript in dist/: whether it is the build of the sources
 * as they are now, and running one of its entry points.
 *
 * Why prebuilt: run through tsx, every process transpiled the TypeScript
 * at start and carried the loader for its whole life. A contactd took
 * 2.4 s of CPU to start and 147 MB resident; from dist/ (with typebox
 * bundled and prom-client loaded only for --metrics), 0.4 s and 70 MB
 * (`npm run bench -- "contactd writes"` and a 3-member scratch run).
 *
 * How this works: the build (daemon/build.js) writes dist/manifest.json
 * last, with the size, modification time and SHA-256 of every source file
 * that went into the bundles (and of the build script itself). `distProblem`
 * stats each of them; only a file whose size or time differs is read and
 * hashed, so on an unchanged tree the check costs about a hundred stats
 * (well under a millisecond), and a file that was touched but not changed
 * (a git checkout) does not count. A tree without the sources at all (dist/
 * shipped on its own) is taken as built.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root directory. */
export const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
export const DIST = join(ROOT, 'dist');
export const MANIFEST = join(DIST, 'manifest.json');

/**
 * What the build records of each source file.
 * @typedef {{ size: number, mtimeMs: number, sha256: string }} InputRecord
 * @typedef {{ entries: Record<string, { source: string }>, inputs: Record<string, InputRecord> }} Manifest
 */

/**
 * SHA-256 of a file's bytes, hex.
 * @param {string} path
 */
export function sha256Of(path) {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/**
 * Why dist/ cannot run `entry` (a name in the manifest's `entries`; any
 * entry when undefined) as the current sources, in a few words ("no build
 * yet", "tui/cli.ts changed"); undefined when it is their build.
 * @param {string} [entry]
 * @returns {string | undefined}
 */
export function staleReason(entry) {
  /** @type {Partial<Manifest>} */
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(MANIFEST, 'utf8'));
  } catch {
    return 'no build yet';
  }
  if (entry !== undefined && !manifest.entries?.[entry]) return `no entry "${entry}" in it`;
  const inputs = Object.entries(manifest.inputs ?? {});
  if (!inputs.some(([path]) => existsSync(join(ROOT, path)))) return undefined; // shipped without the sources: nothing to compare with
  for (const [path, recorded] of inputs) {
    const changed = changedSince(path, recorded);
    if (changed) return changed;
  }
  return undefined;
}

/**
 * `staleReason` as a sentence that says what to do.
 * @param {string} [entry]
 */
export function distProblem(entry) {
  const reason = staleReason(entry);
  return reason && `dist/, the JavaScript that runs, is not the build of these sources (${reason}); run \`npm run build\` in ${ROOT}`;
}

/**
 * How `path` differs from what the build recorded, or undefined when it is the same file.
 * @param {string} path
 * @param {InputRecord} recorded
 */
function changedSince(path, recorded) {
  let st;
  try {
    st = statSync(join(ROOT, path));
  } catch {
    return `${path} is gone`;
  }
  if (st.size === recorded.size && st.mtimeMs === recorded.mtimeMs) return undefined;
  return sha256Of(join(ROOT, path)) === recorded.sha256 ? undefined : `${path} changed`;
}

/**
 * Runs dist/<entry>.js in this process, with stack traces mapped to the
 * TypeScript lines; a missing or stale build exits 1 with what to do.
 * @param {string} entry a name in the manifest's `entries`
 * @param {string} program the name to put before an error
 */
export async function runBuilt(entry, program) {
  const problem = distProblem(entry);
  if (problem) {
    process.stderr.write(`${program}: ${problem}\n`);
    process.exit(1);
  }
  // Before the import: Node reads a module's source map as it loads it.
  process.setSourceMapsEnabled(true);
  await import(new URL(`../dist/${entry}.js`, import.meta.url).href);
}
