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
 * An entry counts as superseded when a later write removed it, or when its
 * contact was collected as a tombstone after the write, once every member
 * had it (the contact may have been created again since).
 */
import type { ClusterNode } from '../../protocol/node.ts';
import type { ContactId, EntryUid, OpId } from '../../protocol/contacts/ids.ts';
import type { ContactState } from '../../protocol/contacts/state.ts';
import type { Patch } from '../../protocol/contacts/patch.ts';
import { isTombstone } from '../../protocol/contacts/state.ts';
import { view } from '../../protocol/contacts/view.ts';
import { MemoryStore } from '../../protocol/contacts/memory-store.ts';
import { SeededRng } from '../../protocol/rng.ts';
import { addStaggered, allSee, newCluster, range, restoreStore, type ClusterOptions } from './membership-harness.ts';
import type { Simulation } from './sim.ts';

const CONTACT_POOL = 24;
const ULID_DIGITS = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A ULID for contact k (Crockford base32, first digit 0). */
export function contactIdOf(k: number): ContactId {
  let tail = '';
  for (let v = k, i = 0; i < 6; i++, v = Math.floor(v / 32)) tail = ULID_DIGITS[v % 32] + tail;
  return `01J${'0'.repeat(17)}${tail}` as ContactId;
}

/** A store that drops every third state it is given: a deliberately broken merge, to prove the checkers catch loss. */
class LossyStore extends MemoryStore {
  private puts = 0;
  override put(state: ContactState): void {
    if (++this.puts % 3 === 0) return;
    super.put(state);
  }
}

