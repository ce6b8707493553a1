/**
 * The client protocol's server side, through a whole ClusterNode: a client
 * datagram in, the answer (reassembled from fragments when paged large)
 * out. Tables of ops, bad requests, paging, idempotent retries, and the
 * no-amplification rule for error replies to strangers.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { ClusterNode } from '../../protocol/node.ts';
import { SeededRng } from '../../protocol/rng.ts';
import { decodePacket, encodePacket } from '../../protocol/wire/codec.ts';
import { Reassembler, fragmentPacket } from '../../protocol/fragments.ts';
import type { ClientRes, Message } from '../../protocol/wire/messages.ts';
import { address, nodeId, type NodeId } from '../../protocol/types.ts';
import { ulidFromRng } from '../../protocol/contacts/ids.ts';
import { toAsciiJson } from '../../protocol/client/json.ts';
import { fold, matches, queryTerms } from '../../protocol/client/search.ts';
import type { Contact } from '../../protocol/contacts/model.ts';
import { PUT_MANY_MAX } from '../../protocol/client/client-service.ts';
import { packDeltas } from '../../protocol/replication/replication.ts';

const CLUSTER = 'contacts';
const CLIENT = nodeId('c1c1c1c1c1c1c1c1');
const CLIENT_ADDR = address('127.0.0.1:50000');
const rng = new SeededRng(7);

function makeNode(): ClusterNode {
  return new ClusterNode({ id: nodeId('0000000000000001'), addr: address('127.0.0.1:7700'), rng: new SeededRng(1), now: 1_000 });
}

let reqIds = 0;

/** Sends one request as a client would; returns the answer (undefined when none) and the request's size. */
function ask(node: ClusterNode, op: string, args: unknown, opts: { raw?: string; from?: NodeId; padTo?: number } = {}): { res: ClientRes | undefined; requestBytes: number; replyBytes: number } {
  const reqId = ++reqIds;
  const text = opts.raw ?? toAsciiJson(args);
  // Padded with spaces (valid JSON) as tui/client.ts does, so a stranger's errors have room to say what is wrong.
  const msg: Message = { type: 'clientReq', reqId, op, args: text + ' '.repeat(Math.max(0, (opts.padTo ?? 0) - text.length)) };
  const header = { cluster: CLUSTER, from: opts.from ?? CLIENT };
  const bytes = encodePacket(header, [msg]);
  const datagrams = bytes.length > 1400 ? fragmentPacket(header, bytes, reqId, 1400) : [bytes];
  for (const d of datagrams) node.handleDatagram(2_000, CLIENT_ADDR, d);
  const re = new Reassembler();
  let res: ClientRes | undefined;
  let replyBytes = 0;
  for (let t = node.pollTransmit(); t; t = node.pollTransmit()) {
    if (t.to !== CLIENT_ADDR) continue; // deltas to peers
    replyBytes += t.bytes.length;
    let r = decodePacket(t.bytes, CLUSTER);
    assert.ok(r.ok);
    let m = r.packet.messages[0]!;
    if (m.type === 'frag') {
      const whole = re.add(0, r.packet.from, m);
      if (!whole) continue;
      r = decodePacket(whole, CLUSTER);
      assert.ok(r.ok);
      m = r.packet.messages[0]!;
    }
    if (m.type === 'clientRes' && m.reqId === reqId) res = m;
  }
  return { res, requestBytes: bytes.length, replyBytes };
}

/** The parsed result of an op that must succeed. */
function ok(node: ClusterNode, op: string, args: unknown): { result: any; res: ClientRes } {
  const { res } = ask(node, op, args);
  assert.ok(res, `${op}: no answer`);
  assert.ok(res.ok, `${op} failed: ${res.result}`);
  return { result: JSON.parse(res.result), res };
}

function err(node: ClusterNode, op: string, args: unknown, raw?: string): { code: string; message: string } {
  const { res } = ask(node, op, args, raw === undefined ? { padTo: 600 } : { raw, padTo: 600 });
  assert.ok(res, `${op}: no answer`);
  assert.not.ok(res.ok, `${op} should fail`);
  return JSON.parse(res.result) as { code: string; message: string };
}

function create(node: ClusterNode, name: string, more: Record<string, unknown> = {}, opId = `op-${reqIds}-${name.length}`): any {
  const id = ulidFromRng(1_700_000_000_000, rng);
  return ok(node, 'put', { opId, patch: { kind: 'create', contact: { id, formattedName: name, ...more } } }).result;
}

