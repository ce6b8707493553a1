/**
 * Digest repair end to end: the initiator must recover exactly the symmetric
 * difference, over a perfect link and over one that loses, duplicates and
 * reorders messages (seeded), with every message inside the datagram budget.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { encode } from 'cbor-x';
import { ItemSet } from '../../protocol/reconcile/item-set.ts';
import { ReconcileInitiator } from '../../protocol/reconcile/initiator.ts';
import { ReconcileResponder } from '../../protocol/reconcile/responder.ts';
import { runLoopback } from '../../protocol/reconcile/loopback.ts';
import type { ReconcileMessage } from '../../protocol/reconcile/messages.ts';
import { SeededRng } from '../../protocol/rng.ts';

interface Case {
  local: ItemSet;
  remote: ItemSet;
}

/** Random 64-bit items, or (clustered) consecutive integers from a random start: structured keys. */
function items(rng: SeededRng, n: number, clustered: boolean): BigUint64Array {
  const out = new BigUint64Array(n);
  const start = (BigInt(rng.nextU32()) << 32n) | BigInt(rng.nextU32() & 0xffff0000);
  for (let i = 0; i < n; i++) out[i] = clustered ? start + BigInt(i) : (BigInt(rng.nextU32()) << 32n) | BigInt(rng.nextU32());
  return out;
}

/** A shared base of `common` items plus `d` differing items split at random between the sides. */
function makeCase(seed: number, common: number, d: number, clustered = false, split = 0.5): Case {
  const rng = new SeededRng(seed, common, d);
  const base = items(rng, common, false);
  const extra = items(rng, d, clustered);
  const local: bigint[] = [...base];
  const remote: bigint[] = [...base];
  for (const x of extra) (rng.next() < split ? local : remote).push(x);
  return { local: ItemSet.from(local), remote: ItemSet.from(remote) };
}

function bytesOf(msg: ReconcileMessage): number {
  return encode(msg).length;
}

/** Checks the initiator's answer against a direct merge of both sets. */
function assertExact(ini: ReconcileInitiator, c: Case, what: string): void {
  assert.is(ini.phase, 'done', `${what}: finished`);
  const want = c.local.differenceWith(c.remote);
  assert.equal(ini.result!.localOnly, want.localOnly, `${what}: localOnly`);
  assert.equal(ini.result!.remoteOnly, want.remoteOnly, `${what}: remoteOnly`);
}

function runClean(c: Case, sid: number, budgetBytes = 1400): { bytes: number; roundTrips: number; ini: ReconcileInitiator } {
  const ini = new ReconcileInitiator(c.local, { sid, budgetBytes });
  const res = new ReconcileResponder(c.remote, { budgetBytes });
  let bytes = 0;
  const stats = runLoopback(ini, res, (m) => {
    const size = bytesOf(m);
    assert.ok(size <= budgetBytes, `${m.type} is ${size} bytes, budget ${budgetBytes}`);
    bytes += size;
  });
  assert.is(res.status, ini.result?.via === 'fingerprint' ? 'equal' : 'done', 'the responder knows the session ended');
  return { bytes, roundTrips: stats.roundTrips, ini };
}

/**
 * Delivers one random in-flight message at a time; each sent message is lost
 * with probability `loss` and duplicated with probability `dup`. When nothing
 * is in flight (or, sometimes, early) the driver fires the initiator's timeout.
 */
function runLossy(c: Case, seed: number, loss: number, dup: number, budgetBytes = 1400): { ini: ReconcileInitiator; timeouts: number } {
  const rng = new SeededRng(seed);
  const ini = new ReconcileInitiator(c.local, { sid: rng.nextU32(), budgetBytes });
  const res = new ReconcileResponder(c.remote, { budgetBytes });
  const wire: { msg: ReconcileMessage; toResponder: boolean }[] = [];
  const send = (msgs: ReconcileMessage[], toResponder: boolean): void => {
    for (const msg of msgs) {
      assert.ok(bytesOf(msg) <= budgetBytes, `${msg.type} over budget`);
      if (rng.next() < loss) continue;
      wire.push({ msg, toResponder });
      if (rng.next() < dup) wire.push({ msg, toResponder });
    }
  };
  send(ini.start(), true);
  let timeouts = 0;
  for (let steps = 0; ini.phase !== 'done' && ini.phase !== 'failed'; steps++) {
    assert.ok(steps < 200_000 && timeouts < 2_000, `seed ${seed}: no progress (phase ${ini.phase})`);
    if (wire.length === 0 || rng.next() < 0.01) {
      timeouts++;
      send(ini.handleTimeout(), true);
      continue;
    }
    const { msg, toResponder } = wire.splice(rng.int(wire.length), 1)[0]!;
    if (toResponder) send(res.handle(msg), false);
    else send(ini.handle(msg), true);
  }
  return { ini, timeouts };
}

