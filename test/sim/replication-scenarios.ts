/**
 * Replication under faults on the simulator: a seeded random workload of
 * creates, edits and deletes at random nodes, with loss, duplication,
 * delay, partitions, crashes and restarts; then everything heals and the
 * checkers look at the whole cluster:
 * - convergence: every node holds the same contacts (same digest items and
 *   the same views);
 * - no lost write: every acknowledged write is present or superseded (its
 *   dots are covered by the contact's context everywhere);
 * - no resurrection: no entry a write removed (overwritten or deleted)
 *   exists anywhere;
 * - nothing from nowhere: every entry anywhere was written by some write.
 */
import type { ClusterNode } from '../../protocol/node.ts';
import type { ContactId, ContactState } from '../../protocol/crdt/contact-state.ts';
import type { WriteOp } from '../../protocol/crdt/ops.ts';
import { view } from '../../protocol/crdt/view.ts';
import { SeededRng } from '../../protocol/rng.ts';
import { addStaggered, allSee, newCluster, range } from './membership-harness.ts';
import type { Simulation } from './sim.ts';

const LISTS = new Set(['phones', 'emails']);
const CONTACT_POOL = 24;

/** A Crockford-base32 ULID-shaped id for contact k. */
export function contactIdOf(k: number): ContactId {
  return `01J${k.toString(32).toUpperCase().padStart(23, '0')}`.replace(/[ILOU]/g, 'X') as ContactId;
}

interface WriteRecord {
  node: number;
  id: ContactId;
  added: string[];
  removed: string[];
  /** For a delete: every entry it saw (they may be forgotten once the delete is stable). */
  deletedSeen: string[];
}

export interface ReplicationRun {
  seed: number;
  writes: number;
  convergedAfterHealMs: number | undefined;
  failures: string[];
  sim: Simulation<ClusterNode>;
}

export interface ReplicationRunOptions {
  seed: number;
  nodes?: number;
  minutes?: number;
  /** Corrupts every join (for testing the checkers). */
  brokenJoin?: boolean;
  quiet?: boolean;
}

const dotKey = (origin: string, seq: number) => `${origin}:${seq}`;

/** Runs the faulty workload, heals, waits for convergence, and checks. */
export function replicationUnderFaults(opts: ReplicationRunOptions): ReplicationRun {
  const n = opts.nodes ?? 7;
  const minutes = opts.minutes ?? 10;
  const rng = new SeededRng(opts.seed, 0x776f726b);
  const lossRate = rng.next() * 0.3;
  const duplicateRate = rng.next() * 0.5;
  const sim = newCluster({
    seed: opts.seed,
    name: 'replication',
    quiet: opts.quiet ?? true,
    network: { lossRate, duplicateRate, delay: { kind: 'uniform', minMs: 1, maxMs: 20 + rng.int(80) } },
    config: opts.brokenJoin ? { brokenJoinForTests: true } : {},
  });
  addStaggered(sim, n, 1000);
  sim.runFor(5_000);

  const writes: WriteRecord[] = [];
  const down = new Set<number>();
  const start = sim.now;
  const end = start + minutes * 60_000;
  // The workload: a write every ~150 ms at a random running node.
  for (let t = start; t < end; t += 50 + rng.int(200)) {
    const node = rng.int(n);
    const id = contactIdOf(rng.int(CONTACT_POOL));
    const op = randomOp(rng);
    sim.at(t, () => {
      if (!sim.isAlive(node) || sim.isPaused(node)) return;
      sim.poke(node, (core, now) => {
        const before = core.replication.get(id);
        if (op.kind === 'delete' && (!before || view(before, LISTS).deleted)) return;
        const after = core.replication.write(now, id, op);
        writes.push(record(node, id, before, after, op.kind === 'delete'));
      });
    });
  }
  // Faults: partitions, crashes and restarts, at random times.
  for (let t = start + 10_000; t < end - 30_000; t += 20_000 + rng.int(40_000)) {
    const kind = rng.int(3);
    if (kind === 0) {
      const cut = 1 + rng.int(n - 1);
      const groups = [range(cut), range(n - cut, cut)];
      sim.at(t, () => sim.network.partition(groups));
      sim.at(t + 5_000 + rng.int(60_000), () => sim.network.heal());
    } else {
      const victim = rng.int(n);
      sim.at(t, () => {
        if (!sim.isAlive(victim) || down.size >= n - 2) return;
        sim.crash(victim);
        down.add(victim);
      });
      sim.at(t + 2_000 + rng.int(90_000), () => {
        if (!down.has(victim)) return;
        sim.restart(victim);
        down.delete(victim);
      });
    }
  }
  sim.runUntil(end);

  // Heal everything.
  sim.network.heal();
  sim.network.configure({ lossRate: 0, duplicateRate: 0 });
  for (const i of [...down]) sim.restart(i);
  down.clear();
  const healAt = sim.now;
  const everyone = range(n);
  const converged = sim.runUntilCondition(() => allSee(sim, everyone, everyone, 'alive') && sameEverywhere(sim, everyone), 30_000, 250);
  return {
    seed: opts.seed,
    writes: writes.length,
    convergedAfterHealMs: converged ? sim.now - healAt : undefined,
    failures: check(sim, everyone, writes),
    sim,
  };
}

