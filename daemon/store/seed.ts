/**
 * Puts loaded states into a MemoryStore so that its catch-up index is built
 * by appends, not by inserts in the middle.
 *
 * Why: MemoryStore keeps, per origin, sorted arrays of seqs and inserts
 * each newly indexed dot with a splice. Putting states in row order inserts
 * a contact's recent dots (an edit made long after the contact was created)
 * early, and every older dot put after them moves them along: with 100,000
 * contacts and 20,000 edits of old ones above the index floor (a cluster
 * whose stable vector is held back, by a partition or a member down for
 * days), a load took 226 s. Sorting the work first makes it linear.
 *
 * How this works, through MemoryStore's public `put` only: every run of
 * consecutive dots a state holds above the index floor (a write's entries
 * take consecutive seqs) is listed, and the runs are sorted by first seq.
 * Runs of one origin never overlap, so in that order each origin's dots
 * arrive ascending. For each run, in order, the contact is put as a
 * placeholder state holding no entries and, as context, the runs of it
 * seen so far: put indexes exactly the dots it has not indexed yet, i.e.
 * this run, at the end of its origin's array. Then every real state is put
 * (its dots are all indexed already, so this only sets the state). The
 * placeholders' journal entries are discarded with the rest of the seeding
 * journal. A bulk-load method in memory-store.ts (sort once, build the
 * arrays) would make this file unnecessary.
 */
import { cloudAbove, cloudAddRange, cloudFromDots, cloudUnion, EMPTY_CLOUD, EMPTY_VV, type DotCloud } from '../../protocol/contacts/dots.ts';
import type { MemoryStore } from '../../protocol/contacts/memory-store.ts';
import type { ContactState } from '../../protocol/contacts/state.ts';
import type { NodeId } from '../../protocol/types.ts';

interface Run {
  readonly origin: NodeId;
  readonly first: number;
  readonly last: number;
  /** Index of the state in the list being seeded. */
  readonly k: number;
}

/** Puts every state into `store` (after its index floor is set), building the catch-up index in seq order. */
export function seedStates(store: MemoryStore, states: readonly ContactState[]): void {
  const floor = store.indexFloor();
  const runs: Run[] = [];
  states.forEach((s, k) => {
    const dots = cloudAbove(cloudUnion(s.ctx, cloudFromDots(s.entries.map((e) => e.dot))), floor);
    for (const [origin, ranges] of Object.entries(dots)) {
      for (let i = 0; i < ranges.length; i += 2) runs.push({ origin: origin as NodeId, first: ranges[i]!, last: ranges[i + 1]!, k });
    }
  });
  runs.sort((a, b) => a.first - b.first);
  const seen: DotCloud[] = states.map(() => EMPTY_CLOUD);
  for (const r of runs) {
    seen[r.k] = cloudAddRange(seen[r.k]!, r.origin, r.first, r.last);
    store.put({ id: states[r.k]!.id, entries: [], ctx: seen[r.k]!, floor: EMPTY_VV });
  }
  for (const s of states) store.put(s);
}
