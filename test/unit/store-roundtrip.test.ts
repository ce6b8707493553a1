/**
 * The SQLite store gives back what it was given: a node's MemoryStore, with
 * writes, deletes, a peer's states, conflicts, fences, forgotten tombstones
 * and a pruned index, is committed journal batch by journal batch, the file
 * is reopened and loaded, and every state, the applied cloud, the clock, the
 * fences, the tombstones, the old lives of forgotten contacts and the
 * catch-up index are compared. Also: seeding
 * with MemoryStore.bulkLoad equals putting states one by one, and rows
 * damaged on disk stop the load with a message naming them.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectTombstones, commitWrite, receiveState } from '../../protocol/contacts/book.ts';
import { cloudMax, cloudTop, EMPTY_VV } from '../../protocol/contacts/dots.ts';
import { entryUid, opId, type ContactId } from '../../protocol/contacts/ids.ts';
import { MemoryStore } from '../../protocol/contacts/memory-store.ts';
import type { Patch } from '../../protocol/contacts/patch.ts';
import { FORGOTTEN_KEPT, type StoreChange } from '../../protocol/contacts/store.ts';
import { nodeId } from '../../protocol/types.ts';
import { decodeState, encodeState, stateJson, storedJson, StoreDecodeError } from '../../daemon/store/codec.ts';
import { toAsciiJson } from '../../protocol/client/json.ts';
import fc from 'fast-check';
import { newContactId, writeSample } from '../../daemon/store/sample.ts';
import { SqliteDb } from '../../daemon/store/sqlite-db.ts';
import { SqliteContactStore, STORE_FILE } from '../../daemon/store/sqlite-store.ts';

const A = nodeId('a'.repeat(16));
const B = nodeId('b'.repeat(16));
const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'contacts-store-'));
  dirs.push(d);
  return d;
}
test.after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

let clockMs = 1_700_000_000_000;
let ops = 0;
function write(store: MemoryStore, node: typeof A, patch: Patch) {
  const out = commitWrite(store, node, { opId: opId(`op${ops++}`), patch }, (clockMs += 7));
  if (out.kind !== 'applied') throw new Error(`write refused: ${JSON.stringify(out)}`);
  return out;
}

/** Node A's store after a varied history, and the journal batches it produced along the way. */
function history(): { a: MemoryStore; batches: StoreChange[][]; ids: ContactId[] } {
  const a = new MemoryStore({ journal: true });
  const b = new MemoryStore();
  const batches: StoreChange[][] = [];
  const ids = Array.from({ length: 24 }, () => newContactId());
  ids.forEach((id, i) => {
    writeSample(a, A, id, i, (clockMs += 3));
    if (i % 5 === 0) batches.push(a.drainChanges());
  });
  write(a, A, { kind: 'update', id: ids[1]!, ops: [{ op: 'set', field: 'note', value: 'Quote " apostrophe O\'Brien\'s backslash \\ emoji 🦊 and Zoë' }] });
  write(a, A, { kind: 'update', id: ids[2]!, ops: [{ op: 'remove', field: 'emails', uid: entryUid('e2') }, { op: 'set', field: 'title', value: null }] });
  // A peer's contact, and a conflict: both nodes rename ids[3] concurrently.
  const theirs = newContactId();
  receiveState(a, writeSample(b, B, theirs, 99, (clockMs += 3)).delta, EMPTY_VV);
  receiveState(b, a.get(ids[3]!)!, EMPTY_VV);
  const rename = (value: string): Patch => ({ kind: 'update', id: ids[3]!, ops: [{ op: 'set', field: 'formattedName', value }] });
  const fromB = commitWrite(b, B, { opId: opId('rb'), patch: rename('Renamed at B') }, (clockMs += 3));
  write(a, A, rename('Renamed at A'));
  if (fromB.kind === 'applied') receiveState(a, fromB.delta, EMPTY_VV);
  batches.push(a.drainChanges());
  // Tombstones: ids[4] deleted, fenced, then forgotten; ids[5] deleted later and only fenced.
  write(a, A, { kind: 'delete', id: ids[4]! });
  const at = () => ({ stable: cloudTop(a.applied()), frontier: cloudMax(a.applied()) });
  collectTombstones(a, at());
  write(a, A, { kind: 'delete', id: ids[5]! });
  batches.push(a.drainChanges());
  collectTombstones(a, at());
  a.pruneIndex({ [A]: 40 });
  write(a, A, { kind: 'update', id: ids[6]!, ops: [{ op: 'set', field: 'note', value: 'after the prune' }] });
  batches.push(a.drainChanges());
  return { a, batches, ids };
}

