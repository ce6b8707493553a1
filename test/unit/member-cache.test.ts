import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_ENTRIES, MemberCache, REFRESH_AFTER_MS, memberCacheDir } from '../../tui/member-cache.ts';

const dirs: string[] = [];
test.after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function fresh(): MemberCache {
  const d = mkdtempSync(join(tmpdir(), 'member-cache-'));
  dirs.push(d);
  return new MemberCache(join(d, 'state'));
}

test('remembers members per cluster and given servers, never the given ones, owner-only', () => {
  const c = fresh();
  assert.equal(c.members('contacts', ['127.0.0.1:7700']), []);
  c.save('contacts', ['127.0.0.1:7700'], ['127.0.0.1:7700', '127.0.0.1:7701', '127.0.0.1:7702'], 1_000);
  assert.equal(c.members('contacts', ['127.0.0.1:7700']), ['127.0.0.1:7701', '127.0.0.1:7702']);
  assert.equal(c.members('other', ['127.0.0.1:7700']), [], 'another cluster name lends nothing');
  assert.equal(c.members('contacts', ['10.0.0.1:7700']), [], 'other servers lend nothing');
  assert.is(statSync(join(c.dir, 'members.json')).mode & 0o777, 0o600);
  assert.is(statSync(c.dir).mode & 0o777, 0o700);
});

test('stale when missing, old, or from the future; fresh otherwise', () => {
  const c = fresh();
  assert.ok(c.stale('contacts', ['a:1'], 5_000));
  c.save('contacts', ['a:1'], ['b:2'], 5_000);
  assert.not.ok(c.stale('contacts', ['a:1'], 5_000 + REFRESH_AFTER_MS));
  assert.ok(c.stale('contacts', ['a:1'], 5_001 + REFRESH_AFTER_MS));
  assert.ok(c.stale('contacts', ['a:1'], 4_000), 'a clock that went back refreshes');
});

test('a corrupt or foreign file is an empty hint, and is rewritten', () => {
  const c = fresh();
  c.save('contacts', ['a:1'], ['b:2'], 1);
  for (const junk of ['{', '[]', '{"version":2,"entries":{}}', '{"version":1,"entries":{"contacts a:1":{"savedAtMs":1,"members":["no port", 7, "c:3"]}}}']) {
    writeFileSync(join(c.dir, 'members.json'), junk);
    const got = c.members('contacts', ['a:1']);
    assert.ok(got.length === 0 || (got.length === 1 && got[0] === 'c:3'), `${junk}: ${JSON.stringify(got)}`);
  }
  c.save('contacts', ['a:1'], ['b:2'], 2);
  assert.equal(c.members('contacts', ['a:1']), ['b:2']);
});

test(`at most ${MAX_ENTRIES} keys: the oldest goes`, () => {
  const c = fresh();
  for (let k = 0; k <= MAX_ENTRIES; k++) c.save('contacts', [`s:${k + 1}`], ['m:1'], 1_000 + k);
  assert.is(Object.keys(JSON.parse(readFileSync(join(c.dir, 'members.json'), 'utf8')).entries).length, MAX_ENTRIES);
  assert.equal(c.members('contacts', ['s:1']), [], 'the oldest was dropped');
  assert.equal(c.members('contacts', [`s:${MAX_ENTRIES + 1}`]), ['m:1']);
});

test('where it lives: CONTACTS_STATE_DIR, XDG_STATE_HOME, HOME', () => {
  assert.is(memberCacheDir({ CONTACTS_STATE_DIR: '/x', XDG_STATE_HOME: '/y', HOME: '/z' }), '/x');
  assert.is(memberCacheDir({ XDG_STATE_HOME: '/y', HOME: '/z' }), '/y/contacts');
  assert.is(memberCacheDir({ HOME: '/z' }), '/z/.local/state/contacts');
  assert.is(memberCacheDir({}), undefined, 'no home: no cache');
});

test.run();