function randomOp(rng: SeededRng): WriteOp {
  const r = rng.int(10);
  if (r === 0) return { kind: 'delete' };
  const v = `v${rng.int(1000)}`;
  if (r < 5) return { kind: 'upsert', patches: [{ op: 'set', key: rng.int(2) ? 'name' : 'org', value: v }] };
  if (r < 8) return { kind: 'upsert', patches: [{ op: 'add', key: 'phones', uid: `p${rng.int(3)}`, value: v }] };
  return { kind: 'upsert', patches: [{ op: 'replace', key: 'emails', uid: `e${rng.int(2)}`, value: v }] };
}

function record(node: number, id: ContactId, before: ContactState | undefined, after: ContactState, isDelete: boolean): WriteRecord {
  const had = new Set((before?.entries ?? []).map((e) => dotKey(e.origin, e.seq)));
  const has = new Set(after.entries.map((e) => dotKey(e.origin, e.seq)));
  return {
    node,
    id,
    added: [...has].filter((d) => !had.has(d)),
    removed: [...had].filter((d) => !has.has(d)),
    deletedSeen: isDelete ? [...had, ...has] : [],
  };
}

/** Same digest items and the same views on every node in `nodes`. */
export function sameEverywhere(sim: Simulation<ClusterNode>, nodes: number[]): boolean {
  let first: string | undefined;
  for (const i of nodes) {
    const core = sim.core(i);
    if (!core) return false;
    const items = core.replication.replica.digestItems().sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).join(',');
    if (first === undefined) first = items;
    else if (items !== first) return false;
  }
  return true;
}

function check(sim: Simulation<ClusterNode>, nodes: number[], writes: WriteRecord[]): string[] {
  const failures: string[] = [];
  const written = new Set(writes.flatMap((w) => w.added));
  const removed = new Set(writes.flatMap((w) => w.removed));
  const deletedSeen = new Set(writes.flatMap((w) => w.deletedSeen));
  // What some node has established as stable (seen by every member): a tombstone
  // forgotten there is legitimately gone everywhere its state has reached.
  const stableAnywhere = new Map<string, number>();
  for (const i of nodes) {
    for (const [o, seq] of sim.core(i)?.replication.replica.stable ?? []) stableAnywhere.set(o, Math.max(seq, stableAnywhere.get(o) ?? 0));
  }
  const views = new Map<string, string>();
  for (const i of nodes) {
    const core = sim.core(i);
    if (!core) {
      failures.push(`node ${i} is not running`);
      continue;
    }
    const replica = core.replication.replica;
    for (const s of replica.all()) {
      for (const e of s.entries) {
        const d = dotKey(e.origin, e.seq);
        if (!written.has(d)) failures.push(`node ${i}: contact ${s.id} holds entry ${d} that no write made`);
        if (removed.has(d)) failures.push(`node ${i}: contact ${s.id} holds entry ${d} that a write removed (resurrected)`);
      }
      const v = view(s, LISTS);
      const text = JSON.stringify({ f: v.fields, l: v.lists, d: v.deleted, c: v.conflicts });
      const other = views.get(s.id);
      if (other === undefined) views.set(s.id, text);
      else if (other !== text) failures.push(`node ${i}: contact ${s.id} reads differently than on another node`);
    }
    for (const w of writes) {
      const s = replica.get(w.id);
      const present = new Set((s?.entries ?? []).map((e) => dotKey(e.origin, e.seq)));
      for (const d of w.added) {
        // Present, or superseded: removed by a later write that had seen it,
        // or seen by a delete and forgotten once the delete was stable (the
        // contact may have been created again since).
        const [origin, seq] = d.split(':') as [string, string];
        const forgotten = deletedSeen.has(d) && Number(seq) <= (stableAnywhere.get(origin) ?? 0);
        if (!present.has(d) && !removed.has(d) && !forgotten) failures.push(`node ${i}: acknowledged write ${d} to ${w.id} (made at node ${w.node}) is missing`);
      }
    }
  }
  if (!sameEverywhere(sim, nodes)) failures.push('nodes hold different digest sets');
  return failures.slice(0, 20);
}
