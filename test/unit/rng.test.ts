import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SeededRng, shuffle } from '../../protocol/rng.ts';
import { TimerTable } from '../../protocol/timers.ts';
import { parseAddress, formatAddress } from '../../protocol/types.ts';

test('same seed, same stream; different seed, different stream', () => {
  const a = new SeededRng(42);
  const b = new SeededRng(42);
  const c = new SeededRng(43);
  const sa = Array.from({ length: 8 }, () => a.nextU32());
  const sb = Array.from({ length: 8 }, () => b.nextU32());
  const sc = Array.from({ length: 8 }, () => c.nextU32());
  assert.equal(sa, sb);
  assert.not.equal(sa, sc);
});

test('int(n) stays in range and covers it', () => {
  const r = new SeededRng(7);
  const seen = new Set<number>();
  for (let i = 0; i < 1000; i++) {
    const v = r.int(10);
    assert.ok(v >= 0 && v < 10 && Number.isInteger(v));
    seen.add(v);
  }
  assert.is(seen.size, 10);
});

test('shuffle is a permutation', () => {
  const xs = shuffle([1, 2, 3, 4, 5, 6, 7, 8, 9], new SeededRng(1));
  assert.equal([...xs].sort(), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test('timer table pops due entries in deadline order', () => {
  const t = new TimerTable();
  t.set('b', 20);
  t.set('a', 10);
  t.set('c', 30);
  assert.is(t.next(), 10);
  assert.equal(t.due(25).map((d) => d.key), ['a', 'b']);
  assert.is(t.next(), 30);
  t.clear('c');
  assert.is(t.next(), undefined);
});

test('timer table: the cached earliest deadline always equals a scan, through random sets, clears and pops', () => {
  const rng = new SeededRng(7);
  const t = new TimerTable();
  const model = new Map<string, number>();
  for (let step = 0; step < 5000; step++) {
    const key = `k${rng.int(8)}`;
    const op = rng.int(10);
    if (op < 6) {
      const at = rng.int(100);
      t.set(key, at);
      model.set(key, at);
    } else if (op < 9) {
      t.clear(key);
      model.delete(key);
    } else {
      const now = rng.int(100);
      const want = [...model].filter(([, at]) => at <= now).sort((x, y) => x[1] - y[1] || (x[0] < y[0] ? -1 : 1));
      assert.equal(t.due(now).map((d) => d.key), want.map(([k]) => k), `step ${step}`);
      for (const [k] of want) model.delete(k);
    }
    const min = model.size === 0 ? undefined : Math.min(...model.values());
    assert.is(t.next(), min, `step ${step}`);
  }
});

test('addresses parse and format, IPv6 bracketed', () => {
  const table: [string, { host: string; port: number } | undefined][] = [
    ['127.0.0.1:7700', { host: '127.0.0.1', port: 7700 }],
    ['[::1]:7700', { host: '::1', port: 7700 }],
    ['localhost:1', { host: 'localhost', port: 1 }],
    ['127.0.0.1', undefined],
    ['127.0.0.1:0', undefined],
    ['127.0.0.1:70000', undefined],
  ];
  for (const [input, want] of table) assert.equal(parseAddress(input), want, input);
  assert.is(formatAddress('::1', 5), '[::1]:5');
});

test.run();