test('each op answers: hello, put, get, list, search, members, stats, delete', () => {
  const node = makeNode();
  const hello = ok(node, 'hello', {}).result;
  assert.equal(hello.members, [{ id: '0000000000000001', name: hello.name, address: '127.0.0.1:7700' }]);
  const put = create(node, 'Zoë Émile', { emails: [{ uid: 'e1', value: 'zoe@example.org', types: [], pref: false }] });
  assert.is(put.outcome, 'applied');
  const id = put.contact.id;
  assert.is(ok(node, 'get', { id }).result.formattedName, 'Zoë Émile');
  assert.equal(ok(node, 'list', {}).result.map((c: Contact) => c.id), [id]);
  assert.equal(ok(node, 'search', { q: 'ZOE emile' }).result.map((c: Contact) => c.id), [id]);
  assert.equal(ok(node, 'search', { q: 'nobody' }).result, []);
  const members = ok(node, 'members', {}).result;
  assert.equal(Object.keys(members[0]).sort(), ['address', 'id', 'incarnation', 'lastHeardMsAgo', 'name', 'state']);
  const stats = ok(node, 'stats', {}).result;
  assert.is(stats.contacts, 1);
  assert.ok(stats.client.requests >= 6);
  assert.is(ok(node, 'delete', { opId: 'del-1', id }).result.outcome, 'applied');
  assert.is(err(node, 'get', { id }).code, 'not-found');
  assert.equal(ok(node, 'list', {}).result, []);
});

test('update and resolve go through put and resolve with the read context', () => {
  const node = makeNode();
  const c = create(node, 'Ann').contact;
  const upd = ok(node, 'put', { opId: 'u1', patch: { kind: 'update', id: c.id, ops: [{ op: 'set', field: 'title', value: 'CEO' }] }, read: c.seen }).result;
  assert.is(upd.contact.title, 'CEO');
  const res = ok(node, 'resolve', { opId: 'r1', id: c.id, op: { op: 'set', field: 'formattedName', value: 'Anne' }, read: upd.contact.seen }).result;
  assert.is(res.contact.formattedName, 'Anne');
  assert.equal(ok(node, 'conflicts', {}).result, []);
});

test('a retried put (same opId) is applied once and answered alike', () => {
  const node = makeNode();
  const id = ulidFromRng(1_700_000_000_000, rng);
  const req = { opId: 'same-op', patch: { kind: 'create', contact: { id, formattedName: 'Once' } } };
  const first = ok(node, 'put', req).result;
  const again = ok(node, 'put', req).result;
  assert.is(first.outcome, 'applied');
  assert.is(again.outcome, 'duplicate');
  assert.equal(again.contact, first.contact);
  assert.is(ok(node, 'list', {}).result.length, 1);
  assert.is(node.replication.stats.writes, 1);
});

test('putMany: each write applied on its own, one refusal names its field and leaves the others; a retried batch applies nothing twice', () => {
  const node = makeNode();
  const ann = create(node, 'Ann').contact;
  const ids = [0, 1, 2].map(() => ulidFromRng(1_700_000_000_000, rng));
  const writes = [
    { opId: 'm0', patch: { kind: 'create', contact: { id: ids[0], formattedName: 'Bo' } } },
    { opId: 'm1', patch: { kind: 'create', contact: { id: ids[1], formattedName: 'Cy', emails: [{ uid: 'e1', value: 'not an email', types: [], pref: false }] } } },
    { opId: 'm2', patch: { kind: 'update', id: ann.id, ops: [{ op: 'set', field: 'title', value: 'CEO' }] }, read: ann.seen },
    { opId: 'm3', patch: { kind: 'create', contact: { id: ann.id, formattedName: 'Ann again' } } },
    { opId: 'm4', patch: { kind: 'create', contact: { id: ids[2], formattedName: 'Di' } } },
    { opId: 'm5', patch: { kind: 'delete', id: ids[0] } },
    'not a write',
  ];
  const first = ok(node, 'putMany', { writes }).result.results;
  assert.equal(first.map((r: any) => (typeof r === 'string' ? r : [r.id, r.code])), [
    'applied', [ids[1], 'invalid'], 'applied', [ann.id, 'exists'], 'applied', [ids[0], 'bad-request'], [undefined, 'invalid'],
  ]);
  assert.equal(first[1].issues.map((i: any) => i.path), ['emails[0].value']);
  assert.is(ok(node, 'get', { id: ann.id }).result.title, 'CEO');
  assert.is(node.replication.stats.writes, 4);
  const again = ok(node, 'putMany', { writes }).result.results;
  assert.equal(again.filter((r: any) => typeof r === 'string'), ['duplicate', 'duplicate', 'duplicate']);
  assert.is(node.replication.stats.writes, 4);
  assert.is(ok(node, 'list', {}).result.length, 3);
});

