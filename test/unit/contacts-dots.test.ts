/**
 * The small parts of protocol/contacts: dot clouds (against a plain set of
 * dots, by fast-check), version vectors, the hybrid logical clock, ULIDs,
 * and the memory store's catch-up index and journal.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  cloudAbove, cloudAdd, cloudCount, cloudDots, cloudFromDots, cloudFromTopExtra, cloudHas, cloudMax, cloudMinus, cloudTop, cloudToTopExtra, cloudUnion,
  cloudWithFloor, vvMeet, EMPTY_CLOUD, type Dot, type DotCloud,
} from '../../protocol/contacts/dots.ts';
import { hlcCompare, hlcNext, HLC_ZERO } from '../../protocol/contacts/hlc.ts';
import { contactId, isContactId, ulid, ulidFromRng, ulidTimeMs } from '../../protocol/contacts/ids.ts';
import { MemoryStore } from '../../protocol/contacts/memory-store.ts';
import { emptyState, makeDelta, type Entry } from '../../protocol/contacts/state.ts';
import { SeededRng } from '../../protocol/rng.ts';
import { nodeId, type NodeId } from '../../protocol/types.ts';

const A = nodeId('aaaaaaaaaaaaaaaa');
const B = nodeId('bbbbbbbbbbbbbbbb');
const arbDot = fc.record({ origin: fc.constantFrom(A, B), seq: fc.integer({ min: 1, max: 40 }) }, { noNullPrototype: true });
const key = (d: Dot) => `${d.origin}:${d.seq}`;
const asSet = (c: DotCloud) => new Set([...cloudDots(c)].map(key));

test('a dot cloud holds exactly the dots added, in canonical form', () => {
  fc.assert(
    fc.property(fc.array(arbDot, { maxLength: 60 }), fc.array(arbDot, { maxLength: 60 }), (xs, ys) => {
      const a = xs.reduce(cloudAdd, EMPTY_CLOUD);
      const b = cloudFromDots(ys);
      const u = cloudUnion(a, b);
      const want = new Set([...xs, ...ys].map(key));
      assert.equal(asSet(u), want);
      assert.is(cloudCount(u), want.size);
      for (const d of [...xs, ...ys, { origin: A, seq: 41 }]) assert.is(cloudHas(u, d), want.has(key(d)));
      assert.equal(u, cloudUnion(b, a), 'canonical: the same set is the same value');
      assert.equal(cloudFromTopExtra(cloudToTopExtra(u)), u);
      const ys2 = new Set(ys.map(key));
      const minus = cloudMinus(a, b);
      assert.equal(asSet(minus), new Set(xs.map(key).filter((k) => !ys2.has(k))));
      assert.equal(minus, cloudFromDots([...cloudDots(minus)]), 'a difference is canonical');
      assert.equal(cloudFromDots([...ys].reverse()), b, 'any order of dots makes the same cloud');
    }),
    { numRuns: 300 },
  );
});

test('floors: above drops, withFloor adds, top and max read the vector parts', () => {
  const c = cloudFromDots([1, 2, 3, 5, 7, 8].map((seq) => ({ origin: A, seq })));
  assert.equal(cloudTop(c), { [A]: 3 });
  assert.equal(cloudMax(c), { [A]: 8 });
  assert.equal(cloudAbove(c, { [A]: 5 }), { [A]: [7, 8] });
  assert.equal(cloudAbove(c, { [A]: 8 }), {});
  assert.equal(cloudWithFloor(c, { [A]: 6, [B]: 2 }), { [A]: [1, 8], [B]: [1, 2] });
  assert.equal(vvMeet([{ [A]: 3, [B]: 1 }, { [A]: 2 }]), { [A]: 2 });
});

test('the HLC never goes back, follows physical time, and breaks ties with its counter', () => {
  const t1 = hlcNext(HLC_ZERO, 100);
  const t2 = hlcNext(t1, 90); // the wall clock stepped back
  const t3 = hlcNext(t2, 200);
  assert.equal([t1, t2, t3], [{ wallMs: 100, logical: 0 }, { wallMs: 100, logical: 1 }, { wallMs: 200, logical: 0 }]);
  assert.ok(hlcCompare(t1, t2) < 0 && hlcCompare(t2, t3) < 0);
});

test('ULIDs: time first (so they sort by time), canonical, round-trip their time', () => {
  const id = ulid(1_700_000_000_000, new Uint8Array(10).fill(255));
  assert.is(id, '01HF7YAT00ZZZZZZZZZZZZZZZZ');
  assert.is(ulidTimeMs(id), 1_700_000_000_000);
  assert.ok(isContactId(id));
  const rng = new SeededRng(1);
  const ids = [1, 2, 3].map((t) => ulidFromRng(t, rng));
  assert.equal([...ids].sort(), ids);
  assert.ok(isContactId('123e4567-e89b-12d3-a456-426614174000'));
  assert.not.ok(isContactId(id.toLowerCase()));
  assert.throws(() => ulid(-1, new Uint8Array(10)));
  assert.throws(() => ulid(0, new Uint8Array(9)));
});

const ID1 = contactId('01J00000000000000000000001');
const ID2 = contactId('01J00000000000000000000002');
const entry = (origin: NodeId, seq: number): Entry => ({ key: '$live', uid: '', value: true, dot: { origin, seq }, hlc: HLC_ZERO });

test('the catch-up index answers "contacts touched by X after seq c", oldest first, resumable', () => {
  const s = new MemoryStore();
  s.put(makeDelta(ID1, [entry(A, 1), entry(A, 2)], []));
  s.put(makeDelta(ID2, [entry(A, 3)], []));
  s.put(makeDelta(ID1, [entry(A, 4)], [{ origin: A, seq: 2 }]));
  assert.equal(s.touchedAfter(A, 0, 10), { ids: [ID1, ID2], throughSeq: 4, done: true });
  assert.equal(s.touchedAfter(A, 0, 1), { ids: [ID1], throughSeq: 2, done: false });
  assert.equal(s.touchedAfter(A, 2, 10), { ids: [ID2, ID1], throughSeq: 4, done: true });
  assert.equal(s.touchedAfter(B, 0, 10), { ids: [], throughSeq: 0, done: true });
  s.pruneIndex({ [A]: 3 });
  assert.equal(s.touchedAfter(A, 0, 10), { ids: [ID1], throughSeq: 4, done: true });
  assert.equal(s.indexFloor(), { [A]: 3 });
  s.forget(ID1);
  assert.equal(s.touchedAfter(A, 0, 10), { ids: [], throughSeq: 0, done: true });
});

test('a catch-up page passes over the dots the asker holds and stops at the seq it is given', () => {
  const s = new MemoryStore();
  const ID3 = contactId('01J00000000000000000000003');
  s.put(makeDelta(ID1, [entry(A, 1)], []));
  s.put(makeDelta(ID2, [entry(A, 2)], []));
  s.put(makeDelta(ID3, [entry(A, 3)], []));
  s.put(makeDelta(ID1, [entry(A, 4)], [{ origin: A, seq: 1 }]));
  // The asker holds 2..3: only ID1 (dots 1 and 4) is missing.
  assert.equal(s.touchedAfter(A, 0, 10, { skip: [2, 3] }), { ids: [ID1], throughSeq: 4, done: true });
  // It holds 1 and 4 (ID1 whole): ID2 and ID3.
  assert.equal(s.touchedAfter(A, 0, 10, { skip: [1, 1, 4, 4] }), { ids: [ID2, ID3], throughSeq: 4, done: true });
  // Nothing above 2: ID1, ID2; the page is complete up to 2.
  assert.equal(s.touchedAfter(A, 0, 10, { through: 2 }), { ids: [ID1, ID2], throughSeq: 2, done: true });
  // A full page still resumes where it stopped, skipped dots counted as passed.
  assert.equal(s.touchedAfter(A, 0, 1, { skip: [1, 1] }), { ids: [ID2], throughSeq: 2, done: false });
});

test('the memory store pages in id order, tracks tombstones and journals every change', () => {
  const s = new MemoryStore({ journal: true });
  s.put(makeDelta(ID2, [entry(A, 1)], []));
  s.put(makeDelta(ID1, [{ ...entry(A, 2), key: '$del' }], []));
  assert.equal(s.page(undefined, 10).map((x) => x.id), [ID1, ID2]);
  assert.equal(s.page(ID1, 10).map((x) => x.id), [ID2]);
  assert.equal(s.tombstones(), [ID1]);
  s.put(emptyState(ID2));
  s.setClock({ wallMs: 5, logical: 0 });
  assert.equal(s.drainChanges().map((c) => c.kind), ['put', 'put', 'put', 'clock']);
  assert.equal(s.drainChanges(), []);
});

test('protocol/contacts stays pure: no I/O imports, no clock, no timers, no entropy', () => {
  const dir = new URL('../../protocol/contacts/', import.meta.url);
  const forbidden = [/from 'node:(?!crypto)/, /\bDate\.now\b/, /\bnew Date\(/, /\bMath\.random\b/, /\bset(?:Timeout|Interval|Immediate)\b/, /\bperformance\.now\b/, /\bgetRandomValues\b/, /\bprocess\./];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(new URL(file, dir), 'utf8');
    for (const re of forbidden) assert.not.match(text, re, `${file} matches ${re}`);
  }
});

test.run();