function allStates(s: MemoryStore) {
  return s.page(undefined, 1_000_000);
}

test('round trip: every state, the applied cloud, clock, fences, tombstones and catch-up index survive a reopen', async () => {
  const { a, batches, ids } = history();
  assert.ok(a.get(ids[4]!) === undefined, 'the first tombstone was forgotten');
  assert.ok(a.fence(ids[5]!) !== undefined, 'the second tombstone holds a fence');
  const dir = tempDir();
  const store = await SqliteContactStore.open(dir);
  // Every batch committed at once: they queue, group, and apply in order.
  await Promise.all(batches.map((b) => store.commit(b)));
  assert.ok(store.stats().transactions < batches.length, 'queued batches were grouped');
  await store.close();

  const reopened = await SqliteContactStore.open(dir);
  const b = await reopened.load();
  assert.equal(allStates(b), allStates(a));
  assert.equal(b.applied(), a.applied());
  assert.equal(b.clock(), a.clock());
  assert.equal(b.tombstones(), a.tombstones());
  for (const id of ids) assert.equal(b.fence(id), a.fence(id), `fence of ${id}`);
  assert.ok(a.forgottenFloor(ids[4]!) !== undefined, 'the forgotten tombstone left its old life\'s bound');
  for (const id of ids) assert.equal(b.forgottenFloor(id), a.forgottenFloor(id), `old life of ${id}`);
  assert.equal(b.indexFloor(), a.indexFloor());
  for (const origin of [A, B]) assert.equal(b.touchedAfter(origin, 0, 1000), a.touchedAfter(origin, 0, 1000));
  assert.equal(b.drainChanges(), [], 'the seeding journal was discarded');
  assert.equal(await reopened.counts(), { contacts: a.count(), live: a.count() - a.tombstones().length, fences: 1, indexed: a.count() - a.tombstones().length, oldLives: 1 });
  await reopened.close();
});

test('round trip: writes after a reload continue the node\'s dots and clock, and survive another reopen', async () => {
  const dir = tempDir();
  const store = await SqliteContactStore.open(dir);
  const a = await store.load();
  const first = writeSample(a, A, newContactId(), 1, (clockMs += 5));
  await store.commit(a.drainChanges());
  await store.close();
  const again = await SqliteContactStore.open(dir);
  const b = await again.load();
  const second = writeSample(b, A, newContactId(), 2, (clockMs += 5));
  assert.is(second.dots.first, first.dots.last + 1, 'seqs go on where the last life stopped');
  assert.ok(second.clock.wallMs >= first.clock.wallMs);
  await again.commit(b.drainChanges());
  await again.close();
  const third = await SqliteContactStore.open(dir);
  assert.equal(allStates(await third.load()), allStates(b));
  await third.close();
});

test('a contact created again after a reopen starts above its old life: its delta carries the remembered floor', async () => {
  const dir = tempDir();
  const store = await SqliteContactStore.open(dir);
  const a = await store.load();
  const id = newContactId();
  writeSample(a, A, id, 1, (clockMs += 5));
  a.forget(id);
  const bound = a.forgottenFloor(id)!;
  await store.commit(a.drainChanges());
  await store.close();
  const again = await SqliteContactStore.open(dir);
  const b = await again.load();
  assert.equal(b.forgottenFloor(id), bound);
  const created = writeSample(b, A, id, 2, (clockMs += 5));
  assert.equal(created.delta.floor, bound, 'members still holding the tombstone drop the old fields');
  await again.close();
});