test('putMany: the batch is bounded, and the answer of a full batch fits one datagram', () => {
  const node = makeNode();
  assert.match(err(node, 'putMany', { writes: [] }).message, /1 to 100 writes/);
  const many = Array.from({ length: PUT_MANY_MAX + 1 }, (_, i) => ({ opId: `b${i}`, patch: { kind: 'create', contact: { id: ulidFromRng(1_700_000_000_000, rng), formattedName: 'X' } } }));
  assert.match(err(node, 'putMany', { writes: many }).message, /1 to 100 writes/);
  const { res, replyBytes } = ask(node, 'putMany', { writes: many.slice(0, PUT_MANY_MAX) });
  assert.ok(res?.ok);
  assert.ok(replyBytes <= 1400, `answer of ${replyBytes} bytes`);
  assert.is(JSON.parse(res.result).results.filter((r: any) => r === 'applied').length, PUT_MANY_MAX);
});

test('putMany: a hundred refusals with long reasons still fit one answer (cut, never the whole request refused)', () => {
  const node = makeNode();
  const long = 'x'.repeat(100);
  const writes = Array.from({ length: PUT_MANY_MAX }, (_, i) => ({
    opId: `long-${i}`,
    patch: { kind: 'create', contact: { id: ulidFromRng(1_700_000_000_000, rng), formattedName: 'X', [`${long}${i}`]: 1, [`${long}b${i}`]: 2, [`${long}c${i}`]: 3, [`${long}d${i}`]: 4 } },
  }));
  const { res } = ask(node, 'putMany', { writes });
  assert.ok(res?.ok, res?.result);
  const results = JSON.parse(res.result).results;
  assert.is(results.length, PUT_MANY_MAX);
  for (const r of results) assert.is(r.code, 'invalid');
  assert.ok(results.every((r: any) => r.issues === undefined && r.message.length <= 120), 'cut: issues dropped, messages short');
  assert.ok(res.result.length <= 50_000, `${res.result.length} characters`);
});

test('deltas pack several to a datagram, in order, within the room', () => {
  const d = (n: number) => new Uint8Array(n);
  const sizes = (packets: Uint8Array[][]) => packets.map((p) => p.map((m) => m.length));
  assert.equal(sizes(packDeltas([d(400), d(400), d(400), d(400)], 1000)), [[400, 400], [400, 400]]);
  assert.equal(sizes(packDeltas([d(2000), d(10), d(990), d(1)], 1000)), [[2000], [10, 990], [1]]);
  assert.equal(packDeltas([], 1000), []);
  assert.equal(packDeltas(Array.from({ length: 300 }, () => d(1)), 1000).map((p) => p.length), [255, 45]);
});

const BAD: [string, string, unknown, string | undefined, string, RegExp][] = [
  ['unknown op', 'frobnicate', {}, undefined, 'unknown-op', /use one of hello/],
  ['args not JSON', 'get', undefined, '{nope', 'bad-request', /not JSON/],
  ['args not an object', 'get', [1], undefined, 'bad-request', /JSON object/],
  ['unknown key', 'list', { aftr: 'x' }, undefined, 'bad-request', /takes no "aftr"/],
  ['get without id', 'get', {}, undefined, 'bad-request', /contact id/],
  ['bad cursor', 'list', { after: '../../etc' }, undefined, 'bad-request', /cursor/],
  ['limit 0', 'list', { limit: 0 }, undefined, 'bad-request', /limit/],
  ['empty search', 'search', { q: '   ' }, undefined, 'bad-request', /at least one word/],
  ['invalid write', 'put', { opId: 'x', patch: { kind: 'create', contact: { id: 'nope', formattedName: '' } } }, undefined, 'invalid', /contact\.id|id/],
  ['delete through put', 'put', { opId: 'x', patch: { kind: 'delete', id: '01HZZZZZZZZZZZZZZZZZZZZZZZ' } }, undefined, 'bad-request', /create or update/],
  ['update of nothing', 'put', { opId: 'x', patch: { kind: 'update', id: '01HZZZZZZZZZZZZZZZZZZZZZZZ', ops: [{ op: 'set', field: 'title', value: 't' }] } }, undefined, 'not-found', /./],
];

