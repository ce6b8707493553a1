/**
 * The simulator proved on a toy core: replay from a seed, what the network
 * does to datagrams (loss, duplication, reordering, partitions, clogs), what
 * faults do to nodes (crash, restart, unsynced writes, pause), and the
 * plumbing (agenda order, scripted actions, conditions, checks, seeds).
 * Assertions are on behaviour, never on wall-clock time.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SeededRng } from '../../protocol/rng.ts';
import type { Address } from '../../protocol/types.ts';
import { EventQueue } from './event-queue.ts';
import { compileLink, DEFAULT_LINK } from './link-model.ts';
import { forEachSeed, nodeAddress, seeds, SimCheckError, Simulation, simTest, type LinkConfig, type SimOptions } from './sim.ts';
import { toyFactory, type ToyNode, type ToyOptions } from './toy-node.ts';

const FIXED_10MS: Partial<LinkConfig> = { delay: { kind: 'fixed', ms: 10 } };

/** A cluster of `n` toy nodes that all know each other. */
function toySim(
  seed: number,
  n: number,
  toy: Partial<ToyOptions> = {},
  options: Partial<SimOptions<ToyNode>> = {},
): Simulation<ToyNode> {
  const peers = Array.from({ length: n }, (_, i) => nodeAddress(i));
  return new Simulation<ToyNode>({
    seed,
    nodes: n,
    factory: toyFactory({ mode: 'quiet', peers, ...toy }),
    ...options,
  });
}

/** Node `from` sends DATA #first..#last to node `to` now. */
function sendRange(sim: Simulation<ToyNode>, from: number, to: number, first: number, last: number, payloadBytes?: number): void {
  sim.poke(from, (core) => {
    for (let seq = first; seq <= last; seq++) core.sendData(sim.address(to), seq, payloadBytes);
  });
}

function receivedSeqs(sim: Simulation<ToyNode>, i: number): number[] {
  return sim.core(i)!.received.map((r) => r.seq);
}

// ---- the agenda ---------------------------------------------------------------

test('event queue pops in (time, seq) order, ties in insertion order', () => {
  const rng = new SeededRng(11);
  const queue = new EventQueue<{ time: number; seq: number; id: number }>();
  const model: { time: number; id: number }[] = [];
  const popped: number[] = [];
  const expected: number[] = [];
  let id = 0;
  for (let round = 0; round < 50; round++) {
    for (let k = 0; k < 100; k++) {
      const time = round * 5 + rng.int(40); // many ties, and pushes earlier than what is left
      queue.push({ time, seq: 0, id });
      model.push({ time, id: id++ });
    }
    model.sort((a, b) => a.time - b.time || a.id - b.id);
    for (let k = 0; k < 60; k++) {
      expected.push(model.shift()!.id);
      popped.push(queue.pop()!.id);
    }
  }
  while (queue.size > 0) popped.push(queue.pop()!.id);
  expected.push(...model.map((m) => m.id));
  assert.equal(popped, expected);
  assert.is(queue.pop(), undefined);
  assert.is(queue.peekTime(), Infinity);
});

// ---- replay ---------------------------------------------------------------------

function busyRun(seed: number): { hash: string; sent: number; received: number } {
  const sim = toySim(
    seed,
    20,
    { mode: 'flood', tickMs: 300, fanout: 2 },
    { network: { delay: { kind: 'longTail', minMs: 1, medianMs: 4, maxMs: 200 }, lossRate: 0.05, duplicateRate: 0.02, reorderRate: 0.1, reorderDelayMs: 30 }, syncLagMs: 50 },
  );
  sim.at(2000, () => sim.network.partition([[0, 1, 2, 3, 4]]));
  sim.at(2500, () => sim.crash(7));
  sim.at(3000, () => sim.pause(9));
  sim.at(4000, () => sim.network.heal());
  sim.at(4200, () => sim.resume(9));
  sim.at(4500, () => sim.restart(7));
  sim.runFor(8000);
  const t = sim.totals();
  return { hash: sim.traceHash(), sent: t.sentDatagrams, received: t.receivedDatagrams };
}

