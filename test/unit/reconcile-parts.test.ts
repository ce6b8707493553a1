/**
 * The pieces of digest repair on their own: the item set and its digest, the
 * symbol mapping, the estimator, chunk reassembly, message sizes and the
 * sizing policy.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { encode } from 'cbor-x';
import { ItemSet } from '../../protocol/reconcile/item-set.ts';
import { SetDigest } from '../../protocol/reconcile/digest.ts';
import { mappingProbability } from '../../protocol/reconcile/hash.ts';
import { SymbolArray, SymbolEncoder, mapsTo } from '../../protocol/reconcile/symbols.ts';
import { estimateFromCells, estimatorBytes, estimatorCells } from '../../protocol/reconcile/estimator.ts';
import { ChunkAssembler } from '../../protocol/reconcile/assembler.ts';
import { encodedBytes, unitsPerMessage, type ReconcileMessage } from '../../protocol/reconcile/messages.ts';
import { firstBatchSymbols, listIsCheaper, symbolsForEstimate, symbolsForResidual } from '../../protocol/reconcile/policy.ts';
import { SeededRng } from '../../protocol/rng.ts';

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const asc = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);

function randomItems(seed: number, n: number): bigint[] {
  const rng = new SeededRng(seed);
  return Array.from({ length: n }, () => (BigInt(rng.nextU32()) << 32n) | BigInt(rng.nextU32()));
}

test('ItemSet.from sorts, dedupes, and answers membership', () => {
  fc.assert(
    fc.property(fc.array(u64, { maxLength: 200 }), u64, (xs, probe) => {
      const set = ItemSet.from(xs);
      const want = [...new Set(xs)].sort(asc);
      assert.equal([...set.items], want);
      assert.is(set.has(Number(probe >> 32n), Number(probe & 0xffffffffn)), want.includes(probe));
    }),
    { numRuns: 200, seed: 1 },
  );
});

test('withChanges equals a rebuild, digest included, and leaves the old snapshot alone', () => {
  const model = fc.record(
    { base: fc.array(u64, { maxLength: 300 }), added: fc.array(u64, { maxLength: 50 }), removedPick: fc.array(fc.nat(), { maxLength: 50 }) },
    { noNullPrototype: true },
  );
  fc.assert(
    fc.property(model, ({ base, added, removedPick }) => {
      const before = ItemSet.from(base);
      const removed = removedPick.map((k) => (before.size > 0 && k % 2 === 0 ? before.items[k % before.size]! : BigInt(k)));
      const after = before.withChanges(added, removed);
      const dropped = new Set(removed);
      const want = ItemSet.from([...base.filter((x) => !dropped.has(x)), ...added.filter((x) => !dropped.has(x) || !before.items.includes(x))]);
      // An item both removed and added ends up present only if it was absent before (removal applies to the old set).
      assert.equal([...after.items], [...want.items]);
      assert.ok(after.digest.matches(want.digest.count, want.digest.fingerprint()), 'incremental digest');
      assert.equal([...before.items], [...ItemSet.from(base).items], 'old snapshot unchanged');
    }),
    { numRuns: 200, seed: 2 },
  );
});

test('digest: order-independent, add/remove inverse, different sets differ', () => {
  const xs = randomItems(3, 500);
  const a = ItemSet.from(xs);
  const b = ItemSet.from([...xs].reverse());
  assert.equal(a.digest.fingerprint(), b.digest.fingerprint());
  const d = new SetDigest();
  d.add(1, 2);
  d.add(3, 4);
  d.remove(1, 2);
  d.remove(3, 4);
  assert.ok(d.matches(0, new SetDigest().fingerprint()));
  const c = ItemSet.from(xs.slice(1));
  assert.not.ok(a.digest.matches(c.digest.count, c.digest.fingerprint()));
  assert.not.equal(c.digest.fingerprint(), ItemSet.from([...xs.slice(2), 7n]).digest.fingerprint());
});

test('the mapping hits index k with probability 2/(k+2), and mapsTo agrees with the encoder', () => {
  const n = 20_000;
  const enc = new SymbolEncoder(77);
  const xs = randomItems(4, n);
  for (const x of xs) enc.add(Number(x >> 32n), Number(x & 0xffffffffn));
  const sym = new SymbolArray();
  enc.extend(64, sym);
  // Count, per index, the items that map there.
  const hits = new Array<number>(64).fill(0);
  for (const x of xs) for (let k = 0; k < 64; k++) if (mapsTo(Number(x >> 32n), Number(x & 0xffffffffn), 77, k)) hits[k]!++;
  assert.is(hits[0], n);
  for (const k of [1, 2, 5, 20, 63]) {
    const want = n * mappingProbability(k);
    assert.ok(Math.abs(hits[k]! - want) < 5 * Math.sqrt(want), `index ${k}: ${hits[k]} hits, expected ${want.toFixed(0)}`);
  }
  // Symbol 0 is the XOR of all keys.
  let hi = 0;
  for (const x of xs) hi ^= Number(x >> 32n);
  assert.is(sym.hi[0], hi >>> 0);
});

test('estimator: within a factor 2 of the true difference from 3 to 20,000', () => {
  for (const d of [3, 10, 100, 1_000, 20_000]) {
    const all = randomItems(d, d);
    const mine = ItemSet.from(all.slice(0, d >> 1));
    const theirs = ItemSet.from(all.slice(d >> 1));
    const maxCount = 100_000;
    const cells = (s: ItemSet) => estimatorCells(s.words, maxCount, 5);
    assert.is(cells(mine).length, estimatorBytes(maxCount));
    const estimate = estimateFromCells(cells(mine), cells(theirs), maxCount, 1);
    assert.ok(estimate >= d / 2 && estimate <= 2 * d, `d ${d}: estimate ${estimate}`);
  }
});

test('assembler: any order, duplicates and overlaps give the same prefix; gaps name what is missing', () => {
  const got: number[] = [];
  const asm = new ChunkAssembler(1, (bytes, offset, count) => got.push(...bytes.subarray(offset, offset + count)), 100);
  const chunk = (from: number, to: number) => Uint8Array.from({ length: to - from }, (_, i) => from + i);
  assert.ok(asm.accept(10, chunk(10, 20)));
  assert.equal(asm.gaps(30, 8), [[0, 10], [20, 30]]);
  asm.accept(5, chunk(5, 12)); // overlaps a pending chunk
  asm.accept(0, chunk(0, 6));
  assert.is(asm.prefix, 20);
  asm.accept(0, chunk(0, 6)); // duplicate behind the prefix
  asm.accept(15, chunk(15, 25)); // overlaps the prefix
  assert.is(asm.prefix, 25);
  assert.equal(got, Array.from({ length: 25 }, (_, i) => i));
  assert.not.ok(asm.accept(500, chunk(500, 501)), 'too far ahead');
  assert.not.ok(new ChunkAssembler(12, () => {}, 10).accept(0, new Uint8Array(13)), 'not whole units');
});

test('encodedBytes is exactly the cbor-x size of every message shape', () => {
  const bytes = (n: number) => new Uint8Array(n);
  const sizes = [0, 1, 23, 24, 255, 256, 4_294_967_295];
  for (const v of sizes) {
    const msgs: ReconcileMessage[] = [
      { type: 'rcHello', sid: v, n: v, fp: bytes(16) },
      { type: 'rcEqual', sid: v },
      { type: 'rcDiffer', sid: v, n: v, fp: bytes(16), end: v, sym: bytes(12 * (v % 100)) },
      { type: 'rcEstimate', sid: v, from: v, cells: bytes(75) },
      { type: 'rcMore', sid: v, from: v, upTo: v },
      { type: 'rcSymbols', sid: v, at: v, end: v, sym: bytes(12 * 111) },
      { type: 'rcList', sid: v, from: v, upTo: v },
      { type: 'rcItems', sid: v, at: v, end: v, items: bytes(8 * (v % 300)) },
      { type: 'rcDone', sid: v },
    ];
    for (const m of msgs) assert.is(encodedBytes(m), encode(m).length, `${m.type} with ${v}`);
  }
  for (const budget of [160, 576, 1400, 9000]) {
    const k = unitsPerMessage('rcSymbols', 12, budget);
    const widest: ReconcileMessage = { type: 'rcSymbols', sid: 0xffffffff, at: 0xffffffff, end: 0xffffffff, sym: bytes(12 * k) };
    assert.ok(encode(widest).length <= budget, `budget ${budget}`);
    assert.ok(encodedBytes({ ...widest, sym: bytes(12 * (k + 1)) }) > budget - 12, `budget ${budget} is well used`);
  }
});

test('policy: batches grow with the estimate and cover the measured 1.37·d; the list wins for huge d', () => {
  assert.is(firstBatchSymbols(0), 4);
  assert.is(firstBatchSymbols(2), 4);
  let last = 0;
  for (const d of [1, 3, 10, 30, 64, 65, 100, 1_000, 100_000]) {
    const n = symbolsForEstimate(d);
    assert.ok(n > last && n >= 1.37 * d, `estimate ${d} → ${n}`);
    assert.ok(symbolsForResidual(d) >= n - 1 || d <= 64, `residual ${d}`);
    last = n;
  }
  assert.ok(listIsCheaper(70_000, 50_000));
  assert.not.ok(listIsCheaper(1_500, 100_000));
});

test('protocol/reconcile stays pure: no I/O, no clock, no ambient randomness', () => {
  const dir = fileURLToPath(new URL('../../protocol/reconcile/', import.meta.url));
  const forbidden = /node:(dgram|net|fs|http|child_process)|\bDate\.now\b|\bsetTimeout\b|\bsetInterval\b|\bMath\.random\b|\bperformance\.now\b/;
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const code = readFileSync(dir + name, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
    assert.not.ok(forbidden.test(code), `${name}: ${forbidden.exec(code)?.[0]}`);
  }
});

test.run();