for (const [what, op, args, raw, code, message] of BAD) {
  test(`bad request: ${what} → ${code}`, () => {
    // A stranger's request, padded like the real client's so the whole message fits.
    const e = err(makeNode(), op, args, raw);
    assert.is(e.code, code);
    assert.match(e.message, message);
  });
}

test('errors to a stranger are never larger than the request', () => {
  const node = makeNode();
  for (const [op, args] of [['x', {}], ['get', {}], ['put', { opId: '!', patch: {} }], ['list', { limit: -1 }]] as const) {
    const { res, requestBytes, replyBytes } = ask(node, op, args);
    assert.ok(replyBytes <= requestBytes, `${op}: ${replyBytes} > ${requestBytes}`);
    if (res) assert.not.ok(res.ok);
  }
  assert.ok(node.client.stats.errorsTrimmed + node.client.stats.errorsWithheld > 0);
});

test('list pages by contact id: every contact once, pages within the budget', () => {
  const node = makeNode();
  // 1000 characters: the wire caps a field value at 1200 (LIMITS.maxEntryValueLength), below the model's 4000 for notes.
  const note = 'n'.repeat(1000);
  const ids = new Set<string>();
  for (let i = 0; i < 120; i++) ids.add(create(node, `Person ${i}`, { note }).contact.id);
  const seen: string[] = [];
  let after = '';
  let pages = 0;
  for (;;) {
    const { result, res } = ok(node, 'list', { after });
    pages++;
    seen.push(...result.map((c: Contact) => c.id));
    if (!res.more) break;
    after = res.cursor;
  }
  assert.ok(pages >= 3, `${pages} pages`);
  assert.equal(seen, [...ids].sort());
  // A small limit pages too.
  const first = ok(node, 'list', { limit: 5 });
  assert.is(first.result.length, 5);
  assert.ok(first.res.more);
  assert.is(ok(node, 'list', { after: first.res.cursor, limit: 5 }).result[0].id, seen[5]);
});

test('search folds case and diacritics, and finds phones by digits', () => {
  const c = {
    formattedName: 'Åsa Öberg', emails: [{ value: 'ASA@Example.org' }], phones: [{ value: '+1 (555) 010-0' }],
    org: { name: 'Société Générale', units: [] }, note: 'Met at FOSDEM',
  } as unknown as Contact;
  const table: [string, boolean][] = [['asa oberg', true], ['ÖBERG', true], ['example.org', true], ['societe', true], ['fosdem', true],
    ['5550100', true], ['555 0100', true], ['nobody', false], ['asa nobody', false]];
  for (const [q, want] of table) assert.is(matches(c, queryTerms(q)), want, q);
  assert.is(fold('Crème Brûlée'), 'creme brulee');
});

test('protocol/client does no I/O and reads no clock', () => {
  const dir = new URL('../../protocol/client/', import.meta.url);
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const src = readFileSync(new URL(file, dir), 'utf8');
    assert.not.match(src, /from 'node:|Date\.now|setTimeout|setInterval|Math\.random|performance\.now/, file);
  }
});

test('ASCII JSON: printable ASCII only, exactly the escape of every other UTF-16 unit, and the same value back', () => {
  const reference = (v: unknown) => (JSON.stringify(v) ?? 'null').replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const text = fc.string({ unit: fc.constantFrom('a', '"', '\\', '\n', '\u007f', '\u0080', 'é', '\u2028', '\ud800', '\udc00', '\u{1F600}', '中') });
  fc.assert(fc.property(fc.oneof(fc.jsonValue(), text), (v) => {
    const ascii = toAsciiJson(v);
    assert.is(ascii, reference(v));
    assert.ok(/^[\x20-\x7e]*$/.test(ascii));
    assert.equal(JSON.parse(ascii), JSON.parse(JSON.stringify(v) ?? 'null'));
  }), { numRuns: 2000 });
  assert.is(toAsciiJson(undefined), 'null');
});

test.run();