simTest(test, 'same seed, same trace hash; another seed, another hash', [1, 2], (seed) => {
  const a = busyRun(seed);
  const b = busyRun(seed);
  const c = busyRun(seed + 1000);
  assert.equal(a, b);
  assert.ok(a.received > 1000, `the run should be busy, got ${a.received} deliveries`);
  assert.is.not(a.hash, c.hash);
});

// ---- the network ------------------------------------------------------------------

simTest(test, 'loss of p drops about p of the datagrams', [3], (seed) => {
  const n = 20_000;
  const sim = toySim(seed, 2, {}, { network: { lossRate: 0.3 } });
  sendRange(sim, 0, 1, 1, n);
  sim.runFor(1000);
  const t = sim.totals();
  const lostFraction = t.dropped.loss / n;
  // sd of the fraction is sqrt(0.3 * 0.7 / 20000) ~ 0.0032; 0.02 is six of them.
  assert.ok(Math.abs(lostFraction - 0.3) < 0.02, `lost ${lostFraction}`);
  assert.is(sim.stats(1).receivedDatagrams, n - t.dropped.loss);
  assert.is(sim.stats(0).droppedDatagrams, t.dropped.loss);
});

simTest(test, 'duplication delivers twice', [4], (seed) => {
  const always = toySim(seed, 2, {}, { network: { duplicateRate: 1 } });
  sendRange(always, 0, 1, 1, 100);
  always.runFor(1000);
  assert.is(always.stats(1).receivedDatagrams, 200);
  assert.is(always.totals().duplicatedDatagrams, 100);
  assert.equal(receivedSeqs(always, 1).sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i + 1));

  const some = toySim(seed, 2, {}, { network: { duplicateRate: 0.25 } });
  sendRange(some, 0, 1, 1, 4000);
  some.runFor(1000);
  const extra = some.totals().duplicatedDatagrams;
  assert.ok(Math.abs(extra / 4000 - 0.25) < 0.05, `duplicated ${extra} of 4000`);
  assert.is(some.stats(1).receivedDatagrams, 4000 + extra);
});

simTest(test, 'reordering: none on a fixed delay, some with reorderRate', [5], (seed) => {
  const inOrder = toySim(seed, 2, {}, { network: FIXED_10MS });
  const shuffled = toySim(seed, 2, {}, { network: { ...FIXED_10MS, reorderRate: 0.5, reorderDelayMs: 50 } });
  for (const sim of [inOrder, shuffled]) {
    for (let k = 1; k <= 200; k++) sim.at(k, () => sendRange(sim, 0, 1, k, k));
    sim.runFor(1000);
  }
  const ascending = Array.from({ length: 200 }, (_, i) => i + 1);
  assert.equal(receivedSeqs(inOrder, 1), ascending);
  const got = receivedSeqs(shuffled, 1);
  assert.not.equal(got, ascending);
  assert.equal([...got].sort((a, b) => a - b), ascending);
});

simTest(test, 'symmetric partition blocks both ways; heal restores', [6], (seed) => {
  const sim = toySim(seed, 3);
  sim.network.partition([[0], [1, 2]]);
  sendRange(sim, 0, 1, 1, 1);
  sendRange(sim, 1, 0, 1, 1);
  sendRange(sim, 1, 2, 1, 1); // same side: fine
  sim.runFor(100);
  assert.is(sim.stats(0).receivedDatagrams, 0);
  assert.is(sim.stats(1).receivedDatagrams, 0);
  assert.is(sim.stats(2).receivedDatagrams, 1);
  assert.is(sim.totals().dropped.partition, 2);
  sim.network.heal();
  sendRange(sim, 0, 1, 2, 2);
  sendRange(sim, 1, 0, 2, 2);
  sim.runFor(100);
  assert.equal(receivedSeqs(sim, 1), [2]);
  assert.equal(receivedSeqs(sim, 0), [2]);
});

