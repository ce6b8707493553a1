/**
 * Validation of contacts and writes (protocol/contacts/validate*.ts): good
 * input passes unchanged, bad input is refused with the field path and a
 * reason, from tables.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkContactInput, checkPatch, checkWriteRequest, isValidEntry } from '../../protocol/contacts/validate.ts';
import { commitWrite } from '../../protocol/contacts/book.ts';
import { MemoryStore } from '../../protocol/contacts/memory-store.ts';
import { contactId, opId } from '../../protocol/contacts/ids.ts';
import { ClusterNode } from '../../protocol/node.ts';
import { SeededRng } from '../../protocol/rng.ts';
import { encodePacket } from '../../protocol/wire/codec.ts';
import { toRepState } from '../../protocol/replication/wire-state.ts';
import { address, nodeId } from '../../protocol/types.ts';
import { LIMITS } from '../../protocol/contacts/model.ts';

const ID = '01J00000000000000000000001';
const base = { id: ID, formattedName: 'Ann' };
const tel = (value: unknown) => ({ uid: 'p1', value, types: ['cell'], pref: false });
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

test('a full contact passes unchanged, omitted lists come back empty', () => {
  const full = {
    ...base,
    name: { family: 'Smith', given: 'Ann', additional: '', prefixes: 'Dr.', suffixes: '' },
    org: { name: 'ACME', units: ['R&D'] },
    title: 'CTO',
    birthday: '--02-29',
    note: 'line one\nline two',
    photo: { mediaType: 'image/png', base64: PNG },
    phones: [tel('+44 (0)20 7946 0958 ext. 12')],
    emails: [{ uid: 'e1', value: 'ann.smith+work@example.co.uk', types: ['work'], pref: true }],
    addresses: [{ uid: 'a1', types: ['home'], pref: false, poBox: '', extended: '', street: '1 Main St\nFlat 2', locality: 'Springfield', region: '', postalCode: '12345', country: 'US' }],
    urls: [{ uid: 'u1', value: 'https://example.org/ann', types: [], pref: false }],
    groups: [{ uid: 'g1', name: 'Friends' }],
    extra: { 'X-SKYPE': ['ann.smith'], 'X-ANNIVERSARY': ['2010-06-01'] },
  };
  const r = checkContactInput(full);
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(r.ok && r.value, full);
  const min = checkContactInput(base);
  assert.equal(min.ok && min.value, { ...base, phones: [], emails: [], addresses: [], urls: [], groups: [], extra: {} });
});

const contactCases: [string, unknown, string, RegExp][] = [
  ['missing name', { id: ID }, 'formattedName', /required/],
  ['blank name', { ...base, formattedName: '   ' }, 'formattedName', /empty/],
  ['name too long', { ...base, formattedName: 'x'.repeat(LIMITS.formattedNameCharsMax + 1) }, 'formattedName', /longer than 256/],
  ['control character', { ...base, title: 'a\u0007b' }, 'title', /control/],
  ['newline in a one-line field', { ...base, title: 'a\nb' }, 'title', /control/],
  ['lone surrogate', { ...base, title: 'a\ud800b' }, 'title', /Unicode/],
  // Text that is not all printable ASCII takes the slower checks: they still catch what they must.
  ['control character beside non-ASCII', { ...base, title: 'Zoë\u0007' }, 'title', /control/],
  ['delete character (0x7f)', { ...base, title: 'a\u007fb' }, 'title', /control/],
  ['lone surrogate beside non-ASCII', { ...base, note: 'é\udc00' }, 'note', /Unicode/],
  ['email with an empty domain label', { ...base, emails: [{ uid: 'e', value: 'zoë@bücher..example', types: [], pref: false }] }, 'emails[0].value', /domain/],
  ['lower-case ULID', { ...base, id: ID.toLowerCase() }, 'id', /ULID/],
  ['upper-case UUID', { ...base, id: '123E4567-E89B-12D3-A456-426614174000' }, 'id', /UUID/],
  ['unknown field', { ...base, nickname: 'A' }, 'nickname', /unknown field/],
  ['phone with letters only', { ...base, phones: [tel('call me')] }, 'phones[0].value', /digits/],
  ['phone with + inside', { ...base, phones: [tel('12+34')] }, 'phones[0].value', /\+ in front/],
  ['phone too long', { ...base, phones: [tel('1'.repeat(41))] }, 'phones[0].value', /longer than 40/],
  ['phone as a number', { ...base, phones: [tel(5550100)] }, 'phones[0].value', /string/],
  ['upper-case type label', { ...base, phones: [{ ...tel('+1 2'), types: ['Work'] }] }, 'phones[0].types[0]', /lower-case/],
  ['label twice', { ...base, phones: [{ ...tel('+1 2'), types: ['work', 'work'] }] }, 'phones[0].types', /twice/],
  ['pref not boolean', { ...base, phones: [{ ...tel('+1 2'), pref: 'yes' }] }, 'phones[0].pref', /true or false/],
  ['duplicate uid', { ...base, phones: [tel('+1 2'), tel('+1 3')] }, 'phones[1].uid', /twice/],
  ['bad uid', { ...base, phones: [{ ...tel('+1 2'), uid: 'a b' }] }, 'phones[0].uid', /characters/],
  ['too many phones', { ...base, phones: Array.from({ length: 21 }, (_, i) => ({ ...tel('+1 2'), uid: `p${i}` })) }, 'phones', /more than 20/],
  ['email without @', { ...base, emails: [{ uid: 'e', value: 'ann.example.org', types: [], pref: false }] }, 'emails[0].value', /email/],
  ['email with space', { ...base, emails: [{ uid: 'e', value: 'ann smith@x.org', types: [], pref: false }] }, 'emails[0].value', /email/],
  ['email double dot', { ...base, emails: [{ uid: 'e', value: 'ann..s@x.org', types: [], pref: false }] }, 'emails[0].value', /dot/],
  ['email bad domain', { ...base, emails: [{ uid: 'e', value: 'ann@-x.org', types: [], pref: false }] }, 'emails[0].value', /domain/],
  ['url without scheme', { ...base, urls: [{ uid: 'u', value: 'example.org', types: [], pref: false }] }, 'urls[0].value', /absolute URL/],
  ['javascript url', { ...base, urls: [{ uid: 'u', value: 'javascript:alert(1)', types: [], pref: false }] }, 'urls[0].value', /not allowed/],
  ['birthday Feb 29 in a common year', { ...base, birthday: '2023-02-29' }, 'birthday', /day must be 01 to 28/],
  ['birthday month 13', { ...base, birthday: '--13-01' }, 'birthday', /month/],
  ['birthday as year-month', { ...base, birthday: '1990-05' }, 'birthday', /--MM-DD, YYYY or YYYY-MM-DD/],
  ['photo of another type', { ...base, photo: { mediaType: 'image/jpeg', base64: PNG } }, 'photo.base64', /image\/jpeg/],
  ['photo not base64', { ...base, photo: { mediaType: 'image/png', base64: 'iVBORw0KGgo*' } }, 'photo.base64', /base64/],
  ['photo too big', { ...base, photo: { mediaType: 'image/png', base64: 'A'.repeat(44_000) } }, 'photo.base64', /larger than 32768/],
  ['photo media type', { ...base, photo: { mediaType: 'image/tiff', base64: PNG } }, 'photo.mediaType', /image\/jpeg/],
  ['empty structured name', { ...base, name: { family: '', given: '', additional: '', prefixes: '', suffixes: '' } }, 'name', /every part empty/],
  ['org unit empty', { ...base, org: { name: 'ACME', units: [''] } }, 'org.units[0]', /empty/],
  ['empty address', { ...base, addresses: [{ uid: 'a', types: [], pref: false, poBox: '', extended: '', street: '', locality: '', region: '', postalCode: '', country: '' }] }, 'addresses[0]', /every part empty/],
  ['lower-case extra name', { ...base, extra: { 'x-skype': ['a'] } }, 'extra.x-skype', /upper-case/],
  ['modelled property as extra', { ...base, extra: { TEL: ['1'] } }, 'extra.TEL', /modelled/],
  ['extra without values', { ...base, extra: { 'X-A': [] } }, 'extra.X-A', /at least one/],
  ['extra value too long', { ...base, extra: { 'X-A': ['x'.repeat(1001)] } }, 'extra.X-A[0]', /longer than 1000/],
  ['not an object', 'Ann', 'value', /object/],
];

test('contacts are refused with the field path and the reason', () => {
  for (const [what, input, path, reason] of contactCases) {
    const r = checkContactInput(input);
    assert.not.ok(r.ok, `${what}: accepted`);
    if (r.ok) continue;
    const issue = r.issues.find((i) => i.path === path);
    assert.ok(issue, `${what}: no issue at ${path}, got ${JSON.stringify(r.issues)}`);
    assert.match(issue!.reason, reason, what);
  }
});

test('non-ASCII text, domains and phones pass where ASCII ones would', () => {
  const c = { ...base, formattedName: 'Zoë Łukasiewicz', note: 'Tél. bureau\n中文', emails: [{ uid: 'e1', value: 'zoë@bücher.example', types: [], pref: false }], phones: [tel('+33 1 23 45 67 89')] };
  const r = checkContactInput(c);
  assert.ok(r.ok, JSON.stringify(r));
});

test('a request checkWriteRequest built passes it again as itself; one that looks the same is checked anew', () => {
  const raw = { opId: 'op-1', patch: { kind: 'create', contact: base } };
  const first = checkWriteRequest(raw);
  assert.ok(first.ok);
  if (!first.ok) return;
  const again = checkWriteRequest(first.value);
  assert.ok(again.ok && again.value === first.value, 'its own result is taken as checked');
  const lookalike = checkWriteRequest({ ...first.value, opId: 'a b' });
  assert.not.ok(lookalike.ok, 'a copy is not');
});

test('every problem is reported, up to a bound', () => {
  const r = checkContactInput({ ...base, title: 1, note: 2, birthday: 'x', phones: [tel('a')] });
  assert.equal(r.ok ? [] : r.issues.map((i) => i.path), ['title', 'birthday', 'note', 'phones[0].value']);
  const many = checkContactInput({ ...base, phones: Array.from({ length: 20 }, (_, i) => ({ ...tel('x'), uid: `p${i}` })) });
  assert.is(many.ok ? 0 : many.issues.length, 16);
});

const patchCases: [string, unknown, string, RegExp][] = [
  ['unknown kind', { kind: 'merge', id: ID }, 'kind', /create, update/],
  ['no ops', { kind: 'update', id: ID, ops: [] }, 'ops', /at least one/],
  ['unknown op', { kind: 'update', id: ID, ops: [{ op: 'add', field: 'phones' }] }, 'ops[0].op', /set, put/],
  ['set on a list field', { kind: 'update', id: ID, ops: [{ op: 'set', field: 'phones', value: [] }] }, 'ops[0].field', /one of formattedName/],
  ['clearing the formatted name', { kind: 'update', id: ID, ops: [{ op: 'set', field: 'formattedName', value: null }] }, 'formattedName', /cannot be cleared/],
  ['bad value names the entry', { kind: 'update', id: ID, ops: [{ op: 'put', field: 'emails', uid: 'e1', value: { value: 'nope', types: [], pref: false } }] }, 'emails[e1].value', /email/],
  ['same register twice', { kind: 'update', id: ID, ops: [{ op: 'set', field: 'title', value: 'a' }, { op: 'set', field: 'title', value: 'b' }] }, 'title', /twice/],
  ['same entry twice', { kind: 'update', id: ID, ops: [{ op: 'remove', field: 'phones', uid: 'p' }, { op: 'remove', field: 'phones', uid: 'p' }] }, 'phones[p]', /twice/],
  ['extra values', { kind: 'update', id: ID, ops: [{ op: 'setExtra', name: 'X-A', values: 'a' }] }, 'extra.X-A', /list/],
  ['resolve without op', { kind: 'resolve', id: ID }, 'op', /required/],
  ['delete with ops', { kind: 'delete', id: ID, ops: [] }, 'ops', /unknown field/],
  ['create with a bad contact', { kind: 'create', contact: { id: ID } }, 'formattedName', /required/],
];

test('patches are refused with the field path and the reason', () => {
  for (const [what, input, path, reason] of patchCases) {
    const r = checkPatch(input);
    assert.not.ok(r.ok, `${what}: accepted`);
    const issue = r.ok ? undefined : r.issues.find((i) => i.path === path);
    assert.ok(issue, `${what}: no issue at ${path}, got ${JSON.stringify(r)}`);
    assert.match(issue!.reason, reason, what);
  }
});

test('write requests: op id and read context are checked, the read context canonicalised', () => {
  const patch = { kind: 'delete', id: ID };
  const ok = checkWriteRequest({ opId: '01J0OP', patch, read: { aaaaaaaaaaaaaaaa: [3, 4, 1, 2, 6, 6] } });
  assert.equal(ok.ok && ok.value.read, { aaaaaaaaaaaaaaaa: [1, 4, 6, 6] });
  const table: [unknown, string][] = [
    [{ opId: 'a b', patch }, 'opId'],
    [{ opId: 'x', patch, read: { nothex: [1, 1] } }, 'read.nothex'],
    [{ opId: 'x', patch, read: { aaaaaaaaaaaaaaaa: [2, 1] } }, 'read.aaaaaaaaaaaaaaaa[0]'],
    [{ opId: 'x', patch, read: { aaaaaaaaaaaaaaaa: [1] } }, 'read.aaaaaaaaaaaaaaaa'],
    [{ opId: 'x', patch, extra: 1 }, 'extra'],
  ];
  for (const [input, path] of table) {
    const r = checkWriteRequest(input);
    assert.ok(!r.ok && r.issues.some((i) => i.path === path), `${path}: ${JSON.stringify(r)}`);
  }
});

test('replicated entries: what a write could have made passes, anything else does not', () => {
  const cases: [string, string, unknown, boolean][] = [
    ['formattedName', '', 'Ann', true],
    ['formattedName', 'x', 'Ann', false],
    ['formattedName', '', 7, false],
    ['formattedNamf', '', 'Ann', false],
    ['phones', 'p1', { value: '+1 555 0100', types: [], pref: false }, true],
    ['phones', 'p1', 'not an object', false],
    ['phones', '', { value: '+1 555 0100', types: [], pref: false }, false],
    ['emails', 'e1', { value: 'nope', types: [], pref: false }, false],
    ['x:X-SKYPE', '', ['ann'], true],
    ['x:lower', '', ['ann'], false],
    ['$live', '', true, true],
    ['$live', '', 1, false],
    ['$op', '01J00000000000000000000001', { first: 1, last: 2, kind: 'create', fields: [] }, true],
    ['$op', '01J00000000000000000000001', [1, 2], false],
    ['__proto__', '', {}, false],
  ];
  for (const [key, uid, value, ok] of cases) assert.is(isValidEntry(key, uid, value), ok, `${key} ${uid} ${JSON.stringify(value)}`);
});

test('every entry a full contact write makes is valid (the check is what writes store)', () => {
  const store = new MemoryStore();
  const full = { ...base, title: 'CTO', birthday: '--02-29', note: 'n', photo: { mediaType: 'image/png', base64: PNG }, phones: [tel('+1 555 0100')], extra: { 'X-A': ['1'] } };
  const out = commitWrite(store, nodeId('a'.repeat(16)), { opId: opId('op-1'), patch: { kind: 'create', contact: full as never } }, 1_000);
  assert.is(out.kind, 'applied');
  for (const e of store.get(contactId(ID))!.entries) assert.ok(isValidEntry(e.key, e.uid, e.value), `${e.key}: ${JSON.stringify(e.value)}`);
});

test('a peer state with an entry no write could make is dropped and counted, not stored', () => {
  const node = new ClusterNode({ id: nodeId('0000000000000001'), addr: address('127.0.0.1:7700'), rng: new SeededRng(1), now: 1_000 });
  const peer = nodeId('b'.repeat(16));
  const state = (key: string, value: unknown) => toRepState({
    id: contactId(ID), ctx: {}, floor: {},
    entries: [{ key: key as never, uid: '', value, dot: { origin: peer, seq: 1 }, hlc: { wallMs: 1, logical: 0 } }, { key: '$live', uid: '', value: true, dot: { origin: peer, seq: 2 }, hlc: { wallMs: 1, logical: 0 } }],
  } as never, { reply: false, full: true, batch: 0 });
  node.handleDatagram(2_000, address('127.0.0.1:7701'), encodePacket({ cluster: 'contacts', from: peer }, [state('phonez', { value: 'x' })]));
  assert.is(node.replication.stats.badStates, 1);
  assert.is(node.badInput().byReason['bad-state'], 1);
  assert.is(node.replication.store.get(contactId(ID)), undefined);
  node.handleDatagram(2_001, address('127.0.0.1:7701'), encodePacket({ cluster: 'contacts', from: peer }, [state('formattedName', 'Fine')]));
  assert.ok(node.replication.store.get(contactId(ID)), 'a well-formed state is taken');
});

test.run();
