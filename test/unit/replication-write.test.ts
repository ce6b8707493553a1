/**
 * A write must never be acknowledged if its contact cannot reach the other
 * members: the node refuses one whose state would not fit a replication
 * packet. The check uses a cheap bound (repStateBytesBound) and encodes
 * only when the bound is over the limit, so the bound must never be below
 * the real size: a property test holds it to that on random states,
 * non-ASCII, quotes and control characters included.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { ClusterNode } from '../../protocol/node.ts';
import { SeededRng } from '../../protocol/rng.ts';
import { address, nodeId, type NodeId } from '../../protocol/types.ts';
import { contactId, opId } from '../../protocol/contacts/ids.ts';
import type { ContactState, Entry } from '../../protocol/contacts/state.ts';
import type { FieldKey } from '../../protocol/contacts/model.ts';
import { encodeMessage } from '../../protocol/wire/codec.ts';
import { MAX_STATE_BYTES } from '../../protocol/replication/replication.ts';
import { fromRepState, repStateBytesBound, toRepState } from '../../protocol/replication/wire-state.ts';
import { entryJson } from '../../protocol/contacts/entry-json.ts';
import { toAsciiJson } from '../../protocol/client/json.ts';

const rec = <T>(shape: { [K in keyof T]: fc.Arbitrary<T[K]> }) => fc.record(shape, { noNullPrototype: true });
const NODES = ['a', 'b', 'c'].map((c) => nodeId(c.repeat(16)));
const arbText = fc.string({ unit: fc.oneof(fc.constantFrom('a', '"', '\\', '\n', '\u0001', 'é', '中', '\u{1F600}'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 40 });
/** Text the wire takes as a key or uid: printable, any script. */
const arbName = fc.string({ unit: fc.constantFrom('a', 'Z', '-', 'é', '中', '\u{1F600}'), maxLength: 20 });
const arbValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    arbText,
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(arbText, tie('v'), { maxKeys: 4, noNullPrototype: true }),
  ),
})).v;
const arbEntry = rec({
  key: fc.constantFrom('formattedName', 'phones', 'x:X-ÜBER', '$op'),
  uid: fc.oneof(fc.constant(''), arbName),
  value: arbValue,
  origin: fc.constantFrom(...NODES),
  seq: fc.integer({ min: 1, max: 2 ** 40 }),
  wallMs: fc.integer({ min: 0, max: 2 ** 48 }),
  logical: fc.nat(70_000),
});
const arbState = rec({
  entries: fc.array(arbEntry, { maxLength: 12 }),
  ctx: fc.dictionary(fc.constantFrom(...NODES), fc.array(fc.integer({ min: 1, max: 2 ** 40 }), { minLength: 1, maxLength: 6 }), { noNullPrototype: true }),
  floor: fc.dictionary(fc.constantFrom(...NODES), fc.integer({ min: 1, max: 2 ** 40 }), { noNullPrototype: true }),
}).map(({ entries, ctx, floor }): ContactState => ({
  id: contactId('01J00000000000000000000000'),
  // One entry per dot, sorted by dot, as states are.
  entries: [...new Map(entries.map((e) => [`${e.origin}:${e.seq}`, e])).values()]
    .sort((x, y) => (x.origin < y.origin ? -1 : x.origin > y.origin ? 1 : x.seq - y.seq))
    .map((e): Entry => ({ key: e.key as FieldKey, uid: e.uid, value: e.value, dot: { origin: e.origin as NodeId, seq: e.seq }, hlc: { wallMs: e.wallMs, logical: e.logical } })),
  ctx: Object.fromEntries(Object.entries(ctx).map(([o, seqs]) => {
    const sorted = [...new Set(seqs)].sort((a, b) => a - b);
    // Disjoint, non-adjacent ranges: every other sorted seq, paired.
    const ranges: number[] = [];
    for (const s of sorted) if (ranges.length === 0 || s > ranges[ranges.length - 1]! + 1) ranges.push(s, s);
    return [o, ranges];
  })),
  floor,
}));

test('the size bound is never below the encoded size of a state', () => {
  fc.assert(
    fc.property(arbState, fc.boolean(), fc.nat(2 ** 31), (s, full, batch) => {
      const exact = encodeMessage(toRepState(s, { reply: !full, full, batch })).length;
      assert.ok(repStateBytesBound(s) >= exact, `bound ${repStateBytesBound(s)} < ${exact}`);
    }),
    { numRuns: 300 },
  );
});

test('an entry\'s text is its value as printable-ASCII JSON, the same whenever it is made', () => {
  fc.assert(
    fc.property(arbState, (s) => {
      const m = toRepState(s, { reply: false, full: true, batch: 0 });
      for (const [k, e] of s.entries.entries()) {
        assert.is(m.entries[k]![2], toAsciiJson(e.value));
        assert.is(entryJson(e), toAsciiJson(e.value));
      }
    }),
    { numRuns: 200 },
  );
  // What a peer sent is not kept: a padded text comes back out canonical (the size checked is the size sent).
  const origin = NODES[1]!;
  const sent = fromRepState({ id: '01J00000000000000000000000', entries: [['note', '', '"Zo\\u00eb"  ', origin, 1, 5, 0]], ctx: [{ origin, ranges: [1, 1] }], stable: [] })!;
  assert.is(entryJson(sent.entries[0]!), '"Zo\\u00eb"');
});

function newNode(): ClusterNode {
  return new ClusterNode({ id: NODES[0]!, addr: address('127.0.0.1:7700'), rng: new SeededRng(1), now: 1_000 });
}

const photo = { mediaType: 'image/png' as const, base64: `iVBORw0KGgo${'A'.repeat(43_677)}` };

test('a write whose contact would not fit a replication packet is refused, and nothing is stored', () => {
  const node = newNode();
  const id = contactId('01J0000000000000000000000A');
  const out = node.replication.write(2_000, { opId: opId('w1'), patch: { kind: 'create', contact: { id, formattedName: 'Zoë', photo, note: 'é'.repeat(4000) } } });
  assert.equal(out.kind, 'rejected');
  if (out.kind === 'rejected') {
    assert.equal(out.error.code, 'too-large');
    assert.match(out.error.message, new RegExp(`over the ${MAX_STATE_BYTES}-byte limit`));
  }
  assert.equal(node.replication.store.get(id), undefined);
  assert.equal(node.replication.stats.writesRejected, 1);
});

test('a large contact that fits is taken', () => {
  const node = newNode();
  const id = contactId('01J0000000000000000000000B');
  const out = node.replication.write(2_000, { opId: opId('w2'), patch: { kind: 'create', contact: { id, formattedName: 'Zoe', photo, note: 'e'.repeat(4000) } } });
  assert.equal(out.kind, 'applied');
  assert.ok(node.replication.store.get(id));
});

test.run();