simTest(test, 'one-way partition blocks one direction only', [7], (seed) => {
  const sim = toySim(seed, 2);
  sim.network.blockOneWay([0], [1]);
  sendRange(sim, 0, 1, 1, 5);
  sendRange(sim, 1, 0, 1, 5);
  sim.runFor(100);
  assert.is(sim.stats(1).receivedDatagrams, 0);
  assert.is(sim.stats(0).receivedDatagrams, 5);
  assert.ok(sim.network.canReach(1, 0) && !sim.network.canReach(0, 1));
});

simTest(test, 'per-link override applies to that directed link only', [8], (seed) => {
  const sim = toySim(seed, 3);
  sim.network.setLinks([0], [1], { lossRate: 1 });
  sendRange(sim, 0, 1, 1, 50);
  sendRange(sim, 0, 2, 1, 50);
  sendRange(sim, 1, 0, 1, 50);
  sim.runFor(100);
  assert.is(sim.stats(1).receivedDatagrams, 0);
  assert.is(sim.stats(2).receivedDatagrams, 50);
  assert.is(sim.stats(0).receivedDatagrams, 50);
});

simTest(test, 'clogged links: extra delay, and a rate limit that serialises and drops a full backlog', [9], (seed) => {
  const delayed = toySim(seed, 2, {}, { network: FIXED_10MS });
  delayed.network.clog([0], [1], { extraDelayMs: 500 });
  sendRange(delayed, 0, 1, 1, 1);
  delayed.runFor(509);
  assert.is(delayed.stats(1).receivedDatagrams, 0);
  delayed.runFor(1);
  assert.equal(delayed.core(1)!.received.map((r) => r.atMs), [510]);

  const limited = toySim(seed, 2, {}, { network: FIXED_10MS });
  limited.network.clog([0], [1], { bytesPerSec: 10_000, maxBacklogMs: 300 });
  sendRange(limited, 0, 1, 1, 10, 1000); // each holds the link 100 ms
  limited.runFor(2000);
  assert.equal(limited.core(1)!.received.map((r) => r.atMs), [110, 210, 310, 410]);
  assert.is(limited.totals().dropped.clog, 6);
  limited.network.heal();
  sendRange(limited, 0, 1, 11, 11, 1000);
  limited.runFor(100);
  assert.is(limited.stats(1).receivedDatagrams, 5);
});

test('delay distributions stay in range; the long tail has its median and its tail', () => {
  const rng = new SeededRng(12);
  const fixed = compileLink(DEFAULT_LINK, { delay: { kind: 'fixed', ms: 7 } });
  const uniform = compileLink(DEFAULT_LINK, { delay: { kind: 'uniform', minMs: 3, maxMs: 9 } });
  const tail = compileLink(DEFAULT_LINK, { delay: { kind: 'longTail', minMs: 2, medianMs: 10, maxMs: 1000 } });
  const draw = (link: typeof fixed) => Array.from({ length: 20_000 }, () => link.sampleDelayMs(rng)).sort((a, b) => a - b);
  assert.ok(draw(fixed).every((d) => d === 7));
  const u = draw(uniform);
  assert.is(u[0], 3);
  assert.is(u[u.length - 1], 9);
  const t = draw(tail);
  assert.ok(t[0]! >= 2 && t[t.length - 1]! <= 1000);
  const median = t[t.length >> 1]!;
  assert.ok(median >= 9 && median <= 11, `median ${median}`);
  assert.ok(t.filter((d) => d > 100).length > 50, 'a long tail reaches 10x the median');
  assert.throws(() => compileLink(DEFAULT_LINK, { lossRate: 1.5 }), /lossRate/);
});

simTest(test, 'datagrams to an unknown address vanish; the largest datagram is recorded', [10], (seed) => {
  const sim = toySim(seed, 2);
  sim.poke(0, (core) => core.sendData('10.9.9.9:7700' as Address, 1, 1200));
  sendRange(sim, 0, 1, 2, 2, 300);
  sim.runFor(100);
  const t = sim.totals();
  assert.is(t.dropped.noRoute, 1);
  assert.is(t.maxDatagramBytes, 1200);
  assert.is(t.sentBytes, 1500);
  assert.is(t.receivedBytes, 300);
});

// ---- faults on nodes ----------------------------------------------------------------

