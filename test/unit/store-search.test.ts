/**
 * Full-text search over the store: diacritics and case folded, every word a
 * prefix, every searched field (names, emails, phones, organisation and
 * title, note), names ranked above notes, the index kept in step with
 * renames, deletes and forgets, and no user input, however hostile, is an
 * FTS5 syntax error.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectTombstones, commitWrite } from '../../protocol/contacts/book.ts';
import { cloudMax, cloudTop } from '../../protocol/contacts/dots.ts';
import { entryUid, opId, type ContactId } from '../../protocol/contacts/ids.ts';
import type { MemoryStore } from '../../protocol/contacts/memory-store.ts';
import type { ContactFields } from '../../protocol/contacts/model.ts';
import type { Patch } from '../../protocol/contacts/patch.ts';
import { nodeId } from '../../protocol/types.ts';
import { ftsQuery, SEARCH_TERMS_MAX } from '../../daemon/store/search-text.ts';
import { newContactId } from '../../daemon/store/sample.ts';
import { SqliteContactStore } from '../../daemon/store/sqlite-store.ts';

const A = nodeId('a'.repeat(16));
const dirs: string[] = [];
test.after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

let nowMs = 1_700_000_000_000;
let ops = 0;
const label = (uid: string, value: string) => ({ uid: entryUid(uid), value, types: [], pref: false });

function write(m: MemoryStore, patch: Patch): void {
  const out = commitWrite(m, A, { opId: opId(`op${ops++}`), patch }, (nowMs += 5));
  if (out.kind !== 'applied') throw new Error(`write refused: ${JSON.stringify(out)}`);
}

/** A store holding `people` (name → fields), and their ids. */
async function withPeople(people: Record<string, Omit<ContactFields, 'formattedName'>>) {
  const dir = mkdtempSync(join(tmpdir(), 'contacts-search-'));
  dirs.push(dir);
  const store = await SqliteContactStore.open(dir);
  const m = await store.load();
  const ids: Record<string, ContactId> = {};
  for (const [formattedName, fields] of Object.entries(people)) {
    ids[formattedName] = newContactId();
    write(m, { kind: 'create', contact: { id: ids[formattedName]!, formattedName, ...fields } });
  }
  await store.commit(m.drainChanges());
  return { store, m, ids };
}

const PEOPLE = {
  'Zoë Ångström': { emails: [label('e1', 'zoe@acme.io')], phones: [label('p1', '+1 555-0100')], org: { name: 'ACME', units: ['Research'] } },
  'Zoey Smith': { note: 'Met at the Globex conference', title: 'Engineer' },
  'Chloé Müller': { org: { name: 'Globex', units: [] }, name: { family: 'Müller', given: 'Chloé', additional: '', prefixes: 'Dr.', suffixes: '' } },
  'Bob Stone': { note: 'Introduced by Ms Smith' },
};

test('diacritics and case are folded; every word is a prefix; words are ANDed', async () => {
  const { store, ids } = await withPeople(PEOPLE);
  const find = async (q: string) => (await store.search(q, 10)).sort();
  const zoes = [ids['Zoë Ångström']!, ids['Zoey Smith']!].sort();
  assert.equal(await find('zoe'), zoes, 'zoe* matches Zoë and Zoey');
  assert.equal(await find('ZOË'), zoes);
  assert.equal(await find('zo'), zoes);
  assert.equal(await find('angst'), [ids['Zoë Ångström']]);
  assert.equal(await find('muller'), [ids['Chloé Müller']]);
  assert.equal(await find('müll'), [ids['Chloé Müller']]);
  assert.equal(await find('chloe dr'), [ids['Chloé Müller']], 'structured name parts are indexed');
  assert.equal(await find('zoe smith'), [ids['Zoey Smith']]);
  assert.equal(await find('zoe nobody'), []);
  await store.close();
});

test('letters that are not a letter plus a mark are found by their usual spelling too', async () => {
  const { store, ids } = await withPeople({ 'Bjørn Łukasz': { note: 'Lives on Hauptstraße' }, 'Ann Other': {} });
  const bjorn = [ids['Bjørn Łukasz']];
  for (const q of ['bjorn', 'bjørn', 'lukasz', 'łukasz', 'hauptstrasse', 'hauptstraß']) assert.equal(await store.search(q, 10), bjorn, q);
  await store.close();
});