test('table: exact difference for 0 … large, scattered and clustered, within budget', () => {
  const table: [common: number, d: number, clustered: boolean][] = [
    [5_000, 0, false],
    [5_000, 1, false],
    [5_000, 1, true],
    [5_000, 10, false],
    [5_000, 10, true],
    [5_000, 100, false],
    [5_000, 100, true],
    [20_000, 1_000, false],
    [20_000, 1_000, true],
    [2_000, 8_000, false], // far larger than the common part: ends in the item list
    [0, 0, false], // both empty
  ];
  for (const [common, d, clustered] of table) {
    const c = makeCase(7, common, d, clustered);
    assertExact(runClean(c, 1000 + d).ini, c, `common ${common} d ${d}${clustered ? ' clustered' : ''}`);
  }
});

test('one side empty, either way round', () => {
  const full = ItemSet.from(items(new SeededRng(3), 3_000, false));
  const empty = ItemSet.empty();
  for (const c of [{ local: full, remote: empty }, { local: empty, remote: full }]) {
    const { ini } = runClean(c, 42);
    assertExact(ini, c, `local ${c.local.size}, remote ${c.remote.size}`);
    assert.is(ini.result!.via, 'list');
  }
});

test('the byte and round-trip targets hold at 100,000 items for 0, 1, 10 and 1,000 differences', () => {
  const targets: [d: number, maxBytes: number, maxRoundTrips: number][] = [
    [0, 128, 1],
    [1, 200, 1],
    [10, 1_000, 2],
    [1_000, 40_000, 3],
  ];
  for (const [d, maxBytes, maxRoundTrips] of targets) {
    const c = makeCase(11, 100_000 - Math.ceil(d / 2), d);
    const { bytes, roundTrips, ini } = runClean(c, 77);
    assertExact(ini, c, `d ${d}`);
    assert.ok(bytes <= maxBytes, `d ${d}: ${bytes} bytes > ${maxBytes}`);
    assert.ok(roundTrips <= maxRoundTrips, `d ${d}: ${roundTrips} round trips > ${maxRoundTrips}`);
  }
});

test('no difference: one message each way, each at most 64 bytes', () => {
  const c = makeCase(5, 100_000, 0);
  const sizes: number[] = [];
  const ini = new ReconcileInitiator(c.local, { sid: 0xffffffff });
  runLoopback(ini, new ReconcileResponder(c.remote), (m) => sizes.push(bytesOf(m)));
  assert.is(sizes.length, 2);
  assert.ok(sizes.every((s) => s <= 64), `sizes ${sizes}`);
  assert.is(ini.result!.via, 'fingerprint');
});

test('loss, duplication and reordering never change the answer', () => {
  const table: [common: number, d: number, loss: number, dup: number][] = [
    [3_000, 0, 0.3, 0.3],
    [3_000, 1, 0.3, 0.3],
    [3_000, 10, 0.2, 0.2],
    [3_000, 300, 0.2, 0.2],
    [3_000, 2_000, 0.1, 0.1],
    [500, 6_000, 0.2, 0.2], // item list under loss
  ];
  for (const [common, d, loss, dup] of table) {
    for (let seed = 1; seed <= 4; seed++) {
      const c = makeCase(seed, common, d);
      assertExact(runLossy(c, seed * 7919 + d, loss, dup).ini, c, `seed ${seed} d ${d} loss ${loss}`);
    }
  }
});

