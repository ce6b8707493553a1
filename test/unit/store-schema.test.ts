/**
 * The store's file: created and migrated from nothing (no file, an empty
 * file), migration steps applied in order each in its own transaction (a
 * failing step leaves the previous version), and the files it refuses with a
 * message that says what to do: one from a newer contactd, one belonging to
 * another program, a damaged one, one that is not a database at all. Also the
 * durability settings it opens with.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StoreOpenError } from '../../daemon/store/errors.ts';
import { newContactId, writeSample } from '../../daemon/store/sample.ts';
import { CONTACTS_APPLICATION_ID, migrate, SCHEMA_VERSION, type Migration } from '../../daemon/store/schema.ts';
import { SqliteDb } from '../../daemon/store/sqlite-db.ts';
import { SqliteContactStore, STORE_FILE } from '../../daemon/store/sqlite-store.ts';
import { nodeId } from '../../protocol/types.ts';

const A = nodeId('a'.repeat(16));
const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'contacts-schema-'));
  dirs.push(d);
  return d;
}
test.after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

async function header(path: string): Promise<{ version: number; app: number; tables: string[] }> {
  const db = await SqliteDb.open(path, 'readonly');
  const version = (await db.get<{ user_version: number }>('PRAGMA user_version'))!.user_version;
  const app = (await db.get<{ application_id: number }>('PRAGMA application_id'))!.application_id;
  const tables = (await db.all<{ name: string }>("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'contact_fts_%' ORDER BY name")).map((r) => r.name);
  await db.close();
  return { version, app, tables };
}

async function rawExec(path: string, sql: string): Promise<void> {
  const db = await SqliteDb.open(path, 'readwrite-create');
  await db.exec(sql);
  await db.close();
}

async function openError(path: string, opts = {}): Promise<StoreOpenError> {
  const err = await SqliteContactStore.openFile(path, opts).then(async (s) => { await s.close(); return undefined; }, (e: unknown) => e);
  assert.instance(err, StoreOpenError, 'open was refused with a StoreOpenError');
  return err as StoreOpenError;
}

test('a new data directory gets the current schema, WAL, synchronous FULL and foreign keys', async () => {
  const dir = tempDir();
  const store = await SqliteContactStore.open(dir);
  assert.is(store.opened.migratedFrom, 0);
  assert.is(store.opened.schemaVersion, SCHEMA_VERSION);
  assert.equal(await store.settings(), { journalMode: 'wal', synchronous: 'FULL', foreignKeys: true });
  await store.close();
  assert.equal(await header(join(dir, STORE_FILE)), { version: SCHEMA_VERSION, app: CONTACTS_APPLICATION_ID, tables: ['applied', 'contact', 'contact_fts', 'fence', 'meta', 'old_life'] });
});

test('synchronous NORMAL when asked; reopening a current file migrates nothing', async () => {
  const dir = tempDir();
  await (await SqliteContactStore.open(dir)).close();
  const store = await SqliteContactStore.open(dir, { synchronous: 'NORMAL', integrityCheck: 'quick' });
  assert.is(store.opened.migratedFrom, SCHEMA_VERSION);
  assert.is(store.opened.check, 'quick');
  assert.is((await store.settings()).synchronous, 'NORMAL');
  await store.close();
});

test('an existing empty file is migrated from version 0', async () => {
  const path = join(tempDir(), 'empty.sqlite');
  writeFileSync(path, '');
  const store = await SqliteContactStore.openFile(path);
  assert.is(store.opened.migratedFrom, 0);
  await store.close();
  assert.is((await header(path)).version, SCHEMA_VERSION);
});

test('a version 1 file (before old_life) is migrated to the current version, its contacts kept', async () => {
  const dir = tempDir();
  const store = await SqliteContactStore.open(dir);
  const m = await store.load();
  const id = newContactId();
  writeSample(m, A, id, 1, 1_700_000_000_000);
  await store.commit(m.drainChanges());
  await store.close();
  // Version 1's tables are today's without old_life.
  const path = join(dir, STORE_FILE);
  await rawExec(path, 'DROP TABLE old_life; PRAGMA user_version = 1');
  const again = await SqliteContactStore.open(dir);
  assert.is(again.opened.migratedFrom, 1);
  const loaded = await again.load();
  assert.equal(loaded.get(id), m.get(id));
  await again.close();
  assert.equal(await header(path), { version: SCHEMA_VERSION, app: CONTACTS_APPLICATION_ID, tables: ['applied', 'contact', 'contact_fts', 'fence', 'meta', 'old_life'] });
});

test('migration steps run in order, each in a transaction; a failing step leaves the file at the previous version', async () => {
  const path = join(tempDir(), 'steps.sqlite');
  const steps: Migration[] = [
    { version: 1, what: 'first table', sql: 'CREATE TABLE one (x INTEGER);' },
    { version: 2, what: 'second table, fed from the first', sql: 'CREATE TABLE two (x INTEGER); INSERT INTO one VALUES (1); INSERT INTO two SELECT x FROM one;' },
  ];
  const db = await SqliteDb.open(path, 'readwrite-create');
  assert.equal(await migrate(db, steps.slice(0, 1)), { from: 0, to: 1 });
  assert.equal(await migrate(db, steps), { from: 1, to: 2 });
  assert.equal(await db.all('SELECT x FROM two'), [{ x: 1 }]);
  const broken: Migration = { version: 3, what: 'a step that fails half way', sql: 'CREATE TABLE three (x INTEGER); INSERT INTO nowhere VALUES (1);' };
  const err = await migrate(db, [...steps, broken]).then(() => undefined, (e: Error) => e);
  assert.instance(err, StoreOpenError);
  assert.match(err!.message, /cannot migrate .* to schema version 3 \(a step that fails half way\): SQLITE_ERROR: no such table: nowhere\. The file is unchanged at version 2/);
  assert.is((await db.get<{ user_version: number }>('PRAGMA user_version'))!.user_version, 2);
  assert.equal(await db.all("SELECT name FROM sqlite_schema WHERE name = 'three'"), [], 'the half-done step was rolled back');
  await db.close();
});

test('a file from a newer contactd is refused, and left unchanged', async () => {
  const dir = tempDir();
  const path = join(dir, STORE_FILE);
  await (await SqliteContactStore.open(dir)).close();
  await rawExec(path, `PRAGMA user_version = ${SCHEMA_VERSION + 7}`);
  const err = await openError(path);
  assert.match(err.message, `has schema version ${SCHEMA_VERSION + 7}, newer than this contactd understands (${SCHEMA_VERSION})`);
  assert.match(err.message, 'run the newer contactd');
  assert.is((await header(path)).version, SCHEMA_VERSION + 7);
});

test('a database of another program is refused', async () => {
  const theirs = join(tempDir(), 'theirs.sqlite');
  await rawExec(theirs, 'CREATE TABLE notes (body TEXT)');
  assert.match((await openError(theirs)).message, 'holds tables but is not a contacts database');
  const marked = join(tempDir(), 'marked.sqlite');
  await rawExec(marked, 'PRAGMA application_id = 42');
  assert.match((await openError(marked)).message, 'belongs to another program (application_id 42)');
});

test('a damaged file is refused with what to do', async () => {
  const dir = tempDir();
  const path = join(dir, STORE_FILE);
  const store = await SqliteContactStore.open(dir);
  const m = await store.load();
  for (let i = 0; i < 300; i++) writeSample(m, A, newContactId(), i, 1_700_000_000_000 + i);
  await store.commit(m.drainChanges());
  await store.close();
  // Scribble over the second half of the file (page 1, the header, stays intact).
  const size = statSync(path).size;
  const fd = openSync(path, 'r+');
  writeSync(fd, Buffer.alloc(size - Math.floor(size / 2), 0x5a), 0, size - Math.floor(size / 2), Math.floor(size / 2));
  closeSync(fd);
  for (const integrityCheck of ['full', 'quick'] as const) {
    const err = await openError(path, { integrityCheck });
    assert.match(err.message, `${path} is damaged (`);
    assert.match(err.message, 'move the whole data directory aside');
  }
});

test('a file that is not a database is refused as damaged', async () => {
  const path = join(tempDir(), 'text.sqlite');
  writeFileSync(path, 'BEGIN:VCARD\nVERSION:4.0\nFN:Not a database\nEND:VCARD\n'.repeat(200));
  assert.match((await openError(path)).message, /is damaged \(SQLITE_NOTADB: file is not a database/);
});

test('a directory that does not exist is refused with what to do', async () => {
  const err = await openError(join(tempDir(), 'missing', 'dir', STORE_FILE));
  assert.match(err.message, 'check that the data directory exists');
});

test.run();
