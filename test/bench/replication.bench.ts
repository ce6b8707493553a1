/**
 * Replication benchmarks on the simulator (virtual time, seeded).
 *
 * catch-up: one of three nodes is down while 10,000 writes happen at the
 * others; after it restarts, how long until it holds everything, and how
 * many bytes it received compared with the deltas it missed (the deltas a
 * live node received for the same writes, measured in the same run).
 */
import type { Bench } from './harness.ts';
import type { ClusterNode } from '../../protocol/node.ts';
import type { EntryUid, OpId } from '../../protocol/contacts/ids.ts';
import { addStaggered, allSee, newCluster, range } from '../sim/membership-harness.ts';
import { contactIdOf, sameEverywhere } from '../sim/replication-scenarios.ts';
import type { Simulation } from '../sim/sim.ts';

function writeMany(sim: Simulation<ClusterNode>, count: number, nodes: number[]): void {
  for (let k = 0; k < count; k++) {
    const node = nodes[k % nodes.length]!;
    const contact = Math.floor(k / 2);
    const id = contactIdOf(contact);
    sim.poke(node, (core, now) => {
      const exists = core.replication.store.get(id) !== undefined;
      const r = core.replication.write(now, {
        opId: `bench-${k}` as OpId,
        patch: exists
          ? { kind: 'update', id, ops: [{ op: 'put', field: 'phones', uid: 'p1' as EntryUid, value: { value: `+1 555 ${k}`, types: ['cell'], pref: false } }] }
          : { kind: 'create', contact: { id, formattedName: `Contact ${contact}`, emails: [{ uid: 'e1' as EntryUid, value: `c${contact}@example.org`, types: ['home'], pref: true }] } },
      });
      if (r.kind !== 'applied') throw new Error(`write ${k} not applied: ${JSON.stringify(r)}`);
    });
    if (k % 50 === 49) sim.runFor(20);
  }
}

const catchUp: Bench = {
  name: 'replication catch-up',
  run(record) {
    const sim = newCluster({ seed: 1, name: 'catch-up', quiet: true });
    addStaggered(sim, 3, 500);
    sim.runUntilCondition(() => allSee(sim, range(3), range(3), 'alive'), 10_000);
    sim.crash(2);
    const liveBefore = sim.stats(1).receivedBytes;
    const t0 = performance.now();
    writeMany(sim, 10_000, [0]);
    sim.runFor(2_000);
    // What a live node received for these writes: the deltas (plus its share of background traffic).
    const deltaBytes = sim.stats(1).receivedBytes - liveBefore;
    const before = sim.stats(2).receivedBytes;
    sim.restart(2);
    const back = sim.now;
    const ok = sim.runUntilCondition(() => sameEverywhere(sim, range(3)), 120_000, 50);
    const caughtUpMs = sim.now - back;
    const received = sim.stats(2).receivedBytes - before;
    record({ name: 'catch-up after 10,000 missed writes: time to complete', value: ok ? caughtUpMs : Infinity, unit: 'virtual ms', goal: 10_000 });
    record({ name: 'catch-up: bytes received / bytes of the missed deltas', value: received / deltaBytes, unit: 'ratio', goal: 1.3 });
    record({ name: 'catch-up: bytes received', value: received, unit: 'B', baseline: deltaBytes });
    record({ name: 'catch-up scenario wall time', value: (performance.now() - t0) / 1000, unit: 's' });
  },
};

export default [catchUp];
