import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StateDir, StateError, asPersistedMembership, writeFileAtomic } from '../../daemon/state.ts';
import { DataDirLockedError, LOCK_FILE } from '../../daemon/lock.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'contactd-state-'));
  dirs.push(d);
  return d;
}
test.after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

test('writeFileAtomic: exact content, private mode, replaces, leaves no temp file', () => {
  const d = tempDir();
  const p = join(d, 'v.json');
  writeFileAtomic(p, 'one');
  writeFileAtomic(p, new TextEncoder().encode('two'));
  assert.is(readFileSync(p, 'utf8'), 'two');
  assert.is(statSync(p).mode & 0o777, 0o600);
  assert.equal(readdirSync(d), ['v.json']);
  assert.throws(() => writeFileAtomic(join(d, 'missing', 'v.json'), 'x'), /ENOENT/);
});

test('writeFileAtomic survives kill -9 mid-write: the file is always the old or the new value, whole', async () => {
  const d = tempDir();
  const p = join(d, 'v.json');
  const big = (c: string) => JSON.stringify({ fill: c.repeat(1 << 20) });
  writeFileAtomic(p, big('a'));
  const writer = `
    import { writeFileAtomic } from ${JSON.stringify(join(root, 'daemon/state.ts'))};
    const big = ${big.toString()};
    process.stdout.write('go\\n');
    for (let i = 0; ; i++) writeFileAtomic(${JSON.stringify(p)}, big(i % 2 ? 'a' : 'b'));`;
  for (let round = 0; round < 6; round++) {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', writer], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    await new Promise((r) => setTimeout(r, 30 + 25 * round)); // a moment of writes, different each round
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const text = readFileSync(p, 'utf8');
    assert.ok(text === big('a') || text === big('b'), `round ${round}: torn file of ${text.length} bytes`);
  }
});

test('node id: 16 hex digits, made once and kept across opens', () => {
  const d = tempDir();
  const s1 = StateDir.open(d);
  const id = s1.nodeId();
  assert.match(id, /^[0-9a-f]{16}$/);
  assert.is(s1.nodeId(), id);
  s1.close();
  const s2 = StateDir.open(d);
  assert.is(s2.nodeId(), id);
  s2.close();
  writeFileSync(join(d, 'node-id'), 'not-an-id\n');
  const s3 = StateDir.open(d);
  assert.throws(() => s3.nodeId(), (e: Error) => e instanceof StateError && /not a node id/.test(e.message) && /delete it/.test(e.message));
  s3.close();
});

test('boot epoch: raised at every start, never below the clock; exhausted, the advice is a new node id (review 9)', () => {
  const d = tempDir();
  const s = StateDir.open(d);
  const first = s.raiseBootEpoch(1_700_000_000_000);
  assert.is(first, 1_700_000_000);
  assert.is(s.raiseBootEpoch(1_700_000_000_000), first + 1);
  s.save('boot-epoch', 0xffff_ffff);
  assert.throws(() => s.raiseBootEpoch(1_700_000_000_000), (e: Error) => e instanceof StateError && /exhausted/.test(e.message) && /new member/.test(e.message) && /node-id/.test(e.message));
  s.close();
});

test('save/load round-trips values; missing is undefined; corrupt JSON is a StateError', () => {
  const d = tempDir();
  const s = StateDir.open(d);
  try {
    assert.is(s.load('membership'), undefined);
    const value = { incarnation: 3, members: [{ id: '0123456789abcdef', name: 'a', addr: '127.0.0.1:7700' }] };
    s.save('membership', value);
    assert.equal(s.load('membership'), value);
    assert.equal(asPersistedMembership(s.load('membership')), value);
    writeFileSync(join(d, 'membership.json'), '{"value": {');
    assert.throws(() => s.load('membership'), (e: Error) => e instanceof StateError && e.message.includes('membership.json'));
    assert.throws(() => s.save('../escape', 1), (e: Error) => e instanceof StateError);
  } finally {
    s.close();
  }
});

test('asPersistedMembership rejects what a previous life could not have written', () => {
  const ok = { id: '0123456789abcdef', name: 'a', addr: '127.0.0.1:7700' };
  const table: [unknown, string][] = [
    [null, 'not an object'],
    [{ incarnation: -1, members: [] }, 'bad incarnation'],
    [{ incarnation: 1.5, members: [] }, 'bad incarnation'],
    [{ incarnation: 1 }, 'no member list'],
    [{ incarnation: 1, members: [{ ...ok, id: 'xyz' }] }, 'bad member entry'],
    [{ incarnation: 1, members: [{ ...ok, addr: 'nowhere' }] }, 'bad member entry'],
    [{ incarnation: 1, members: [null] }, 'bad member entry'],
    [{ incarnation: 1, members: [], seeds: ['nowhere'] }, 'bad seed list'],
    [{ incarnation: 1, members: [], seeds: '127.0.0.1:7700' }, 'bad seed list'],
  ];
  for (const [v, why] of table) assert.is(asPersistedMembership(v), why, JSON.stringify(v));
  const seeds = { incarnation: 0, members: [ok], seeds: ['127.0.0.1:7701'] };
  assert.equal(asPersistedMembership(seeds), seeds, 'a join still unanswered keeps its seeds');
});

test('lock: a second daemon on the same directory is refused with a clear message; released on close', () => {
  const d = tempDir();
  const s = StateDir.open(d);
  assert.throws(() => StateDir.open(d), (e: Error) =>
    e instanceof DataDirLockedError && e.message.includes(`pid ${process.pid}`) && e.message.includes('--data'));
  s.close();
  assert.not.ok(existsSync(join(d, LOCK_FILE)));
  StateDir.open(d).close();
});

test('lock: a stale lock (owner dead, pid reused, or garbage) is taken over', () => {
  const d = tempDir();
  const dead = spawnSync(process.execPath, ['-e', '']).pid!;
  const stale = [
    JSON.stringify({ pid: dead }),
    JSON.stringify({ pid: process.pid, startTime: '1' }), // our pid, but not our process start: reused
    JSON.stringify({ pid: process.pid, bootId: 'another-boot' }),
    'garbage',
  ];
  for (const content of stale) {
    writeFileSync(join(d, LOCK_FILE), content);
    const s = StateDir.open(d);
    assert.is(JSON.parse(readFileSync(join(d, LOCK_FILE), 'utf8')).pid, process.pid, content);
    s.close();
  }
});

test.run();
