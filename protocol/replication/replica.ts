/**
 * A node's replica of the contact list, in memory, with the indexes
 * replication needs:
 * - the version vector of every write applied (a dot cloud);
 * - per origin, which contact each of its writes (above the stable vector)
 *   touched, so "everything from origin X after seq c" is an index scan;
 * - per digest item (the contact's 64-bit version), the contact it names.
 * Every change goes through `merge`, which joins, updates the indexes and
 * says whether anything changed. The shell persists what changed.
 */
import type { NodeId } from '../types.ts';
import {
  type ContactId, type ContactState, emptyState, isForgettable, join, NO_STABLE, type StableVector, version,
} from '../crdt/contact-state.ts';
import { DotCloud } from '../crdt/dots.ts';

function sameEntries(a: ContactState, b: ContactState): boolean {
  if (a.entries.length !== b.entries.length) return false;
  for (let i = 0; i < a.entries.length; i++) {
    const x = a.entries[i]!;
    const y = b.entries[i]!;
    if (x.origin !== y.origin || x.seq !== y.seq) return false;
  }
  return true;
}

export class Replica {
  private readonly states = new Map<ContactId, ContactState>();
  private readonly versions = new Map<bigint, ContactId>();
  private readonly versionOf = new Map<ContactId, bigint>();
  /** origin → seq → contact: which contact each (unstable) write touched. */
  private readonly touched = new Map<NodeId, Map<number, ContactId>>();
  /** Every write this replica has applied (or knows to be stable). */
  readonly applied = new DotCloud();
  private stableVector: Map<NodeId, number> = new Map();

  /** @param broken drop every received entry (a deliberately broken merge, for testing the checkers) */
  constructor(private readonly broken = false) {}

  get(id: ContactId): ContactState | undefined {
    return this.states.get(id);
  }

  all(): IterableIterator<ContactState> {
    return this.states.values();
  }

  get size(): number {
    return this.states.size;
  }

  get stable(): StableVector {
    return this.stableVector;
  }

  /** The contact a digest item names, if we hold it. */
  byVersion(v: bigint): ContactId | undefined {
    return this.versions.get(v);
  }

  /** Digest items: the versions of every contact with entries. */
  digestItems(): bigint[] {
    return [...this.versions.keys()];
  }

  /**
   * Joins `incoming` (compacted under `incomingStable`) into the replica.
   * `changed` is the new state when anything changed; `result` the joined
   * state either way (a forgotten contact joins to an empty one); `dominates`
   * tells whether the result differs from what the sender holds.
   */
  merge(incoming: ContactState, incomingStable: StableVector = NO_STABLE): { changed: ContactState | undefined; result: ContactState; dominates: boolean } {
    const before = this.states.get(incoming.id) ?? emptyState(incoming.id);
    const after = join(before, this.broken ? { ...incoming, entries: [] } : incoming, this.stableVector, incomingStable);
    this.noteDots(after);
    const changed = !sameEntries(before, after) || !before.ctx.equals(after.ctx);
    if (changed) this.put(after);
    return { changed: changed ? after : undefined, result: after, dominates: !sameEntries(after, incoming) };
  }

  /** Stores a state already computed (a local write's result). */
  put(s: ContactState): void {
    this.states.set(s.id, s);
    this.noteDots(s);
    const old = this.versionOf.get(s.id);
    if (old !== undefined) this.versions.delete(old);
    const v = version(s);
    if (v === undefined) this.versionOf.delete(s.id);
    else {
      this.versions.set(v, s.id);
      this.versionOf.set(s.id, v);
    }
  }

  /** Records every dot of `s` as applied and indexes it for catch-up. */
  private noteDots(s: ContactState): void {
    const note = (origin: NodeId, seq: number) => {
      this.applied.add(origin, seq);
      if (seq <= (this.stableVector.get(origin) ?? 0)) return;
      let m = this.touched.get(origin);
      if (!m) this.touched.set(origin, (m = new Map()));
      m.set(seq, s.id);
    };
    for (const e of s.entries) note(e.origin, e.seq);
    for (const o of s.ctx.origins()) {
      const top = s.ctx.contiguous(o);
      // A ctx's contiguous prefix can be long; only its unstable tail needs indexing.
      for (let seq = Math.max(1, (this.stableVector.get(o) ?? 0) + 1); seq <= top; seq++) note(o, seq);
      for (const seq of s.ctx.exceptions(o)) note(o, seq);
    }
  }

  /**
   * Contacts touched by writes the holder of `vv` lacks, oldest write
   * first, at most `limit`; and per origin the seq up to which the batch
   * (with what `vv` already has) covers every write we know.
   */
  missingFor(vv: ReadonlyMap<NodeId, number>, limit: number): { ids: ContactId[]; upTo: Map<NodeId, number>; more: boolean } {
    const ids: ContactId[] = [];
    const chosen = new Set<ContactId>();
    const upTo = new Map<NodeId, number>();
    let more = false;
    for (const origin of this.applied.origins()) {
      const theirs = vv.get(origin) ?? 0;
      const ours = this.applied.contiguous(origin);
      if (ours <= theirs) continue;
      const m = this.touched.get(origin);
      const seqs = m ? [...m.keys()].filter((s) => s > theirs && s <= ours).sort((a, b) => a - b) : [];
      let covered = Math.max(theirs, this.stableVector.get(origin) ?? 0);
      let full = false;
      for (const seq of seqs) {
        const id = m!.get(seq)!;
        if (!chosen.has(id)) {
          if (ids.length >= limit) {
            full = true;
            break;
          }
          chosen.add(id);
          ids.push(id);
        }
        covered = seq;
      }
      if (!full) covered = ours;
      else more = true;
      if (covered > theirs) upTo.set(origin, covered);
    }
    return { ids, upTo, more };
  }

  /**
   * Adopts a new stable vector (pointwise min of every member's vector):
   * compacts contexts, drops index entries nobody needs, and forgets
   * tombstones. Returns the ids of forgotten contacts.
   */
  setStable(stable: Map<NodeId, number>): ContactId[] {
    this.stableVector = stable;
    for (const [origin, top] of stable) {
      this.applied.addRange(origin, top);
      const m = this.touched.get(origin);
      if (m) for (const seq of m.keys()) if (seq <= top) m.delete(seq);
    }
    const forgotten: ContactId[] = [];
    for (const s of this.states.values()) {
      if (!isForgettable(s, stable)) continue;
      this.states.delete(s.id);
      const v = this.versionOf.get(s.id);
      if (v !== undefined) this.versions.delete(v);
      this.versionOf.delete(s.id);
      forgotten.push(s.id);
    }
    return forgotten;
  }
}
