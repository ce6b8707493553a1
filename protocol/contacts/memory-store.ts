/**
 * The in-memory ContactStore: what the simulator runs on, and the cache the
 * daemon's SQLite store loads into (see store.ts).
 *
 * How this works: states in a Map by id, plus a sorted id list for paging
 * (rebuilt lazily after inserts: pages are rare, writes frequent). The
 * catch-up index keeps, per origin, parallel sorted arrays of seqs and the
 * contact each touched; a contact also remembers which dots it indexed, so
 * forgetting it removes exactly its rows. With `journal: true` every
 * mutation is also recorded as a StoreChange for the shell to persist
 * (bulkLoad excepted: it loads what is already durable).
 */
import {
  cloudAbove, cloudDots, cloudFromDots, cloudHas, cloudMax, cloudMinus, cloudUnion, EMPTY_CLOUD, EMPTY_VV, vvCovers, vvMax, type Dot, type DotCloud, type VersionVector,
} from './dots.ts';
import type { TombstoneFence } from './gc.ts';
import { HLC_ZERO, type Hlc } from './hlc.ts';
import type { ContactId } from './ids.ts';
import { isTombstone, type ContactState } from './state.ts';
import { FORGOTTEN_KEPT, type ContactStore, type StoreChange, type TouchedPage, type TouchedRange } from './store.ts';
import { ProtocolUsageError, type NodeId } from '../types.ts';

interface OriginIndex {
  seqs: number[];
  ids: ContactId[];
}