simTest(test, 'a crashed node gets nothing and restarts with its durable Map and address', [13], (seed) => {
  const sim = toySim(seed, 2);
  sim.poke(1, (core) => core.persist('counter', 7));
  sim.runFor(10);
  sim.crash(1);
  assert.is(sim.core(1), undefined);
  assert.not.ok(sim.isAlive(1));
  sendRange(sim, 0, 1, 1, 3);
  sim.runFor(100);
  assert.is(sim.stats(1).receivedDatagrams, 0);
  assert.is(sim.totals().dropped.deadNode, 3);
  sim.restart(1);
  assert.is(sim.core(1)!.counter, 7, 'the new core read its durable storage');
  assert.is(sim.address(1), nodeAddress(1));
  sendRange(sim, 0, 1, 4, 4);
  sim.runFor(100);
  assert.equal(receivedSeqs(sim, 1), [4]);
  const members = { list: ['a'] };
  sim.poke(1, (core) => core.persist('members', members));
  members.list.push('b'); // mutating after persisting must not reach the "disk"
  assert.equal(sim.storage(1).get('members'), { list: ['a'] });
  assert.is(sim.stats(1).restarts, 1);
  assert.throws(() => sim.restart(1), /running/);
});

simTest(test, 'unsynced writes are lost on crash when a sync lag is set', [14], (seed) => {
  const sim = toySim(seed, 1, {}, { syncLagMs: 100 });
  sim.poke(0, (core) => core.persist('a', 1));
  sim.runFor(150); // 'a' = 1 is synced
  sim.poke(0, (core) => {
    core.persist('a', 2);
    core.persist('b', 3);
  });
  sim.runFor(50);
  assert.is(sim.storage(0).get('a'), 2, 'the running node reads its own writes');
  assert.is(sim.unsyncedWrites(0), 2);
  sim.crash(0);
  assert.is(sim.storage(0).get('a'), 1);
  assert.not.ok(sim.storage(0).has('b'));
  sim.restart(0);
  sim.poke(0, (core) => core.persist('c', 4));
  sim.runFor(100);
  sim.crash(0);
  assert.is(sim.storage(0).get('c'), 4, 'a write older than the lag survives');
});

simTest(test, 'a node crashed by a listener on its persist event never sends what it queued after', [15], (seed) => {
  const sim = toySim(seed, 2);
  sim.onEvent((event, i) => {
    if (event.type === 'persist' && i === 1) sim.crash(1);
  });
  sim.poke(1, (core) => {
    core.persist('x', 1);
    core.sendData(sim.address(0), 1);
  });
  sim.runFor(100);
  assert.is(sim.storage(1).get('x'), 1);
  assert.is(sim.stats(0).receivedDatagrams, 0);
});

simTest(test, 'a paused node buffers, then handles the buffer in order before its overdue timer', [16], (seed) => {
  const peers = [nodeAddress(0), nodeAddress(1)];
  const sim = new Simulation<ToyNode>({
    seed,
    network: FIXED_10MS,
    socketBufferBytes: 64 * 5,
    factory: toyFactory({ mode: 'quiet', peers, payloadBytes: 64 }),
  });
  sim.addNode();
  sim.addNode(toyFactory({ mode: 'echo', peers: [], tickMs: 1000, logInputs: true }));
  sim.runFor(100);
  sim.pause(1);
  for (let k = 1; k <= 7; k++) sim.at(100 + k * 100, () => sendRange(sim, 0, 1, k, k));
  sim.runFor(2900);
  const before = sim.core(1)!.inputs.length;
  assert.is(sim.totals().dropped.bufferFull, 2, 'five fit the buffer, two do not');
  sim.resume(1);
  const after = sim.core(1)!.inputs.slice(before);
  assert.equal(after, ['d:0:1', 'd:0:2', 'd:0:3', 'd:0:4', 'd:0:5', 't@3000']);
  assert.ok(sim.core(1)!.received.every((r) => r.atMs === 3000));
});