test('emails, phones, organisation and title, and notes are searched', async () => {
  const { store, ids } = await withPeople(PEOPLE);
  const find = async (q: string) => (await store.search(q, 10)).sort();
  const zoe = [ids['Zoë Ångström']];
  assert.equal(await find('zoe@acme'), zoe);
  assert.equal(await find('acme.io'), zoe);
  assert.equal(await find('555-0100'), zoe);
  assert.equal(await find('0100'), zoe);
  assert.equal(await find('15550100'), zoe, 'digits alone find a formatted phone');
  assert.equal(await find('research'), zoe, 'organisation units');
  assert.equal(await find('engineer'), [ids['Zoey Smith']], 'title');
  assert.equal(await find('globex'), [ids['Zoey Smith']!, ids['Chloé Müller']!].sort(), 'organisation and note');
  assert.equal(await find('introduced'), [ids['Bob Stone']]);
  await store.close();
});

test('a name match ranks above a note match; limit is honoured and clamped', async () => {
  const { store, ids } = await withPeople(PEOPLE);
  assert.equal(await store.search('smith', 10), [ids['Zoey Smith'], ids['Bob Stone']]);
  assert.equal(await store.search('smith', 1), [ids['Zoey Smith']]);
  assert.equal(await store.search('smith', 0), [ids['Zoey Smith']], 'a limit below 1 gives one');
  try {
    await store.search('smith', Number.NaN);
    assert.unreachable('NaN limit');
  } catch (err) {
    assert.instance(err, RangeError);
  }
  assert.equal(await store.search('   ', 10), [], 'nothing to search for');
  await store.close();
});

test('the index follows renames, deletes and forgets: state, index row and fence go together', async () => {
  const { store, m, ids } = await withPeople(PEOPLE);
  write(m, { kind: 'update', id: ids['Bob Stone']!, ops: [{ op: 'set', field: 'formattedName', value: 'Robert Stone' }] });
  write(m, { kind: 'delete', id: ids['Zoey Smith']! });
  await store.commit(m.drainChanges());
  assert.equal(await store.search('bob', 10), []);
  assert.equal(await store.search('robert', 10), [ids['Bob Stone']]);
  assert.equal(await store.search('zoe', 10), [ids['Zoë Ångström']], 'a deleted contact is not found');
  assert.equal(await store.counts(), { contacts: 4, live: 3, fences: 0, indexed: 3, oldLives: 0 });
  // Collection: the first pass fences the tombstone, the second forgets it.
  const at = () => ({ stable: cloudTop(m.applied()), frontier: cloudMax(m.applied()) });
  collectTombstones(m, at());
  await store.commit(m.drainChanges());
  assert.equal(await store.counts(), { contacts: 4, live: 3, fences: 1, indexed: 3, oldLives: 0 });
  assert.equal(collectTombstones(m, at()), [ids['Zoey Smith']]);
  await store.commit(m.drainChanges());
  assert.equal(await store.counts(), { contacts: 3, live: 3, fences: 0, indexed: 3, oldLives: 1 }, 'the forgotten contact\'s old life is kept');
  // A forget of a live contact (as a batch may carry) drops its index row too.
  const chloe = m.get(ids['Chloé Müller']!)!;
  await store.commit([{ kind: 'forget', id: chloe.id }]);
  assert.equal(await store.search('chloe', 10), []);
  assert.equal(await store.counts(), { contacts: 2, live: 2, fences: 0, indexed: 2, oldLives: 1 });
  await store.close();
});

test('query building: phrases with a prefix star, quotes doubled, control characters split, pieces without letters dropped, bounded', () => {
  const cases: [string, string | undefined][] = [
    ['zoe', '"zoe"*'],
    ['  Zoë   smith ', '"Zoë"* "smith"*'],
    ['ann@acme.io', '"ann@acme.io"*'],
    ['say "hi"', '"say"* """hi"""*'],
    ['NEAR(a b)', '"NEAR(a"* "b)"*'],
    ['a\u0000b', '"a"* "b"*'],
    ['- * ( ) ^ :', undefined],
    ['', undefined],
  ];
  for (const [input, want] of cases) assert.is(ftsQuery(input), want, input);
  assert.is(ftsQuery('w '.repeat(50))!.split(' ').length, SEARCH_TERMS_MAX);
});

test('no input is an FTS5 syntax error (operators, column filters, quotes, binary junk)', async () => {
  const { store } = await withPeople(PEOPLE);
  const nasty = ['"', '""', '*', 'zoe*', 'AND', 'zoe OR', 'NOT zoe', 'NEAR(zoe ann, 2)', 'name:zoe', '{name email}: zoe', '-zoe', '^zoe',
    '(zoe', 'zoe)', "'", '\\', 'zoe"', '🦊', 'a\u0000b', '\u202e\u200b', 'x'.repeat(10_000), 'zoe + ann'];
  for (const q of nasty) await store.search(q, 5);
  await fc.assert(fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 80 }), async (q) => {
    await store.search(q, 5);
  }), { numRuns: 300 });
  await store.close();
});

test.run();
