/**
 * `contacts import`'s file side (tui/import.ts), without a server: JSON
 * lines and JSON arrays become creates in the `get --json` shape, each with
 * the line it starts on; what cannot be a contact is an error naming its
 * line; requests are cut within their limits.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Readable } from 'node:stream';
import { batches, errorLines, importRecords, ImportStopped, parseImport, readImportText } from '../../tui/import.ts';
import type { ContactsClient } from '../../tui/client.ts';
import { isContactId } from '../../protocol/contacts/ids.ts';
import { PUT_MANY_MAX } from '../../protocol/client/client-service.ts';

const ID = '01J9ZK3Q8W5Y2X7V4T6R1N0M3P';

test('JSON lines: one record a line, blank lines skipped, a line that is not JSON named', () => {
  const text = `{"id":"${ID}","name":"Ann"}\n\n  \nnot json\n[1]\n{"name":"Bo"}\n`;
  const r = parseImport(text);
  assert.equal(r.map((x) => [x.line, x.error === undefined]), [[1, true], [4, false], [5, false], [6, true]]);
  assert.match(r[1]!.error!, /^not JSON/);
  assert.is(r[2]!.error, 'a contact must be a JSON object');
  assert.match(r[0]!.write!.opId, new RegExp(`^import\\.${ID}\\.[0-9a-f]{12}$`));
  assert.equal(r[0]!.write!.patch, { kind: 'create', contact: { id: ID, formattedName: 'Ann' } });
  const made = String(r[3]!.write!.patch.contact.id);
  assert.ok(isContactId(made) && /^[0-9a-f]{8}-[0-9a-f]{4}-8/.test(made), `a record without an id gets a UUID made here: ${made}`);
  assert.is(parseImport(text)[3]!.write!.patch.contact.id, made, 'the same file again: the same id (a re-run changes nothing)');
  assert.is.not(parseImport(text + '\n')[3]!.write!.patch.contact.id, made, 'another file: another contact');
  // The same record again has the same op id (a re-import is a duplicate); a changed one does not (it is refused `exists`, and reported).
  assert.is(parseImport(`{"id":"${ID}","name":"Ann"}`)[0]!.write!.opId, r[0]!.write!.opId);
  assert.is.not(parseImport(`{"id":"${ID}","name":"Ann B."}`)[0]!.write!.opId, r[0]!.write!.opId);
});

test('stdin: a character split across two chunks is read whole', async () => {
  const bytes = Buffer.from('{"name":"Zoë"}\n');
  const at = bytes.indexOf(0xc3) + 1; // between the two bytes of ë
  const text = await readImportText('-', Readable.from([bytes.subarray(0, at), bytes.subarray(at)]));
  assert.is(text, '{"name":"Zoë"}\n');
});

test('a record too large for any request is refused with its line, not sent', () => {
  const r = parseImport(`{"name":"Small"}\n{"name":"Big","note":"${'x'.repeat(70_000)}"}\n`);
  assert.ok(r[0]!.write);
  assert.is(r[1]!.line, 2);
  assert.match(r[1]!.error!, /characters of JSON; a request holds at most/);
  assert.is(batches(r).flatMap((b) => b.records).length, 1);
});

test('a client failure stops the import with what landed: the failed request and the rest unconfirmed', async () => {
  const records = parseImport(Array.from({ length: 250 }, (_, i) => JSON.stringify({ name: `P${i}` })).join('\n'));
  let calls = 0;
  const client = {
    anonymous: false,
    async request(_op: string, args: { writes: unknown[] }) {
      if (++calls === 2) throw new Error('no server answered');
      return { result: { results: args.writes.map(() => 'applied') } };
    },
  } as unknown as ContactsClient;
  const stopped = await importRecords(client, records, () => undefined).then(() => undefined, (err: unknown) => err);
  assert.ok(stopped instanceof ImportStopped);
  const s = (stopped as ImportStopped).summary;
  assert.is(s.imported + s.unconfirmed, 250);
  assert.ok(s.imported > 0 && s.unconfirmed >= 100, JSON.stringify(s));
  assert.match(String(((stopped as ImportStopped).failure as Error).message), 'no server answered');
});

test('a hand-written file may leave out what a view always has: bare strings, labels, flags, empty address parts', () => {
  const r = parseImport('{"name":"Ann","emails":[{"value":"a@example.org"}],"phones":["+1 555 0100"],"groups":["friends"],"addresses":[{"street":"1 Main St"}]}');
  const c = r[0]!.write!.patch.contact as Record<string, { uid: string }[]>;
  const strip = (xs: { uid: string }[]) => xs.map(({ uid, ...rest }) => (assert.match(uid, /^[0-9A-Z]{26}$/), rest));
  assert.equal(strip(c.emails!), [{ value: 'a@example.org', types: [], pref: false }]);
  assert.equal(strip(c.phones!), [{ value: '+1 555 0100', types: [], pref: false }]);
  assert.equal(strip(c.groups!), [{ name: 'friends' }]);
  assert.equal(strip(c.addresses!), [{ street: '1 Main St', types: [], pref: false, poBox: '', extended: '', locality: '', region: '', postalCode: '', country: '' }]);
});

test('the get --json shape becomes a create: name, structuredName, view-only keys, entry uids', () => {
  const view = {
    id: ID, name: 'Zoë Émile', structuredName: { family: 'Émile', given: 'Zoë', additional: '', prefixes: '', suffixes: '' },
    phones: [{ uid: 'p1', value: '+1 555 0100', types: [], pref: false }], emails: [{ value: 'zoe@example.org', types: [], pref: true }],
    revived: false, conflicts: [], seen: { a: [1, 3] }, updated: { wallMs: 1, logical: 0 }, extra: {},
  };
  const [r] = parseImport(JSON.stringify(view));
  const c = r!.write!.patch.contact;
  assert.is(c.formattedName, 'Zoë Émile');
  assert.equal(c.name, view.structuredName);
  for (const k of ['seen', 'conflicts', 'revived', 'updated', 'structuredName']) assert.not.ok(k in c, k);
  assert.equal((c.phones as { uid: string }[])[0]!.uid, 'p1');
  assert.match((c.emails as { uid: string }[])[0]!.uid, /^[0-9A-Z]{26}$/);
});

test('a JSON array: each record keeps the line it starts on (pretty-printed or not), and a BOM is fine', () => {
  const items = [{ id: ID, name: 'A' }, { name: 'B, "quoted" [with] {braces}' }, { name: 'C' }];
  const pretty = parseImport(`\uFEFF${JSON.stringify(items, null, 2)}`);
  assert.equal(pretty.map((r) => r.line), [2, 6, 9]);
  assert.equal(pretty.map((r) => r.write!.patch.contact.formattedName), ['A', 'B, "quoted" [with] {braces}', 'C']);
  assert.equal(parseImport(`[\n${items.map((x) => JSON.stringify(x)).join(',\n')}\n]`).map((r) => r.line), [2, 3, 4]);
  assert.throws(() => parseImport('[{"name": "A"},'), /not a JSON array/);
});

test('requests: at most PUT_MANY_MAX writes and ~20,000 characters each; records in order; errors are not sent', () => {
  const small = Array.from({ length: 250 }, (_, i) => JSON.stringify({ name: `P${i}` })).join('\n');
  const cut = batches(parseImport(small));
  assert.equal(cut.map((b) => b.records.length), [PUT_MANY_MAX, PUT_MANY_MAX, 50]);
  const big = Array.from({ length: 30 }, (_, i) => JSON.stringify({ name: `P${i}`, note: 'n'.repeat(3000) })).join('\n') + '\nnope';
  const parsed = parseImport(big);
  const cutBig = batches(parsed);
  assert.ok(cutBig.every((b) => b.chars <= 20_000), cutBig.map((b) => b.chars).join());
  assert.equal(cutBig.flatMap((b) => b.records.map((r) => r.line)), parsed.filter((r) => r.write).map((r) => r.line));
});

test('error lines name the line and the field', () => {
  assert.equal(errorLines([
    { line: 3, code: 'invalid', message: 'the write is invalid', issues: [{ path: 'emails[0].value', reason: 'not an email address' }] },
    { line: 9, id: ID, code: 'exists', message: `contact ${ID} already exists` },
  ]), ['line 3: emails[0].value: not an email address', `line 9: contact ${ID} already exists (exists)`]);
});

test.run();
