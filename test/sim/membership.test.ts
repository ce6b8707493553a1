/**
 * SWIM + Lifeguard scenarios on the deterministic simulator, at CI size.
 * The largest runs (1,000-node join and dissemination, the one-hour loss
 * runs) live in test/bench/membership.bench.ts with the same scenario code.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { simTest, seeds, forEachSeed } from './seeds.ts';
import { addStaggered, allSee, newCluster, nodeIdOf, range, stateSeenBy } from './membership-harness.ts';
import {
  dissemination, detection, falsePositives, joinScenario, partitionHeal, steadyStateCost,
} from './membership-scenarios.ts';

test('join: 100 nodes through one seed over 10 s; everyone lists everyone alive within 15 s of the last join', async () => {
  await forEachSeed('join', seeds([1, 2, 3]), (seed) => {
    const r = joinScenario(seed, 100, 10_000);
    assert.ok(r.convergedAfterLastJoinMs !== undefined, `seed ${seed}: never converged`);
    assert.ok(r.convergedAfterLastJoinMs! <= 15_000, `seed ${seed}: ${r.convergedAfterLastJoinMs} ms after the last join`);
  });
});

test('detection at 100 members: suspected within 2.5 s on average; all mark it dead, median ≤ 6 s, max ≤ 10 s (20 seeds)', async () => {
  const runs = seeds(range(20, 1)).map((seed) => detection(seed, 100));
  const suspectAvg = runs.reduce((a, r) => a + r.firstSuspectMs, 0) / runs.length;
  const lasts = runs.map((r) => r.allDeadMs).sort((a, b) => a - b);
  const median = lasts[lasts.length >> 1]!;
  console.log(`detection n=100: first suspicion avg ${suspectAvg.toFixed(0)} ms; all dead median ${median} ms, max ${lasts[lasts.length - 1]} ms`);
  for (const r of runs) assert.ok(r.falseDeaths === 0, `seed ${r.seed}: ${r.falseDeaths} live members marked dead`);
  if (runs.length >= 10) {
    assert.ok(suspectAvg <= 2500, `average first suspicion ${suspectAvg} ms`);
    assert.ok(median <= 6000, `median ${median} ms`);
  }
  assert.ok(lasts[lasts.length - 1]! <= 10_000, `max ${lasts[lasts.length - 1]} ms`);
});

test('detection at 10 members: every live member marks it dead within a median of 5 s (20 seeds)', () => {
  const runs = seeds(range(20, 1)).map((seed) => detection(seed, 10));
  const lasts = runs.map((r) => r.allDeadMs).sort((a, b) => a - b);
  const median = lasts[lasts.length >> 1]!;
  console.log(`detection n=10: all dead median ${median} ms, max ${lasts[lasts.length - 1]} ms`);
  assert.ok(median <= 5000, `median ${median} ms`);
  for (const r of runs) assert.ok(r.falseDeaths === 0, `seed ${r.seed}: false deaths`);
});

test('dissemination at 200 members, fanout 3: an update reaches everyone within 10 gossip rounds (13 at 10% loss)', async () => {
  await forEachSeed('dissemination', seeds(range(10, 1)), (seed) => {
    const clean = dissemination(seed, 200, 0);
    assert.ok(clean.rounds <= 10, `seed ${seed}: ${clean.rounds} rounds without loss`);
    const lossy = dissemination(seed, 200, 0.1);
    assert.ok(lossy.rounds <= 13, `seed ${seed}: ${lossy.rounds} rounds at 10% loss`);
  });
});

test('no false positives: 100 members, 10% loss each way, 1–50 ms delay, 10 virtual minutes', async () => {
  await forEachSeed('false positives', seeds([1]), (seed) => {
    const r = falsePositives(seed, { members: 100, minutes: 10, pause: false });
    console.log(`loss run: ${r.suspicionsRaised} suspicions raised, ${r.refutations} refuted, ${r.falseDeaths} false deaths`);
    assert.is(r.falseDeaths, 0, 'a live member was marked dead');
    assert.ok(r.refutations > 0, 'at 10% loss some suspicion is expected, and must have been refuted');
  });
});

test('no false positives with one member paused 3 s once a minute: only the paused one is suspected for it', async () => {
  await forEachSeed('paused member', seeds([1]), (seed) => {
    const r = falsePositives(seed, { members: 100, minutes: 5, pause: true });
    assert.is(r.falseDeaths, 0, 'a live member was marked dead');
    assert.is(r.suspicionsByPausedAfterResume, 0, 'the paused node accused others when it woke up');
    assert.ok(r.pausedSuspected > 0, 'the pause went unnoticed: the scenario tests nothing');
  });
});

test('partition 50/50 for 2 minutes: each side marks the other dead, and all are alive again within 30 s of the heal', async () => {
  await forEachSeed('partition', seeds([1, 2]), (seed) => {
    const r = partitionHeal(seed, 100);
    assert.ok(r.sidesMarkedDead, 'the sides did not mark each other dead during the partition');
    assert.ok(r.healedAfterMs !== undefined && r.healedAfterMs <= 30_000, `healed after ${r.healedAfterMs} ms`);
  });
});

test('cost: 100 members in steady state send at most 400 B/s each, no datagram over the budget, plain and keyed', () => {
  for (const keyed of [false, true]) {
    const r = steadyStateCost(1, 100, 3, keyed);
    const what = keyed ? 'keyed (every datagram sealed)' : 'plain';
    console.log(`steady state, ${what}: ${r.bytesPerSecPerMember.toFixed(0)} B/s per member, largest datagram ${r.maxDatagramBytes} B`);
    assert.ok(r.bytesPerSecPerMember <= 400, `${what}: ${r.bytesPerSecPerMember} B/s`);
    assert.ok(r.maxDatagramBytes <= 1400, `${what}: datagram of ${r.maxDatagramBytes} B`);
  }
});

simTest(test, 'the same seed replays the same run; another seed differs', [5], (seed) => {
  const hash = (s: number) => {
    const sim = newCluster({ seed: s, quiet: true });
    addStaggered(sim, 20, 1000);
    sim.runFor(20_000);
    sim.crash(5);
    sim.runFor(10_000);
    return sim.traceHash();
  };
  assert.is(hash(seed), hash(seed));
  assert.is.not(hash(seed), hash(seed + 1));
});

simTest(test, 'a crashed node restarts, rejoins without seeds, and everyone sees it alive at a higher incarnation', [1, 2], (seed) => {
  const sim = newCluster({ seed, name: 'restart' });
  addStaggered(sim, 10, 1000);
  assert.ok(sim.runUntilCondition(() => allSee(sim, range(10), range(10), 'alive'), 20_000));
  const before = sim.core(4)!.membership.incarnation;
  sim.crash(4);
  assert.ok(sim.runUntilCondition(() => allSee(sim, range(10).filter((i) => i !== 4), [4], 'dead'), 30_000), 'not marked dead');
  // Cut node 0 (the seed) off from 4: rejoining must go through the members 4 remembers.
  sim.network.blockOneWay([0], [4]);
  sim.network.blockOneWay([4], [0]);
  sim.restart(4);
  const back = sim.runUntilCondition(() => allSee(sim, range(10).filter((i) => i !== 0), range(10).filter((i) => i !== 0), 'alive'), 30_000);
  assert.ok(back, 'node 4 did not come back through the members it knew');
  assert.ok(sim.core(4)!.membership.incarnation > before, 'incarnation not raised');
  sim.network.heal();
  assert.ok(sim.runUntilCondition(() => stateSeenBy(sim, 0, 4) === 'alive', 30_000));
});

simTest(test, 'a node that crashed before any seed answered its join keeps trying them after a restart', [1], (seed) => {
  const sim = newCluster({ seed, name: 'restart before joined' });
  sim.addNode();
  sim.network.partition([[0], [1]]);
  sim.addNode(); // joins through node 0, which it cannot reach yet
  sim.runFor(3_000);
  assert.not.ok(sim.core(1)!.membership.isJoined);
  sim.crash(1);
  sim.restart(1); // the harness hands a restarted node no seeds: only what it persisted
  sim.network.heal();
  assert.ok(sim.runUntilCondition(() => allSee(sim, [0, 1], [0, 1], 'alive'), 30_000), 'node 1 started a cluster of its own');
});

simTest(test, 'graceful leave: others mark it left (not dead), and it is reaped later', [1], (seed) => {
  const sim = newCluster({ seed, name: 'leave', config: { reapLeftAfterMs: 120_000 } });
  addStaggered(sim, 10, 1000);
  assert.ok(sim.runUntilCondition(() => allSee(sim, range(10), range(10), 'alive'), 20_000));
  let leftAt = -1;
  const off = sim.onEvent((e, i) => { if (i === 3 && e.type === 'left') leftAt = sim.now; });
  sim.poke(3, (core, now) => core.leave(now));
  assert.ok(sim.runUntilCondition(() => leftAt >= 0, 5_000), 'no left event');
  off();
  sim.crash(3);
  const others = range(10).filter((i) => i !== 3);
  assert.ok(allSee(sim, others, [3], 'left'), 'not everyone saw the leave before it exited');
  sim.runFor(60_000);
  assert.ok(allSee(sim, others, [3], 'left'), 'a left member must not turn dead');
  sim.runFor(130_000);
  for (const i of others) assert.is(sim.core(i)!.membership.member(nodeIdOf(3)), undefined, `node ${i} still lists it`);
});

test.run();