test('property: random sets, splits, budgets and lossy links all reconcile exactly', () => {
  const model = fc.record(
    {
      seed: fc.integer({ min: 0, max: 0x7fffffff }),
      common: fc.integer({ min: 0, max: 400 }),
      d: fc.integer({ min: 0, max: 400 }),
      split: fc.double({ min: 0, max: 1, noNaN: true }),
      clustered: fc.boolean(),
      loss: fc.double({ min: 0, max: 0.3, noNaN: true }),
      dup: fc.double({ min: 0, max: 0.3, noNaN: true }),
      budgetBytes: fc.integer({ min: 160, max: 1400 }),
    },
    { noNullPrototype: true },
  );
  fc.assert(
    fc.property(model, (p) => {
      const c = makeCase(p.seed, p.common, p.d, p.clustered, p.split);
      assertExact(runLossy(c, p.seed, p.loss, p.dup, p.budgetBytes).ini, c, JSON.stringify(p));
    }),
    { numRuns: 150, seed: 20240611 },
  );
});

test('corrupted symbols never produce a wrong answer', () => {
  const c = makeCase(9, 4_000, 200);
  const ini = new ReconcileInitiator(c.local, { sid: 5 });
  const res = new ReconcileResponder(c.remote);
  let flips = 0;
  let flight = ini.start();
  while (flight.length > 0) {
    const replies = flight.flatMap((m) => res.handle(m));
    flight = replies.flatMap((m) => {
      if (m.type === 'rcSymbols' && flips < 3) {
        const sym = m.sym.slice();
        sym[flips * 12 + 3]! ^= 0x40; // one bit of one key in the first few messages
        flips++;
        return ini.handle({ ...m, sym });
      }
      return ini.handle(m);
    });
  }
  if (ini.phase === 'done') assertExact(ini, c, 'corrupted stream');
  else assert.is(ini.phase, 'failed');
});

test('malformed or foreign messages are dropped and counted, not thrown', () => {
  const c = makeCase(4, 1_000, 20);
  const ini = new ReconcileInitiator(c.local, { sid: 9 });
  const res = new ReconcileResponder(c.remote);
  const hello = ini.start()[0]!;
  assert.equal(res.handle({ type: 'rcMore', sid: 9, from: 0, upTo: 10 }), [], 'before hello');
  const replies = res.handle(hello);
  assert.equal(res.handle({ type: 'rcSymbols', sid: 9, at: 0, end: 1, sym: new Uint8Array(12) }), []);
  assert.equal(res.handle({ type: 'rcMore', sid: 10, from: 0, upTo: 10 }), [], 'other session');
  assert.equal(res.handle({ type: 'rcMore', sid: 9, from: 5, upTo: 5 }), [], 'empty range');
  assert.is(res.dropped, 4);
  assert.equal(ini.handle({ type: 'rcSymbols', sid: 9, at: 0, end: 4, sym: new Uint8Array(13) }), []);
  assert.equal(ini.handle({ type: 'rcEqual', sid: 8 }), []);
  assert.equal(ini.handle({ type: 'rcHello', sid: 9, n: 1, fp: new Uint8Array(16) }), []);
  assert.is(ini.dropped, 3);
  for (const r of replies) ini.handle(r);
  assert.ok(ini.phase === 'symbols' || ini.phase === 'done');
});

test('an initiator that hears nothing gives up after maxRetries timeouts', () => {
  const c = makeCase(2, 100, 5);
  const ini = new ReconcileInitiator(c.local, { sid: 1, maxRetries: 3 });
  ini.start();
  for (let i = 0; i < 3; i++) assert.is(ini.handleTimeout()[0]?.type, 'rcHello');
  assert.equal(ini.handleTimeout(), []);
  assert.is(ini.phase, 'failed');
});

test('a responder answers one request with at most maxMessagesPerFlight messages', () => {
  const c = makeCase(6, 1_000, 3_000);
  const ini = new ReconcileInitiator(c.local, { sid: 3, maxMessagesPerFlight: 4 });
  const res = new ReconcileResponder(c.remote, { maxMessagesPerFlight: 4 });
  let flight = ini.start();
  while (flight.length > 0) {
    const replies: ReconcileMessage[] = [];
    for (const m of flight) {
      const r = res.handle(m);
      assert.ok(r.length <= 4 + 1, `${r.length} replies to ${m.type}`); // rcDiffer rides with its first flight
      replies.push(...r);
    }
    flight = replies.flatMap((m) => ini.handle(m));
  }
  assertExact(ini, c, 'paced');
});

test.run();
