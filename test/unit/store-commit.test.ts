/**
 * The commit path: a batch folds to its net effect; concurrent commits
 * queue, resolve in call order and share transactions (group commit) within
 * groupChangesMax; commit([]) is a barrier; a failed transaction rolls back
 * and rejects its callers and every later commit (fail-stop) while the file
 * keeps the last good state; close waits for queued commits.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { EMPTY_VV } from '../../protocol/contacts/dots.ts';
import type { ContactId } from '../../protocol/contacts/ids.ts';
import type { MemoryStore } from '../../protocol/contacts/memory-store.ts';
import type { StoreChange } from '../../protocol/contacts/store.ts';
import { emptyState } from '../../protocol/contacts/state.ts';
import { nodeId } from '../../protocol/types.ts';
import { StoreClosedError, StoreCommitError } from '../../daemon/store/errors.ts';
import { commitScript, sqlText } from '../../daemon/store/commit-sql.ts';
import { commitWrite } from '../../protocol/contacts/book.ts';
import { opId } from '../../protocol/contacts/ids.ts';
import { foldChanges, toWriterChanges } from '../../daemon/store/net-changes.ts';
import { decodeState, stateJson } from '../../daemon/store/codec.ts';
import { SqliteDb } from '../../daemon/store/sqlite-db.ts';
import { newContactId, writeSample } from '../../daemon/store/sample.ts';
import { POST_CHANGES, SqliteContactStore, type SqliteStoreOptions } from '../../daemon/store/sqlite-store.ts';

const A = nodeId('a'.repeat(16));
const dirs: string[] = [];
test.after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

async function fresh(opts: SqliteStoreOptions = {}): Promise<{ store: SqliteContactStore; m: MemoryStore; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'contacts-commit-'));
  dirs.push(dir);
  const store = await SqliteContactStore.open(dir, opts);
  return { store, m: await store.load(), dir };
}

let nowMs = 1_700_000_000_000;
/** One create at `m`, returned as the journal batch it produced. */
function oneWrite(m: MemoryStore, i: number): { id: ContactId; changes: StoreChange[] } {
  const id = newContactId();
  writeSample(m, A, id, i, (nowMs += 3));
  return { id, changes: m.drainChanges() };
}

test('foldChanges keeps the last put or forget per contact, the last fence, old life and clock, unions dots, maxes floors', () => {
  const x = newContactId();
  const y = newContactId();
  const fence = { version: 7n, frontier: { [A]: 3 } };
  const net = foldChanges([
    [{ kind: 'put', id: x, json: stateJson(emptyState(x)) }, { kind: 'fence', id: x, fence }, { kind: 'applied', dots: { [A]: [1, 2] } }, { kind: 'clock', hlc: { wallMs: 5, logical: 0 } }],
    [{ kind: 'forget', id: x }, { kind: 'put', id: y, json: stateJson(emptyState(y)) }, { kind: 'forget', id: y }, { kind: 'put', id: y, json: stateJson(emptyState(y, { [A]: 1 })) }],
    [{ kind: 'applied', dots: { [A]: [4, 4] } }, { kind: 'clock', hlc: { wallMs: 6, logical: 2 } }, { kind: 'pruneIndex', below: { [A]: 2 } }, { kind: 'pruneIndex', below: EMPTY_VV }],
    [{ kind: 'oldLife', id: x, bound: { [A]: 2 } }, { kind: 'oldLife', id: y, bound: { [A]: 1 } }, { kind: 'oldLife', id: x, bound: { [A]: 3 } }],
  ]);
  assert.equal([...net.puts.keys()], [y]);
  assert.equal(decodeState(y, net.puts.get(y)!).floor, { [A]: 1 });
  assert.equal([...net.forgets], [x]);
  assert.equal([...net.fences], [[x, undefined], [y, undefined]], 'a forget clears the fence (set before it, or held on disk)');
  assert.equal(net.applied, { [A]: [1, 2, 4, 4] });
  assert.equal(net.clock, { wallMs: 6, logical: 2 });
  assert.equal(net.indexFloor, { [A]: 2 });
  assert.equal([...net.oldLives], [[y, { [A]: 1 }], [x, { [A]: 3 }]], 'the last bound per contact, in the order of its last change');
  assert.is(net.count, 15);
});

