/**
 * An acknowledged write survives kill -9: a real child process
 * (store-writer.ts) writes contacts through commitWrite + commit and prints
 * each id only after its commit resolved; the parent SIGKILLs it after a
 * random number of acks (so mid-transaction, with several commits in
 * flight), restarts it on the same file, a dozen times, then opens the file
 * and checks that every acknowledged id is there and live, that every
 * restart loaded at least every id acknowledged before it, and that no dot
 * was issued twice across the lives (the applied cloud was durable with
 * the states). It waits on the child's stdout lines and exit, never on a
 * clock; a watchdog only turns a hang into a failure. The seed that drew the
 * kill points is printed on failure; STORE_DURABILITY_SEED replays them.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cloudHas } from '../../protocol/contacts/dots.ts';
import type { ContactId } from '../../protocol/contacts/ids.ts';
import { SeededRng } from '../../protocol/rng.ts';
import { view } from '../../protocol/contacts/view.ts';
import { SqliteContactStore } from '../../daemon/store/sqlite-store.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const WRITER = join(root, 'test', 'integration', 'store-writer.ts');
const LIVES = 12;
/** Acks to wait for before a kill, at most (a life may also be killed right at `ready`). */
const ACKS_BEFORE_KILL_MAX = 60;
const WRITERS = 4;
/** Generous: a life normally ends in well under a second; this only turns a hang into a failure. */
const LIFE_WATCHDOG_MS = 60_000;

const dirs: string[] = [];
test.after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

interface Life {
  /** Contacts the child found on loading. */
  loaded: number;
  /** Ids the child acknowledged (complete lines only). */
  acked: string[];
}

/** Runs one life of the writer: waits for `ready`, then for `acksBeforeKill` acks, then SIGKILLs it. */
function live(dir: string, acksBeforeKill: number): Promise<Life> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dir, String(WRITERS)], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const life: Life = { loaded: -1, acked: [] };
    let stderr = '';
    let partial = '';
    let killed = false;
    const watchdog = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`writer hung: ${JSON.stringify(life).slice(0, 200)} ${stderr}`)); }, LIFE_WATCHDOG_MS);
    const kill = () => {
      if (killed) return;
      killed = true;
      child.kill('SIGKILL');
    };
    child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!; // an incomplete line is no acknowledgement
      for (const line of lines) {
        if (killed) return;
        const [word, a] = line.split(' ');
        if (word === 'ready') life.loaded = Number(a);
        else if (word === 'ack') life.acked.push(a!);
        if (life.loaded >= 0 && life.acked.length >= acksBeforeKill) kill();
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(watchdog);
      if (signal === 'SIGKILL' && killed) resolve(life);
      else reject(new Error(`writer exited on its own (code ${code}, signal ${signal}): ${stderr}`));
    });
  });
}

test(`every acknowledged write survives SIGKILL at random moments (${LIVES} lives)`, async () => {
  const seed = Number(process.env.STORE_DURABILITY_SEED ?? Date.now() >>> 0);
  const rng = new SeededRng(seed);
  const dir = mkdtempSync(join(tmpdir(), 'contacts-durability-'));
  dirs.push(dir);
  const acked: string[] = [];
  try {
    for (let k = 0; k < LIVES; k++) {
      // Every third life dies right at `ready`: a kill during start-up must lose nothing either.
      const life = await live(dir, k % 3 === 2 ? 0 : 1 + rng.int(ACKS_BEFORE_KILL_MAX));
      assert.ok(life.loaded >= acked.length, `life ${k} loaded ${life.loaded} contacts, but ${acked.length} were acknowledged before`);
      acked.push(...life.acked);
    }
    const store = await SqliteContactStore.open(dir);
    const memory = await store.load();
    for (const id of acked) {
      const s = memory.get(id as ContactId);
      assert.ok(s && view(s), `acknowledged contact ${id} is missing after the kills`);
    }
    // No dot issued twice: a life never reused a seq the previous one had committed.
    const seen = new Set<string>();
    for (const s of memory.page(undefined, 1_000_000)) {
      for (const e of s.entries) {
        const key = `${e.dot.origin}:${e.dot.seq}`;
        assert.not(seen.has(key), `dot ${key} issued twice`);
        seen.add(key);
        assert.ok(cloudHas(memory.applied(), e.dot), `dot ${key} is in a state but not in the applied cloud`);
      }
    }
    assert.is((await store.counts()).indexed, memory.count(), 'the full-text index is in step');
    await store.close();
    process.stdout.write(`  durability: ${acked.length} acknowledged writes over ${LIVES} SIGKILLed lives, all present (seed ${seed})\n`);
  } catch (err) {
    (err as Error).message += ` (seed ${seed}: STORE_DURABILITY_SEED=${seed} replays the kill points)`;
    throw err;
  }
});

test.run();
