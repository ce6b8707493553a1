/**
 * Keyed clusters on the simulator: sealed gossip end to end, and the
 * rolling upgrade from a plain cluster to a sealed one without downtime.
 * The simulator's crypto is a fast checksum standing in for AES-GCM
 * (sim-crypto.ts); the cipher itself is tested with the real one in
 * test/unit/packet-security.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ClusterNode } from '../../protocol/node.ts';
import type { ContactId, OpId } from '../../protocol/contacts/ids.ts';
import { SeededRng } from '../../protocol/rng.ts';
import { forEachSeed, seeds } from './seeds.ts';
import { addStaggered, allSee, newCluster, nodeIdOf, range, type SimSecurity } from './membership-harness.ts';
import { contactIdOf, sameEverywhere } from './replication-scenarios.ts';
import { simCrypto } from './sim-crypto.ts';
import { rotationUnderFaults } from './security-scenarios.ts';
import type { Simulation } from './sim.ts';
import type { SecurityMode } from '../../protocol/security/security-service.ts';

const KEY = new Uint8Array(32).fill(0x42);

/** Sums one drop reason over every running node. */
function dropped(sim: Simulation<ClusterNode>, reason: keyof ClusterNode['stats']['dropped']): number {
  return sim.liveIndices().reduce((a, i) => a + (sim.core(i)!.stats.dropped[reason] ?? 0), 0);
}

/** Counts members marked dead while they were running (never crashed). */
function watchFalseDeaths(sim: Simulation<ClusterNode>, n: number, down: () => Set<number>): () => number {
  let count = 0;
  sim.onEvent((e) => {
    if (e.type !== 'member' || e.member.state !== 'dead') return;
    const subject = range(n).find((i) => nodeIdOf(i) === e.member.id);
    if (subject !== undefined && !down().has(subject)) count++;
  });
  return () => count;
}

/** A create at a random running node every `everyMs`; returns the ids written. */
function writeLoad(sim: Simulation<ClusterNode>, n: number, fromMs: number, toMs: number, everyMs: number, seed: number): ContactId[] {
  const rng = new SeededRng(seed, 0x77);
  const ids: ContactId[] = [];
  for (let t = fromMs, k = 0; t < toMs; t += everyMs, k++) {
    const node = rng.int(n);
    const id = contactIdOf(k);
    sim.at(t, () => {
      if (!sim.isAlive(node)) return;
      sim.poke(node, (core, now) => {
        const r = core.replication.write(now, { opId: `op-${seed}-${k}` as OpId, patch: { kind: 'create', contact: { id, formattedName: `c${k}` } } });
        if (r.kind === 'applied') ids.push(id);
      });
    });
  }
  return ids;
}

test('a keyed cluster of 30 (require): joins, every datagram sealed, nothing refused', async () => {
  await forEachSeed('keyed join', seeds([1, 2]), (seed) => {
    const sim = newCluster({ seed, quiet: true, security: () => ({ crypto: simCrypto, keyFileKey: KEY }) });
    addStaggered(sim, 30, 3000);
    const everyone = range(30);
    assert.ok(sim.runUntilCondition(() => allSee(sim, everyone, everyone, 'alive'), 30_000), 'converged');
    sim.runFor(30_000);
    for (const i of everyone) {
      const core = sim.core(i)!;
      assert.ok(core.security!.packets.stats.opened > 0);
      for (const r of ['unauthenticated', 'bad-seal', 'replay', 'stale-epoch', 'stale-receiver', 'unknown-key'] as const) {
        assert.is(core.stats.dropped[r] ?? 0, 0, `node ${i} refused ${r}`);
      }
    }
    // Restarts: a node comes back in a new epoch, and is taken at once.
    sim.crash(5);
    sim.runFor(500);
    sim.restart(5);
    assert.ok(sim.runUntilCondition(() => allSee(sim, everyone, everyone, 'alive'), 30_000), 'converged after a restart');
    assert.is(sim.core(5)!.security!.packets.epoch, 2);
  });
});

test('rolling upgrade, plain → accept → send → require, one node at a time, under writes: no false death, nothing lost', async () => {
  await forEachSeed('rolling upgrade', seeds([1, 2, 3]), (seed) => {
    const n = 7;
    const mode = new Map<number, SecurityMode | undefined>();
    const security = (ctx: { index: number }): SimSecurity | undefined => {
      const m = mode.get(ctx.index);
      return m ? { crypto: simCrypto, mode: m, keyFileKey: KEY } : undefined;
    };
    const sim = newCluster({ seed, quiet: true, security, network: { lossRate: 0.02 } });
    addStaggered(sim, n, 2000);
    const everyone = range(n);
    assert.ok(sim.runUntilCondition(() => allSee(sim, everyone, everyone, 'alive'), 30_000));
    const down = new Set<number>();
    const falseDeaths = watchFalseDeaths(sim, n, () => down);
    const start = sim.now;
    const ids = writeLoad(sim, n, start, start + 150_000, 250, seed);
    // Step 1: restart each node with the key, taking both kinds and sending plain.
    for (const i of everyone) {
      sim.at(start + 5_000 + i * 8_000, () => {
        mode.set(i, 'accept');
        down.add(i);
        sim.crash(i);
      });
      sim.at(start + 5_200 + i * 8_000, () => {
        sim.restart(i);
        down.delete(i);
      });
    }
    // Steps 2 and 3: a reload on each node, one after another.
    for (const [step, m] of [[0, 'send'], [1, 'require']] as const) {
      for (const i of everyone) sim.at(start + 70_000 + step * 35_000 + i * 4_000, () => sim.poke(i, (core) => core.security!.setMode(m)));
    }
    sim.runUntil(start + 160_000);
    assert.ok(sim.runUntilCondition(() => allSee(sim, everyone, everyone, 'alive') && sameEverywhere(sim, everyone), 30_000), 'converged');
    assert.is(falseDeaths(), 0, 'a running member was marked dead during the upgrade');
    for (const i of everyone) {
      const core = sim.core(i)!;
      assert.is(core.security!.mode, 'require');
      for (const id of ids) assert.ok(core.replication.store.get(id), `node ${i} lacks ${id}`);
    }
    // Now plain datagrams are refused before decoding.
    const before = dropped(sim, 'unauthenticated');
    sim.poke(0, (core) => core.security!.setMode('accept'));
    sim.runFor(5_000);
    assert.ok(dropped(sim, 'unauthenticated') > before, 'node 0 sends plain: the others refuse it');
  });
});

test('key rotation while nodes are partitioned and crashing: every member ends on the new key, no write lost', async () => {
  let locked = 0;
  let slowest = 0;
  await forEachSeed('rotation under faults', seeds(range(Number(process.env['ROTATION_SEEDS'] ?? 4), 1)), (seed) => {
    const r = rotationUnderFaults(seed);
    assert.equal(r.failures, [], `seed ${seed}: checks failed`);
    assert.ok(r.convergedAfterHealMs !== undefined, `seed ${seed}: did not converge`);
    locked += r.lockedOut.length;
    slowest = Math.max(slowest, r.rotationMs ?? 0);
    console.log(`rotation seed ${seed}: ${r.writes} writes, install→remove ${r.rotationMs} ms, ${r.refusals} refusals, locked out and re-keyed: [${r.lockedOut}]`);
  });
  console.log(`rotation under faults: slowest install→remove ${slowest} ms; ${locked} locked-out members told why and re-keyed`);
});

test.run();