test('sqlText: any well-formed text without NUL reads back from SQLite unchanged; NUL is refused', async () => {
  const db = await SqliteDb.open(':memory:', 'readwrite-create');
  await db.exec('CREATE TABLE t (v TEXT)');
  // Through exec, as commit scripts run (and not as cached statements: one per literal would fill the cache).
  const back = async (s: string) => {
    await db.exec(`DELETE FROM t; INSERT INTO t VALUES (${sqlText(s)})`);
    return (await db.all<{ v: string }>('SELECT v FROM t'))[0]!.v;
  };
  for (const s of ["O'Brien", "''", "'; DROP TABLE contact; --", '"', '\\', '🦊', 'Zoë', '\u2028', '', "Zoë \\n \\u00e9 \\+01F98A 'q' 🦊\uffff"]) assert.is(await back(s), s);
  assert.is(await back('a\ud800b'), 'a\ufffdb', 'a lone surrogate becomes U+FFFD');
  await fc.assert(fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 60 }).filter((s) => !s.includes('\u0000') && !/\p{Cs}/u.test(s)), async (s) => {
    assert.is(await back(s), s);
  }), { numRuns: 200 });
  assert.throws(() => sqlText('a\u0000b'), /NUL/);
  await db.close();
});

test('a commit script is printable ASCII (unistr escapes for the rest); what it stores reads back as it was', async () => {
  const { store, m, dir } = await fresh();
  const id = newContactId();
  const contact = { id, formattedName: 'Zoë 🦊 O\'Brien', note: 'Straße "quoted" \\ back\nslash 中文', org: { name: 'Ærø', units: [] } };
  const out = commitWrite(m, A, { opId: opId('op-ascii'), patch: { kind: 'create', contact } }, (nowMs += 3));
  assert.is(out.kind, 'applied');
  const changes = m.drainChanges();
  const net = foldChanges([toWriterChanges(changes)]);
  assert.match(commitScript(net, net.applied), /^[\x20-\x7e\n]*$/);
  await store.commit(changes);
  assert.equal(await store.search('zoe', 5), [id]);
  assert.equal(await store.search('straße', 5), [id]);
  assert.equal(await store.search('aero', 5), [id], 'folded spelling of Ærø');
  await store.close();
  const again = await SqliteContactStore.open(dir);
  assert.equal((await again.load()).get(id), m.get(id));
  await again.close();
});

test('concurrent commits resolve in call order and share transactions', async () => {
  const { store, m } = await fresh();
  // Each write is 3 changes (put, applied, clock): these fit one post to the writer.
  const n = Math.floor(POST_CHANGES / 3);
  const writes = Array.from({ length: n }, (_, i) => oneWrite(m, i));
  const order: number[] = [];
  await Promise.all(writes.map((w, i) => store.commit(w.changes).then(() => order.push(i))));
  assert.equal(order, writes.map((_, i) => i));
  const s = store.stats();
  assert.is(s.commits, n);
  assert.is(s.transactions, 1, 'commits made in one synchronous run share one transaction');
  assert.is(s.groupedMax, n);
  assert.is(s.pendingCommits, 0);
  assert.is(s.pendingChanges, 0);
  assert.equal((await store.counts()).live, n);
  await store.close();
});

test('a burst of commits goes to the writer in parts, so it starts while the rest are being made; order and counts hold', async () => {
  const { store, m } = await fresh();
  const writes = Array.from({ length: 200 }, (_, i) => oneWrite(m, i));
  const order: number[] = [];
  await Promise.all(writes.map((w, i) => store.commit(w.changes).then(() => order.push(i))));
  assert.equal(order, writes.map((_, i) => i));
  const s = store.stats();
  assert.is(s.commits, 200);
  assert.ok(s.transactions >= 2 && s.transactions <= Math.ceil((200 * 3) / POST_CHANGES), `${s.transactions} transactions`);
  assert.equal((await store.counts()).live, 200);
  await store.close();
});

test('groupChangesMax bounds a shared transaction, but never splits one caller\'s batch', async () => {
  const { store, m } = await fresh({ groupChangesMax: 6 });
  const writes = Array.from({ length: 10 }, (_, i) => oneWrite(m, i)); // 3 changes each
  const big = Array.from({ length: 4 }, (_, i) => oneWrite(m, 100 + i)).flatMap((w) => w.changes); // 12 changes
  await Promise.all([...writes.map((w) => store.commit(w.changes)), store.commit(big)]);
  const s = store.stats();
  assert.is(s.groupedMax, 2, 'two 3-change batches per transaction at most');
  assert.ok(s.transactions >= 6, `${s.transactions} transactions`);
  assert.equal((await store.counts()).live, 14);
  await store.close();
});

test('commit([]) is a barrier: it resolves only after every earlier commit', async () => {
  const { store, m } = await fresh();
  const done: string[] = [];
  const first = store.commit(oneWrite(m, 1).changes).then(() => done.push('write'));
  const barrier = store.commit([]).then(() => done.push('barrier'));
  await Promise.all([first, barrier]);
  assert.equal(done, ['write', 'barrier']);
  await store.commit([]);
  await store.close();
});