simTest(test, 'a skewed clock: offset and drift reach the core, deadlines map back', [17], (seed) => {
  const sim = toySim(seed, 1, { mode: 'echo', tickMs: 1000, logInputs: true });
  sim.setClock(0, { offsetMs: 5000, driftPpm: 100_000 }); // 10% fast
  assert.is(sim.localTime(0), 5000);
  sim.runFor(10_000);
  assert.is(sim.localTime(0), 16_000);
  const ticks = sim.core(0)!.inputs.filter((s) => s.startsWith('t@')).length;
  assert.ok(ticks === 10 || ticks === 11, `ticks ${ticks}`);
  assert.throws(() => sim.setClock(0, { offsetMs: 0, driftPpm: 0 }), /step back/);
});

// ---- running, scripting, checking ------------------------------------------------------

simTest(test, 'scripted actions run at their virtual time; runUntilCondition checks on its cadence', [18], (seed) => {
  const sim = toySim(seed, 10, { mode: 'flood', tickMs: 500, fanout: 3 });
  const seen: string[] = [];
  sim.at(1000, () => sim.crash(3));
  sim.at(1500, () => seen.push(`alive3=${sim.isAlive(3)}@${sim.now}`));
  sim.at(2000, () => sim.restart(3));
  sim.runUntil(2500);
  assert.equal(seen, ['alive3=false@1500']);
  assert.ok(sim.isAlive(3));
  assert.throws(() => sim.at(100, () => {}), /already/);

  const hasTenth = (i: number) => sim.core(i)!.received.some((r) => r.origin === 0 && r.seq >= 10);
  const everyoneHas = () => sim.liveIndices().every((i) => i === 0 || hasTenth(i));
  assert.ok(sim.runUntilCondition(everyoneHas, 60_000, 250));
  assert.is(sim.now % 250, 0);
  assert.not.ok(sim.runUntilCondition(() => false, 1000, 300));
  assert.is(sim.now % 250, 0, 'gave up exactly at the limit (a multiple of 250 here)');
});

test('a core whose deadline never moves on fails loudly instead of hanging', () => {
  const spinning = {
    handleDatagram() {},
    handleTimeout() {},
    pollTransmit: () => undefined,
    pollEvent: () => undefined,
    pollTimeout: () => 0,
  };
  const sim = new Simulation({ seed: 19, nodes: 1, quiet: true, factory: () => spinning });
  assert.throws(() => sim.runFor(10), /seed=19[\s\S]*still due/);
});

test('checks fail with the seed, the time and every failure', () => {
  const sim = toySim(99, 1, {}, { quiet: true });
  sim.check('passes', () => true);
  sim.check('returns a message', () => 'nope');
  sim.check('throws', () => {
    throw new Error('broken');
  });
  sim.runFor(1234);
  try {
    sim.runChecks();
    assert.unreachable('checks should fail');
  } catch (err) {
    assert.instance(err, SimCheckError);
    const message = (err as Error).message;
    assert.match(message, /^seed=99 t=1234ms: 2 check\(s\) failed/);
    assert.match(message, /returns a message: nope/);
    assert.match(message, /throws: broken/);
    assert.not.match(message, /passes/);
  }
  assert.throws(() => sim.fail('invariant'), /seed=99[\s\S]*invariant/);
});

test('seeds: SEED replays one, SIM_SEEDS draws fresh ones, else the defaults', async () => {
  assert.equal(seeds([1, 2], {}), [1, 2]);
  assert.equal(seeds([1, 2], { SEED: '77' }), [77]);
  const fresh = seeds([1, 2], { SIM_SEEDS: '3' });
  assert.is(fresh.length, 3);
  assert.ok(fresh.every((s) => Number.isInteger(s) && s >= 0));
  assert.throws(() => seeds([], { SEED: 'x' }), /SEED/);

  const written: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string) => written.push(chunk) > 0) as typeof process.stderr.write;
  try {
    await forEachSeed('my scenario', [5, 6], (seed) => {
      if (seed === 6) throw new Error('boom');
    });
    assert.unreachable('should rethrow');
  } catch (err) {
    assert.is((err as Error).message, 'boom');
  } finally {
    process.stderr.write = write;
  }
  assert.match(written.join(''), /SEED=6 reproduces this \(test "my scenario"\)/);
});

test.run();