/** Index of the first element ≥ `x` in a sorted array. */
function lowerBound(xs: readonly number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A ContactStore in memory (see the header); optionally journals changes for persistence. */
export class MemoryStore implements ContactStore {
  private readonly states = new Map<ContactId, ContactState>();
  private sortedIds: ContactId[] | undefined = [];
  private readonly index = new Map<NodeId, OriginIndex>();
  private readonly indexedDots = new Map<ContactId, DotCloud>();
  private prunedBelow: VersionVector = EMPTY_VV;
  private readonly dead = new Set<ContactId>();
  private readonly fences = new Map<ContactId, TombstoneFence>();
  /** Contacts forgotten lately, least recently remembered first: the bound of their old life's dots (forgottenFloor). */
  private readonly forgottenFloors = new Map<ContactId, VersionVector>();
  private appliedDots: DotCloud = EMPTY_CLOUD;
  private lastHlc: Hlc = HLC_ZERO;
  private journal: StoreChange[] | undefined;

  /** `journal`: record every mutation for drainChanges (the daemon's persistence path). */
  constructor(opts: { journal?: boolean } = {}) {
    if (opts.journal) this.journal = [];
  }

  get(id: ContactId): ContactState | undefined {
    return this.states.get(id);
  }

  put(state: ContactState): void {
    if (!this.states.has(state.id)) this.sortedIds = undefined;
    this.states.set(state.id, state);
    if (isTombstone(state)) this.dead.add(state.id);
    else this.dead.delete(state.id);
    this.indexState(state);
    this.journal?.push({ kind: 'put', state });
  }

  /**
   * Loads `states` into this store while it holds none (a restart's load of
   * what was persisted): the states, the tombstone set, and the catch-up
   * index above the current index floor (set it first), built by one sort
   * per origin instead of an insert per dot, which moved every later dot
   * along (quadratic: minutes at 100,000 contacts with old contacts edited
   * late). Journals nothing: what is loaded is already durable.
   */
  bulkLoad(states: readonly ContactState[]): void {
    if (this.states.size > 0) throw new ProtocolUsageError(`bulkLoad into a store that holds ${this.states.size} contacts: load once, into an empty store`);
    const rows = new Map<NodeId, { seq: number; id: ContactId }[]>();
    for (const s of states) {
      if (this.states.has(s.id)) throw new ProtocolUsageError(`bulkLoad given contact ${s.id} twice`);
      this.states.set(s.id, s);
      if (isTombstone(s)) this.dead.add(s.id);
      const dots = cloudAbove(cloudUnion(s.ctx, cloudFromDots(s.entries.map((e) => e.dot))), this.prunedBelow);
      if (Object.keys(dots).length === 0) continue;
      this.indexedDots.set(s.id, dots);
      for (const d of cloudDots(dots)) {
        let list = rows.get(d.origin);
        if (!list) rows.set(d.origin, (list = []));
        list.push({ seq: d.seq, id: s.id });
      }
    }
    this.sortedIds = undefined;
    for (const [origin, list] of rows) {
      // Rows come mostly in seq order already (a store's row order is roughly write order): the sort is near linear.
      list.sort((a, b) => a.seq - b.seq);
      const ix: OriginIndex = { seqs: [], ids: [] };
      for (const r of list) {
        // A dot indexes the first contact that holds it, as put does.
        if (ix.seqs.length > 0 && ix.seqs[ix.seqs.length - 1] === r.seq) continue;
        ix.seqs.push(r.seq);
        ix.ids.push(r.id);
      }
      this.index.set(origin, ix);
    }
  }

  forget(id: ContactId, seenUpTo: VersionVector = EMPTY_VV): void {
    const s = this.states.get(id);
    if (!s) return;
    this.states.delete(id);
    this.rememberForgotten(s, seenUpTo);
    this.sortedIds = undefined;
    this.dead.delete(id);
    this.fences.delete(id);
    for (const d of cloudDots(this.indexedDots.get(id) ?? EMPTY_CLOUD)) this.unindex(d);
    this.indexedDots.delete(id);
    this.journal?.push({ kind: 'forget', id });
  }

  count(): number {
    return this.states.size;
  }

  forgottenFloor(id: ContactId): VersionVector | undefined {
    return this.forgottenFloors.get(id);
  }

  rememberOldLife(id: ContactId, bound: VersionVector): void {
    const before = this.forgottenFloors.get(id) ?? EMPTY_VV;
    const joined = vvMax(before, bound);
    this.forgottenFloors.delete(id);
    this.forgottenFloors.set(id, joined);
    if (this.forgottenFloors.size > FORGOTTEN_KEPT) this.forgottenFloors.delete(this.forgottenFloors.keys().next().value!);
    this.journal?.push({ kind: 'oldLife', id, bound: joined });
  }

  /** Remembers the bound of `s`'s context (floor, explicit dots, entries' dots) and `seenUpTo`. */
  private rememberForgotten(s: ContactState, seenUpTo: VersionVector): void {
    const seen = cloudMax(cloudUnion(s.ctx, cloudFromDots(s.entries.map((e) => e.dot))));
    this.rememberOldLife(s.id, vvMax(seenUpTo, vvMax(s.floor, seen)));
  }

  page(after: ContactId | undefined, limit: number): ContactState[] {
    this.sortedIds ??= [...this.states.keys()].sort();
    const ids = this.sortedIds;
    let start = 0;
    if (after !== undefined) while (start < ids.length && ids[start]! <= after) start++;
    return ids.slice(start, start + limit).map((id) => this.states.get(id)!);
  }

  touchedAfter(origin: NodeId, afterSeq: number, limit: number, range: TouchedRange = {}): TouchedPage {
    const ix = this.index.get(origin);
    if (!ix) return { ids: [], throughSeq: afterSeq, done: true };
    const through = range.through ?? Infinity;
    const skip = range.skip ?? [];
    const ids: ContactId[] = [];
    const seen = new Set<ContactId>();
    let k = lowerBound(ix.seqs, afterSeq + 1);
    let last = afterSeq;
    let r = 0; // the first skip range that does not end below the current seq
    while (k < ix.seqs.length) {
      const seq = ix.seqs[k]!;
      if (seq > through) break;
      while (r < skip.length && skip[r + 1]! < seq) r += 2;
      if (r < skip.length && skip[r]! <= seq) {
        // A range the asker holds: passed over at once, however long.
        const next = lowerBound(ix.seqs, Math.min(skip[r + 1]!, through) + 1);
        last = ix.seqs[next - 1]!;
        k = next;
        continue;
      }
      const id = ix.ids[k]!;
      if (!seen.has(id)) {
        if (ids.length === limit) return { ids, throughSeq: last, done: false };
        seen.add(id);
        ids.push(id);
      }
      last = seq;
      k++;
    }
    return { ids, throughSeq: last, done: true };
  }

  pruneIndex(below: VersionVector): void {
    const before = this.prunedBelow;
    this.prunedBelow = vvMax(before, below);
    // Nothing newly stable (most stability ticks): nothing to drop or persist.
    if (this.prunedBelow === before) return;
    for (const [origin, ix] of this.index) {
      const cut = lowerBound(ix.seqs, (below[origin] ?? 0) + 1);
      ix.seqs.splice(0, cut);
      ix.ids.splice(0, cut);
    }
    for (const [id, dots] of this.indexedDots) this.indexedDots.set(id, cloudAbove(dots, below));
    this.journal?.push({ kind: 'pruneIndex', below });
  }

  indexFloor(): VersionVector {
    return this.prunedBelow;
  }

  tombstones(): ContactId[] {
    return [...this.dead].sort();
  }

  fence(id: ContactId): TombstoneFence | undefined {
    return this.fences.get(id);
  }

  setFence(id: ContactId, fence: TombstoneFence | undefined): void {
    if (fence === this.fences.get(id)) return;
    if (fence) this.fences.set(id, fence);
    else this.fences.delete(id);
    this.journal?.push({ kind: 'fence', id, fence });
  }

  applied(): DotCloud {
    return this.appliedDots;
  }

  addApplied(dots: DotCloud): void {
    const before = this.appliedDots;
    this.appliedDots = cloudUnion(before, dots);
    // Nothing new (most states from peers): nothing to persist.
    if (this.appliedDots !== before) this.journal?.push({ kind: 'applied', dots });
  }

  clock(): Hlc {
    return this.lastHlc;
  }

  setClock(hlc: Hlc): void {
    this.lastHlc = hlc;
    this.journal?.push({ kind: 'clock', hlc });
  }

  drainChanges(): StoreChange[] {
    if (!this.journal) return [];
    const out = this.journal;
    this.journal = [];
    return out;
  }

  /** Indexes the state's explicit dots (context and entries) not indexed yet. */
  private indexState(s: ContactState): void {
    const have = this.indexedDots.get(s.id) ?? EMPTY_CLOUD;
    // A state is put again and again with few new dots: look each entry up
    // (no allocation), and do range arithmetic on the context.
    let freshEntries: Dot[] | undefined;
    for (const e of s.entries) {
      if (!vvCovers(this.prunedBelow, e.dot) && !cloudHas(have, e.dot)) (freshEntries ??= []).push(e.dot);
    }
    const freshCtx = cloudMinus(cloudAbove(s.ctx, this.prunedBelow), have);
    if (!freshEntries && Object.keys(freshCtx).length === 0) return;
    const fresh = freshEntries ? cloudUnion(freshCtx, cloudFromDots(freshEntries)) : freshCtx;
    for (const d of cloudDots(fresh)) this.indexDot(d, s.id);
    this.indexedDots.set(s.id, cloudUnion(have, fresh));
  }

  private indexDot(d: Dot, id: ContactId): void {
    let ix = this.index.get(d.origin);
    if (!ix) this.index.set(d.origin, (ix = { seqs: [], ids: [] }));
    const k = lowerBound(ix.seqs, d.seq);
    if (ix.seqs[k] === d.seq) return;
    if (k === ix.seqs.length) {
      // This node's own new dots, and most others, come in order: an append.
      ix.seqs.push(d.seq);
      ix.ids.push(id);
      return;
    }
    ix.seqs.splice(k, 0, d.seq);
    ix.ids.splice(k, 0, id);
  }

  private unindex(d: Dot): void {
    const ix = this.index.get(d.origin);
    if (!ix) return;
    const k = lowerBound(ix.seqs, d.seq);
    if (ix.seqs[k] !== d.seq) return;
    ix.seqs.splice(k, 1);
    ix.ids.splice(k, 1);
  }
}