test('a failed commit rolls back, rejects its group and every later commit; the file keeps the last good state', async () => {
  const { store, m, dir } = await fresh();
  const good = oneWrite(m, 1);
  await store.commit(good.changes);
  const appliedThen = m.applied();
  const sameGroup = oneWrite(m, 2);
  // A fence for a contact the store does not hold breaks the foreign key: the transaction fails.
  const bad: StoreChange[] = [...oneWrite(m, 3).changes, { kind: 'fence', id: newContactId(), fence: { version: 1n, frontier: EMPTY_VV } }];
  const results = await Promise.allSettled([store.commit(bad), store.commit(sameGroup.changes)]);
  for (const r of results) {
    assert.is(r.status, 'rejected');
    const err = (r as PromiseRejectedResult).reason as Error;
    assert.instance(err, StoreCommitError);
    assert.match(err.message, /FOREIGN KEY constraint failed.*were not acknowledged; restart contactd/);
  }
  const later = await store.commit(oneWrite(m, 4).changes).then(() => undefined, (e: Error) => e);
  assert.instance(later, StoreCommitError, 'fail-stop: nothing commits after a failure');
  await store.close();
  const reopened = await SqliteContactStore.open(dir);
  const loaded = await reopened.load();
  assert.equal(loaded.page(undefined, 100).map((s) => s.id), [good.id]);
  assert.equal(loaded.applied(), appliedThen, 'the failed batches\' dots are not on disk either');
  await reopened.close();
});

test('close waits for queued commits; using the store after close is refused', async () => {
  const { store, m } = await fresh();
  const pending = Array.from({ length: 8 }, (_, i) => store.commit(oneWrite(m, i).changes));
  await store.close();
  assert.equal((await Promise.allSettled(pending)).map((r) => r.status), Array(8).fill('fulfilled'));
  const err = await store.commit([]).then(() => undefined, (e: Error) => e);
  assert.instance(err, StoreClosedError);
  try {
    await store.search('x', 1);
    assert.unreachable('search after close');
  } catch (e) {
    assert.instance(e, StoreClosedError);
  }
});

test('the writer itself refuses the batches queued behind a failed one: nothing after a lost batch reaches the file', async () => {
  // groupChangesMax 1: the bad batch and the two after it reach the writer together but go in transactions of their own.
  const { store, m, dir } = await fresh({ groupChangesMax: 1 });
  const good = oneWrite(m, 1);
  await store.commit(good.changes);
  const bad: StoreChange[] = [{ kind: 'fence', id: newContactId(), fence: { version: 1n, frontier: EMPTY_VV } }];
  const results = await Promise.allSettled([store.commit(bad), store.commit(oneWrite(m, 2).changes), store.commit(oneWrite(m, 3).changes)]);
  assert.equal(results.map((r) => r.status), ['rejected', 'rejected', 'rejected']);
  await store.close();
  const reopened = await SqliteContactStore.open(dir);
  assert.equal((await reopened.load()).page(undefined, 100).map((s) => s.id), [good.id]);
  await reopened.close();
});

test('a settings read asked just before close is answered, not left waiting', async () => {
  const { store } = await fresh();
  const asked = store.settings();
  await store.close();
  assert.equal(await asked, { journalMode: 'wal', synchronous: 'FULL', foreignKeys: true });
});

test('a writer thread that dies fails the commits waiting on it and every later one (fail-stop)', async () => {
  const { store, m } = await fresh();
  await store.commit(oneWrite(m, 1).changes);
  const waiting = store.commit(oneWrite(m, 2).changes).then(() => undefined, (e: Error) => e);
  await (store as unknown as { writer: Worker }).writer.terminate();
  const err = await waiting;
  assert.instance(err, StoreCommitError);
  assert.match(err!.message, /writer thread stopped.*not acknowledged; restart contactd/);
  assert.instance(await store.commit([]).then(() => undefined, (e: Error) => e), StoreCommitError);
  await store.close();
});

test('an open store that is idle does not keep its process alive; one with a commit pending does until it lands', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'contacts-commit-'));
  dirs.push(dir);
  const store = new URL('../../daemon/store/sqlite-store.ts', import.meta.url).href;
  const sample = new URL('../../daemon/store/sample.ts', import.meta.url).href;
  // Never closed: the process must still end once the last commit landed.
  const script = `import { SqliteContactStore } from ${JSON.stringify(store)}; import { writeSample, newContactId } from ${JSON.stringify(sample)};
    const s = await SqliteContactStore.open(${JSON.stringify(dir)}); const m = await s.load();
    writeSample(m, 'aaaaaaaaaaaaaaaa', newContactId(), 1, 1700000000000);
    s.commit(m.drainChanges()).then(() => console.log('committed'));`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const watchdog = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const [code, signal] = await once(child, 'exit');
  clearTimeout(watchdog);
  assert.equal([code, signal], [0, null], 'the process ended by itself');
  assert.is(out.trim(), 'committed');
  const again = await SqliteContactStore.open(dir);
  assert.is((await again.counts()).live, 1);
  await again.close();
});

test.run();