interface WriteRecord {
  node: number;
  atMs: number;
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
  /** Keyed nodes (see membership-harness.ts). */
  security?: ClusterOptions['security'];
  /** Scripts more actions once the cluster has formed, from `startMs` (the workload's start) to `endMs`. */
  script?: (sim: Simulation<ClusterNode>, startMs: number, endMs: number) => void;
  /** Runs once everything is healed and restarted, before waiting for convergence; may run the simulation. */
  afterHeal?: (sim: Simulation<ClusterNode>) => void;
  /** How long convergence may take after healing (default 30 s). */
  convergeWithinMs?: number;
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
    ...(opts.brokenJoin ? { storeFactory: (storage: ReadonlyMap<string, unknown>) => restoreStore(storage, new LossyStore({ journal: true })) } : {}),
    security: opts.security,
  });
  addStaggered(sim, n, 1000);
  sim.runFor(5_000);

  const writes: WriteRecord[] = [];
  const forgets = new Map<string, number>();
  sim.onEvent((e) => {
    if (e.type === 'persist' && 'change' in e && e.change.kind === 'forget') forgets.set(e.change.id, sim.now);
  });
  const down = new Set<number>();
  const start = sim.now;
  const end = start + minutes * 60_000;
  opts.script?.(sim, start, end);
  // The workload: a write every ~150 ms at a random running node.
  for (let t = start; t < end; t += 50 + rng.int(200)) {
    const node = rng.int(n);
    const id = contactIdOf(rng.int(CONTACT_POOL));
    const pick = rng.int(10);
    const v = `v${rng.int(1000)}`;
    const opId = `op-${opts.seed}-${t}` as OpId;
    sim.at(t, () => {
      if (!sim.isAlive(node) || sim.isPaused(node)) return;
      sim.poke(node, (core, now) => {
        const before = core.replication.store.get(id);
        const patch = randomPatch(id, before, pick, v);
        const outcome = core.replication.write(now, { opId, patch });
        if (outcome.kind !== 'applied') return;
        writes.push({ ...record(node, id, before, outcome.state, patch.kind === 'delete'), atMs: sim.now });
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
  opts.afterHeal?.(sim);
  const everyone = range(n);
  const converged = sim.runUntilCondition(() => allSee(sim, everyone, everyone, 'alive') && sameEverywhere(sim, everyone), opts.convergeWithinMs ?? 30_000, 250);
  return {
    seed: opts.seed,
    writes: writes.length,
    convergedAfterHealMs: converged ? sim.now - healAt : undefined,
    failures: check(sim, everyone, writes, forgets),
    sim,
  };
}

function randomPatch(id: ContactId, before: ContactState | undefined, pick: number, v: string): Patch {
  if (!before || isTombstone(before)) return { kind: 'create', contact: { id, formattedName: v } };
  if (pick === 0) return { kind: 'delete', id };
  if (pick < 5) return { kind: 'update', id, ops: [{ op: 'set', field: pick % 2 ? 'formattedName' : 'title', value: v }] };
  const uid = `p${pick % 3}` as EntryUid;
  if (pick < 9) return { kind: 'update', id, ops: [{ op: 'put', field: 'phones', uid, value: { value: `+1 555 ${pick}${v.length}`, types: ['cell'], pref: false } }] };
  return { kind: 'update', id, ops: [{ op: 'remove', field: 'phones', uid }] };
}

function record(node: number, id: ContactId, before: ContactState | undefined, after: ContactState, isDelete: boolean): Omit<WriteRecord, 'atMs'> {
  const had = new Set((before?.entries ?? []).map((e) => dotKey(e.dot.origin, e.dot.seq)));
  const has = new Set(after.entries.map((e) => dotKey(e.dot.origin, e.dot.seq)));
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
    const items = core.replication.digestItems().sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).join(',');
    if (first === undefined) first = items;
    else if (items !== first) return false;
  }
  return true;
}

function check(sim: Simulation<ClusterNode>, nodes: number[], writes: WriteRecord[], lastForget: Map<string, number>): string[] {
  const failures: string[] = [];
  const written = new Set(writes.flatMap((w) => w.added));
  const removed = new Set(writes.flatMap((w) => w.removed));
  const deletedSeen = new Set(writes.flatMap((w) => w.deletedSeen));
  // What some node has established as stable (seen by every member): a tombstone
  // forgotten there is legitimately gone everywhere its state has reached.
  const stableAnywhere = new Map<string, number>();
  for (const i of nodes) {
    for (const [o, seq] of Object.entries(sim.core(i)?.replication.stableVector ?? {})) stableAnywhere.set(o, Math.max(seq, stableAnywhere.get(o) ?? 0));
  }
  const views = new Map<string, string>();
  for (const i of nodes) {
    const core = sim.core(i);
    if (!core) {
      failures.push(`node ${i} is not running`);
      continue;
    }
    const store = core.replication.store;
    const all: ContactState[] = [];
    for (let page = store.page(undefined, 500); page.length > 0; page = store.page(page[page.length - 1]!.id, 500)) all.push(...page);
    for (const s of all) {
      for (const e of s.entries) {
        const d = dotKey(e.dot.origin, e.dot.seq);
        if (!written.has(d)) failures.push(`node ${i}: contact ${s.id} holds entry ${d} that no write made`);
        if (removed.has(d)) failures.push(`node ${i}: contact ${s.id} holds entry ${d} that a write removed (resurrected)`);
      }
      const v = view(s);
      const text = v ? JSON.stringify({ ...v, seen: undefined, updated: undefined }) : 'deleted';
      const other = views.get(s.id);
      if (other === undefined) views.set(s.id, text);
      else if (other !== text) failures.push(`node ${i}: contact ${s.id} reads differently than on another node`);
    }
    // Each contact's entry dots, once per node (not once per write).
    const presentIn = new Map<ContactId, Set<string>>();
    for (const w of writes) {
      let present = presentIn.get(w.id);
      if (!present) presentIn.set(w.id, (present = new Set((store.get(w.id)?.entries ?? []).map((e) => dotKey(e.dot.origin, e.dot.seq)))));
      for (const d of w.added) {
        if (present.has(d) || removed.has(d)) continue;
        // Present, or superseded: removed by a later write that had seen it,
        // or part of a tombstone collected after the write once every member
        // had it (the contact may have been created again since).
        const [origin, seq] = d.split(':') as [string, string];
        const stable = Number(seq) <= (stableAnywhere.get(origin) ?? 0);
        const forgotten = stable && (deletedSeen.has(d) || (lastForget.get(w.id) ?? -1) > w.atMs);
        if (!forgotten) failures.push(`node ${i}: acknowledged write ${d} to ${w.id} (made at node ${w.node}) is missing`);
      }
    }
  }
  if (!sameEverywhere(sim, nodes)) failures.push('nodes hold different digest sets');
  return failures.slice(0, 20);
}
