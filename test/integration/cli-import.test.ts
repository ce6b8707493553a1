/**
 * `contacts import` against two real contactd processes on 127.0.0.1: a
 * few hundred contacts (JSON lines) imported at A in putMany requests are
 * all read back at B once replicated; importing the file again changes
 * nothing; a JSON array with one bad record reports its line and field,
 * and the other records land. Waits poll the CLI a bounded number of
 * times (each poll is a real request).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, killAll, startCluster, tempDir, type NodeProc } from './contactd-harness.ts';
import { newId } from '../../tui/writes.ts';

const COUNT = 300;
const nodes: NodeProc[] = [];
/** Made in the first test: killAll (every file's after hook, in one suite process) removes the harness's temporary directories. */
let dir = '';

test.after(killAll);

/** Contact `i` as `contacts get --json` prints one (view-only keys included: import drops them). */
function record(i: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: newId(), name: `Imported Person ${i}`, structuredName: { family: 'Person', given: `Imported ${i}`, additional: '', prefixes: '', suffixes: '' },
    phones: [{ uid: 'p1', value: `+1 555 ${String(i).padStart(4, '0')}`, types: ['cell'], pref: false }],
    emails: [{ value: `person${i}@example.org`, types: [], pref: true }],
    addresses: [], urls: [], groups: [], extra: {}, revived: false, conflicts: [], seen: {}, updated: { wallMs: 0, counter: 0 },
    ...over,
  };
}

/** `list --json` at `server`, until it holds at least `count` contacts (at most `attempts` runs). */
async function listUntil(server: string, count: number, attempts = 60): Promise<Record<string, any>[]> {
  let last: Record<string, any>[] = [];
  for (let i = 0; i < attempts; i++) {
    const r = await cli('list', '--json', '--server', server);
    assert.is(r.code, 0, r.stderr);
    last = JSON.parse(r.stdout);
    if (last.length >= count) return last;
  }
  throw new Error(`${server} holds ${last.length} contacts, not ${count}, after ${attempts} lists`);
}

test('two nodes form a cluster', async () => {
  dir = tempDir('contacts-import-');
  nodes.push(...(await startCluster(['a', 'b'])));
});

const lines = Array.from({ length: COUNT }, (_, i) => record(i));

test(`import of ${COUNT} contacts (JSON lines) at A: all read back at B; a second import applies nothing`, async () => {
  const [a, b] = nodes;
  const linesFile = join(dir, 'contacts.jsonl');
  writeFileSync(linesFile, lines.map((c) => JSON.stringify(c)).join('\n') + '\n');
  const r = await cli('import', linesFile, '--server', a!.addr);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, `imported ${COUNT} of ${COUNT} contacts\n`);
  const all = await listUntil(b!.addr, COUNT);
  assert.is(all.length, COUNT);
  const byId = new Map(all.map((c) => [c.id, c]));
  for (const [i, c] of lines.entries()) {
    const got = byId.get(c.id);
    assert.ok(got, `contact ${i} (${c.id}) is missing at B`);
    assert.is(got.name, `Imported Person ${i}`);
    assert.is(got.structuredName.given, `Imported ${i}`);
    assert.equal(got.phones.map((p: any) => [p.uid, p.value]), [['p1', `+1 555 ${String(i).padStart(4, '0')}`]]);
    assert.is(got.emails[0].value, `person${i}@example.org`);
  }
  const again = await cli('import', linesFile, '--json', '--server', a!.addr);
  assert.is(again.code, 0, again.stderr);
  assert.equal(JSON.parse(again.stdout), { records: COUNT, imported: 0, duplicate: COUNT, refused: 0, unconfirmed: 0, errors: [] });
});

test('a JSON array with a bad record: its line and field are named, the others land (exit 1)', async () => {
  const [a, b] = nodes;
  const good = [0, 1, 3, 4].map((i) => record(1000 + i));
  const bad = record(1002, { emails: [{ value: 'not an email', types: [], pref: false }] });
  const file = join(dir, 'with-bad.json');
  // Pretty-printed as `list --json` prints: the bad record (the third) starts on line 2 + 2 × its lines per record.
  const items = [good[0]!, good[1]!, bad, good[2]!, good[3]!];
  const text = JSON.stringify(items, null, 2);
  writeFileSync(file, text);
  const badLine = text.split('\n').findIndex((l) => l.includes(String(bad.id))) + 1 - 1; // `{` is the line before its "id"
  const r = await cli('import', file, '--server', a!.addr);
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, `line ${badLine}: emails[0].value:`);
  assert.is(r.stdout, 'imported 4 of 5 contacts, 1 refused\n');
  const j = await cli('import', file, '--json', '--server', a!.addr);
  assert.is(j.code, 1);
  const summary = JSON.parse(j.stdout);
  assert.equal([summary.duplicate, summary.refused], [4, 1]);
  assert.equal(summary.errors.map((e: any) => [e.line, e.id, e.code, e.issues[0].path]), [[badLine, bad.id, 'invalid', 'emails[0].value']]);
  const all = await listUntil(b!.addr, COUNT + 4);
  const ids = new Set(all.map((c) => c.id));
  for (const c of good) assert.ok(ids.has(c.id), `${c.name} is missing at B`);
  assert.not.ok(ids.has(bad.id));
});

test('import: a file that is not there, and no file, are refused', async () => {
  const missing = await cli('import', join(dir, 'nope.json'), '--server', nodes[0]!.addr);
  assert.is(missing.code, 1);
  assert.match(missing.stderr, /cannot read .*nope\.json \(ENOENT\)/);
  assert.is((await cli('import', '--server', nodes[0]!.addr)).code, 2);
});

test.run();