test('old lives: the newest FORGOTTEN_KEPT survive a reopen, a bound changed again counts as new', async () => {
  const dir = tempDir();
  const store = await SqliteContactStore.open(dir);
  const a = await store.load();
  const ids = Array.from({ length: FORGOTTEN_KEPT + 103 }, () => newContactId());
  const bound = (i: number) => ({ [A]: i + 1 });
  // Two transactions, the second alone over the limit: rows of earlier commits are trimmed too.
  ids.slice(0, 100).forEach((id, i) => a.rememberOldLife(id, bound(i)));
  await store.commit(a.drainChanges());
  ids.slice(100).forEach((id, i) => a.rememberOldLife(id, bound(i + 100)));
  await store.commit(a.drainChanges());
  await store.close();

  const again = await SqliteContactStore.open(dir);
  const b = await again.load();
  for (const [i, id] of ids.entries()) assert.equal(b.forgottenFloor(id), a.forgottenFloor(id), `old life ${i}`);
  assert.is(b.forgottenFloor(ids[102]!), undefined, 'the oldest 103 went');
  assert.equal(b.forgottenFloor(ids[103]!), bound(103));
  // ids[103], now the oldest, is remembered again (joined with another bound): the oldest is ids[104] now.
  b.rememberOldLife(ids[103]!, { [B]: 9 });
  b.rememberOldLife(newContactId(), bound(0));
  assert.equal(b.forgottenFloor(ids[103]!), { [A]: 104, [B]: 9 });
  assert.is(b.forgottenFloor(ids[104]!), undefined);
  await again.commit(b.drainChanges());
  await again.close();

  const third = await SqliteContactStore.open(dir);
  const c = await third.load();
  assert.equal(c.forgottenFloor(ids[103]!), { [A]: 104, [B]: 9 });
  assert.is(c.forgottenFloor(ids[104]!), undefined);
  assert.equal(c.forgottenFloor(ids[105]!), bound(105));
  await third.close();
});

test('bulkLoad builds the same store as putting states one by one, and loads once only', () => {
  // Two origins, contacts created in turn and then edited out of creation order, a delete, a floor.
  const a = new MemoryStore();
  const ids = Array.from({ length: 30 }, () => newContactId());
  ids.forEach((id, i) => writeSample(a, i % 2 ? B : A, id, i, (clockMs += 3)));
  for (let k = 0; k < 40; k++) write(a, k % 3 ? A : B, { kind: 'update', id: ids[(k * 7) % ids.length]!, ops: [{ op: 'set', field: 'note', value: `edit ${k}` }] });
  write(a, A, { kind: 'delete', id: ids[3]! });
  const states = [...allStates(a)].reverse();
  for (const floor of [EMPTY_VV, { [A]: 20, [B]: 5 }]) {
    const oneByOne = new MemoryStore();
    const seeded = new MemoryStore();
    oneByOne.pruneIndex(floor);
    seeded.pruneIndex(floor);
    for (const st of states) oneByOne.put(st);
    seeded.bulkLoad(states);
    assert.equal(allStates(seeded), allStates(oneByOne));
    assert.equal(seeded.tombstones(), oneByOne.tombstones());
    for (const origin of [A, B]) {
      for (const after of [0, 10, 25]) assert.equal(seeded.touchedAfter(origin, after, 7), oneByOne.touchedAfter(origin, after, 7), `${origin} after ${after}`);
    }
    // Forgetting a loaded contact removes exactly its index rows, as for one put.
    seeded.forget(ids[3]!);
    oneByOne.forget(ids[3]!);
    for (const origin of [A, B]) assert.equal(seeded.touchedAfter(origin, 0, 100), oneByOne.touchedAfter(origin, 0, 100));
    assert.equal(seeded.drainChanges().filter((c) => c.kind === 'put'), [], 'bulkLoad journals nothing');
    assert.throws(() => seeded.bulkLoad(states), /load once, into an empty store/);
  }
});

test('load({journal: false}) gives a store that journals nothing', async () => {
  const store = await SqliteContactStore.open(tempDir());
  const m = await store.load({ journal: false });
  writeSample(m, A, newContactId(), 3, (clockMs += 5));
  assert.equal(m.drainChanges(), []);
  await store.close();
});

test('stateJson is JSON.stringify(encodeState) in meaning, in printable ASCII, for every state of the history', () => {
  const { a } = history();
  // Entries with odd text a hand-edited row could hold: quotes, backslashes, non-ASCII in a uid.
  const odd = { ...allStates(a)[0]!, entries: [{ key: 'x:NOTE' as never, uid: 'q"u\\oé', value: 'Zoë "\\ \u{1f98a}', dot: { origin: A, seq: 1 }, hlc: { wallMs: 5, logical: 0 } }] };
  const states = [...allStates(a), odd];
  assert.ok(states.length > 20);
  for (const s of states) {
    const text = stateJson(s);
    assert.ok(/^[\x20-\x7e]*$/.test(text), text);
    assert.equal(JSON.parse(text), JSON.parse(JSON.stringify(encodeState(s))));
    assert.equal(decodeState(s.id, text), decodeState(s.id, JSON.stringify(encodeState(s))));
    // What a row keeps: the characters back, no longer than the JSON.stringify text.
    assert.equal(JSON.parse(storedJson(text)), JSON.parse(text));
    assert.ok(storedJson(text).length <= JSON.stringify(encodeState(s)).length, storedJson(text));
  }
});

test('storedJson turns escapes of characters beyond ASCII back into them, and nothing else', () => {
  const cases: [unknown, string][] = [
    ['Zoë 中 🦊', '"Zoë 中 🦊"'],
    ['a\\u00e9', '"a\\\\u00e9"'], // an escaped backslash before "u": not an escape
    ['tab\tdel\u007f', '"tab\\tdel\\u007f"'], // control characters and DEL stay escaped
    ['lone \ud83e end', '"lone \\ud83e end"'], // a lone surrogate stays escaped
    ['"quoted"', '"\\"quoted\\""'],
  ];
  for (const [value, stored] of cases) {
    const ascii = toAsciiJson(value);
    assert.is(storedJson(ascii), stored, ascii);
    assert.equal(JSON.parse(storedJson(ascii)), value);
  }
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 30 }), (v) => {
    assert.is(JSON.parse(storedJson(toAsciiJson(v))), v);
  }), { numRuns: 500 });
});

test('decodeState refuses damaged rows, naming the contact and the flaw', () => {
  const id = newContactId();
  const cases: [string, RegExp][] = [
    ['not json', /is not JSON/],
    ['{"c":{},"f":{}}', /no entry list/],
    ['{"e":[[1]],"c":{},"f":{}}', /entry 0 is not a 7-item array/],
    ['{"e":[["k","",1,"aaaaaaaaaaaaaaaa",0,1,0]],"c":{},"f":{}}', /bad seq or hlc/],
    ['{"e":[],"c":{"x":[3,2]},"f":{}}', /not sorted disjoint/],
    ['{"e":[],"c":{},"f":{"x":-1}}', /not a count/],
  ];
  for (const [text, why] of cases) {
    try {
      decodeState(id, text);
      assert.unreachable(text);
    } catch (err) {
      assert.instance(err, StoreDecodeError);
      assert.match((err as Error).message, id);
      assert.match((err as Error).message, why);
    }
  }
});

test('load stops on a damaged row with a message naming it', async () => {
  const dir = tempDir();
  const store = await SqliteContactStore.open(dir);
  const m = await store.load();
  const id = newContactId();
  writeSample(m, A, id, 4, (clockMs += 5));
  await store.commit(m.drainChanges());
  const raw = await SqliteDb.open(join(dir, STORE_FILE), 'readwrite-create');
  await raw.run("UPDATE contact SET state = '{\"e\":[],\"c\":[],\"f\":{}}' WHERE id = ?1", [id]);
  await raw.close();
  const err = await store.load().then(() => undefined, (e: Error) => e);
  assert.match(err?.message ?? 'loaded', new RegExp(`contact ${id}: dot cloud is not an object`));
  await store.close();
});

test.run();
