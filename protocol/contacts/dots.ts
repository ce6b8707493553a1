/**
 * Dots, version vectors and dot clouds: the causal bookkeeping of the
 * contact CRDT.
 *
 * How this works: every entry any node ever writes gets a *dot* (origin
 * node, seq), where seq counts every dot that origin issued, across all
 * contacts, so "everything from origin X after seq c" is a meaningful
 * catch-up request. A *version vector* maps origin → highest seq such that
 * every seq up to it is included. A *dot cloud* is an arbitrary set of
 * dots: per origin, a sorted list of disjoint, non-adjacent inclusive
 * ranges, flattened as [from, to, from, to, …]. The first range of an origin,
 * when it starts at 1, is the version vector part; the rest are the
 * exceptions above it. Ranges (rather than single exception dots) because a
 * write takes a run of consecutive seqs, and a contact's own context is
 * mostly such runs.
 *
 * Values are plain immutable data in canonical form (sorted, merged, no
 * empty origins), so two equal sets are deep-equal and encode to the same
 * bytes. Every operation returns a new value.
 */
import type { NodeId } from '../types.ts';

/** One entry's identity: the `seq`-th dot `origin` ever issued (seq ≥ 1). */
export interface Dot {
  readonly origin: NodeId;
  readonly seq: number;
}

/** A run of consecutive dots of one origin, `first..last` inclusive: what one write uses. */
export interface DotRange {
  readonly origin: NodeId;
  readonly first: number;
  readonly last: number;
}

/** origin (a NodeId) → every seq up to this one is included; absent means 0. */
export type VersionVector = Readonly<Record<string, number>>;

/** A set of dots: origin (a NodeId) → flattened sorted disjoint ranges [from, to, …]. */
export type DotCloud = Readonly<Record<string, readonly number[]>>;

/** The vector of nothing seen. */
export const EMPTY_VV: VersionVector = Object.freeze({});
/** The empty set of dots. */
export const EMPTY_CLOUD: DotCloud = Object.freeze({});

/** `vv`'s entry for `origin` (0 when absent). */
export function vvGet(vv: VersionVector, origin: string): number {
  return vv[origin] ?? 0;
}

/** True when `dot` is at or below `vv`. */
export function vvCovers(vv: VersionVector, dot: Dot): boolean {
  return dot.seq <= vvGet(vv, dot.origin);
}

/** Pointwise max: the join of two version vectors (`a` itself when `b` adds nothing). */
export function vvMax(a: VersionVector, b: VersionVector): VersionVector {
  let out: Record<string, number> | undefined;
  for (const o in b) {
    const s = b[o]!;
    if (s <= (a[o] ?? 0)) continue;
    out ??= { ...a };
    out[o] = s;
  }
  return out ?? a;
}

/** Pointwise min over `vvs` (an origin missing from any of them counts as 0): the stable vector of a membership. */
export function vvMeet(vvs: readonly VersionVector[]): VersionVector {
  if (vvs.length === 0) return EMPTY_VV;
  const out: Record<string, number> = {};
  for (const [o, s] of Object.entries(vvs[0]!)) {
    const m = Math.min(s, ...vvs.slice(1).map((v) => vvGet(v, o)));
    if (m > 0) out[o] = m;
  }
  return out;
}

/** True when both vectors hold the same entries (an absent entry equals 0). */
export function vvEquals(a: VersionVector, b: VersionVector): boolean {
  return vvLeq(a, b) && vvLeq(b, a);
}

/** True when every entry of `a` is ≤ the same entry of `b`. */
export function vvLeq(a: VersionVector, b: VersionVector): boolean {
  for (const o in a) if (a[o]! > (b[o] ?? 0)) return false;
  return true;
}

function findRange(ranges: readonly number[], seq: number): boolean {
  // Binary search over range starts: the last range starting at or before seq.
  let lo = 0;
  let hi = ranges.length / 2 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (ranges[2 * mid]! <= seq) lo = mid + 1;
    else hi = mid - 1;
  }
  return hi >= 0 && seq <= ranges[2 * hi + 1]!;
}

/** True when every range of `b` lies inside one range of `a`. */
function rangesCover(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < b.length; i += 2) {
    // The last range of `a` starting at or before b's range start must reach its end.
    let lo = 0;
    let hi = a.length / 2 - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (a[2 * mid]! <= b[i]!) lo = mid + 1;
      else hi = mid - 1;
    }
    if (hi < 0 || a[2 * hi + 1]! < b[i + 1]!) return false;
  }
  return true;
}

/** The union of two range lists; `a` itself when `b` adds nothing (most unions of a node's clouds). */
function unionRanges(a: readonly number[], b: readonly number[]): readonly number[] {
  if (rangesCover(a, b)) return a;
  if (a.length === 0) return b;
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const takeA = j >= b.length || (i < a.length && a[i]! <= b[j]!);
    const from = takeA ? a[i]! : b[j]!;
    const to = takeA ? a[i + 1]! : b[j + 1]!;
    if (takeA) i += 2;
    else j += 2;
    const n = out.length;
    // Overlapping or adjacent ranges merge: keeps the form canonical.
    if (n > 0 && from <= out[n - 1]! + 1) out[n - 1] = Math.max(out[n - 1]!, to);
    else out.push(from, to);
  }
  return out;
}

function withOrigin(c: DotCloud, origin: string, ranges: readonly number[]): DotCloud {
  const out: Record<string, readonly number[]> = { ...c };
  if (ranges.length > 0) out[origin] = ranges;
  else delete out[origin];
  return out;
}

/** True when `dot` is in the cloud. */
export function cloudHas(c: DotCloud, dot: Dot): boolean {
  const ranges = c[dot.origin];
  return ranges !== undefined && findRange(ranges, dot.seq);
}

/** The cloud plus `origin`'s seqs `first..last`; throws on a malformed range (our misuse). */
export function cloudAddRange(c: DotCloud, origin: NodeId, first: number, last: number): DotCloud {
  if (!Number.isInteger(first) || !Number.isInteger(last) || first < 1 || last < first) {
    throw new RangeError(`bad dot range ${origin}:${first}..${last}`);
  }
  const had = c[origin] ?? [];
  const ranges = unionRanges(had, [first, last]);
  return ranges === had ? c : withOrigin(c, origin, ranges);
}

/** The cloud plus one dot. */
export function cloudAdd(c: DotCloud, dot: Dot): DotCloud {
  return cloudHas(c, dot) ? c : cloudAddRange(c, dot.origin, dot.seq, dot.seq);
}

/** The cloud of the given dots. */
export function cloudFromDots(dots: Iterable<Dot>): DotCloud {
  if (Array.isArray(dots)) return cloudFromDotArray(dots);
  return cloudFromUnsorted(dots);
}

/**
 * The cloud of the dots of an array, in one pass when they come sorted by
 * (origin, seq), as a state's entries do; any other order falls back to
 * sorting.
 */
function cloudFromDotArray(dots: readonly Dot[]): DotCloud {
  if (dots.length === 0) return EMPTY_CLOUD;
  const out: Record<string, number[]> = {};
  let origin = '';
  let ranges: number[] = [];
  for (const d of dots) {
    if (d.origin !== origin) {
      if (d.origin < origin || out[d.origin] !== undefined) return cloudFromUnsorted(dots);
      origin = d.origin;
      out[origin] = ranges = [];
    } else if (d.seq <= ranges[ranges.length - 1]!) {
      // Out of order (or a repeat): not the sorted fast case.
      return cloudFromUnsorted(dots);
    }
    unionInto(ranges, d.seq);
  }
  return out;
}

function cloudFromUnsorted(dots: Iterable<Dot>): DotCloud {
  const byOrigin = new Map<NodeId, number[]>();
  for (const d of dots) {
    let seqs = byOrigin.get(d.origin);
    if (!seqs) byOrigin.set(d.origin, (seqs = []));
    seqs.push(d.seq);
  }
  let out: DotCloud = EMPTY_CLOUD;
  for (const [origin, seqs] of byOrigin) {
    seqs.sort((x, y) => x - y);
    const ranges: number[] = [];
    for (const s of seqs) unionInto(ranges, s);
    out = withOrigin(out, origin, ranges);
  }
  return out;
}

function unionInto(sortedRanges: number[], seq: number): void {
  const n = sortedRanges.length;
  if (n > 0 && seq <= sortedRanges[n - 1]! + 1) sortedRanges[n - 1] = Math.max(sortedRanges[n - 1]!, seq);
  else sortedRanges.push(seq, seq);
}

/** Union of two clouds (`a` itself when `b` adds nothing). */
export function cloudUnion(a: DotCloud, b: DotCloud): DotCloud {
  let out: Record<string, readonly number[]> | undefined;
  for (const origin in b) {
    const had = a[origin];
    const ranges = had === undefined ? b[origin]! : unionRanges(had, b[origin]!);
    if (ranges === had) continue;
    out ??= { ...a };
    out[origin] = ranges;
  }
  return out ?? a;
}

/** The dots of `a` that are not in `b` (`a` itself when they share none). */
export function cloudMinus(a: DotCloud, b: DotCloud): DotCloud {
  let changed = false;
  for (const origin in a) {
    const cut = b[origin];
    if (cut !== undefined && rangesMeet(a[origin]!, cut)) changed = true;
  }
  if (!changed) return a;
  const out: Record<string, readonly number[]> = {};
  for (const origin in a) {
    const cut = b[origin];
    const kept = cut === undefined ? a[origin]! : minusRanges(a[origin]!, cut);
    if (kept.length > 0) out[origin] = kept;
  }
  return out;
}

/** True when two range lists share a seq. */
function rangesMeet(a: readonly number[], b: readonly number[]): boolean {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i + 1]! < b[j]!) i += 2;
    else if (b[j + 1]! < a[i]!) j += 2;
    else return true;
  }
  return false;
}

function minusRanges(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let j = 0;
  for (let i = 0; i < a.length; i += 2) {
    let from = a[i]!;
    const to = a[i + 1]!;
    while (j < b.length && b[j + 1]! < from) j += 2;
    // Cut every range of b that overlaps [from, to] out of it, left to right.
    for (let k = j; k < b.length && b[k]! <= to && from <= to; k += 2) {
      if (b[k]! > from) out.push(from, b[k]! - 1);
      from = Math.max(from, b[k + 1]! + 1);
    }
    if (from <= to) out.push(from, to);
  }
  return out;
}

/** The cloud without the dots at or below `floor`: they are implied by the floor from now on (`c` itself when none are). */
export function cloudAbove(c: DotCloud, floor: VersionVector): DotCloud {
  let changed = false;
  for (const origin in c) {
    const f = floor[origin] ?? 0;
    if (f > 0 && c[origin]![0]! <= f) changed = true;
  }
  if (!changed) return c;
  const out: Record<string, readonly number[]> = {};
  for (const origin in c) {
    const ranges = c[origin]!;
    const f = floor[origin] ?? 0;
    if (f === 0 || ranges[0]! > f) {
      out[origin] = ranges;
      continue;
    }
    const kept: number[] = [];
    for (let i = 0; i < ranges.length; i += 2) {
      if (ranges[i + 1]! <= f) continue;
      kept.push(Math.max(ranges[i]!, f + 1), ranges[i + 1]!);
    }
    if (kept.length > 0) out[origin] = kept;
  }
  return out;
}

/** The cloud plus every dot at or below `vv` (a node learning "all of X up to c is applied"). */
export function cloudWithFloor(c: DotCloud, vv: VersionVector): DotCloud {
  let out = c;
  for (const [origin, s] of Object.entries(vv)) if (s > 0) out = cloudAddRange(out, origin as NodeId, 1, s);
  return out;
}

/** The contiguous part: origin → highest seq with every seq from 1 up to it in the cloud. */
export function cloudTop(c: DotCloud): VersionVector {
  const out: Record<string, number> = {};
  for (const [origin, ranges] of Object.entries(c)) if (ranges[0] === 1) out[origin] = ranges[1]!;
  return out;
}

/** Highest seq per origin, gaps or not. */
export function cloudMax(c: DotCloud): VersionVector {
  const out: Record<string, number> = {};
  for (const [origin, ranges] of Object.entries(c)) out[origin] = ranges[ranges.length - 1]!;
  return out;
}

/** True when every dot of the cloud is at or below `vv`. */
export function cloudCoveredBy(c: DotCloud, vv: VersionVector): boolean {
  return Object.entries(c).every(([origin, ranges]) => ranges[ranges.length - 1]! <= vvGet(vv, origin));
}

/** True when both clouds hold the same dots. */
export function cloudEquals(a: DotCloud, b: DotCloud): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((o) => {
    const x = a[o]!;
    const y = b[o];
    return y !== undefined && x.length === y.length && x.every((v, i) => v === y[i]);
  });
}

/** How many dots the cloud holds. */
export function cloudCount(c: DotCloud): number {
  let n = 0;
  for (const ranges of Object.values(c)) for (let i = 0; i < ranges.length; i += 2) n += ranges[i + 1]! - ranges[i]! + 1;
  return n;
}

/** Every dot of the cloud, origins in sorted order, seqs ascending (mind the size: see cloudCount). */
export function* cloudDots(c: DotCloud): Generator<Dot> {
  for (const origin of Object.keys(c).sort()) {
    const ranges = c[origin]!;
    for (let i = 0; i < ranges.length; i += 2) {
      for (let s = ranges[i]!; s <= ranges[i + 1]!; s++) yield { origin: origin as NodeId, seq: s };
    }
  }
}

/** The cloud in the wire's (origin, contiguous top, exception seqs) form, origins sorted. */
export function cloudToTopExtra(c: DotCloud): { origin: NodeId; top: number; extra: number[] }[] {
  return Object.keys(c).sort().map((origin) => {
    const ranges = c[origin]!;
    const top = ranges[0] === 1 ? ranges[1]! : 0;
    const extra: number[] = [];
    for (let i = top > 0 ? 2 : 0; i < ranges.length; i += 2) for (let s = ranges[i]!; s <= ranges[i + 1]!; s++) extra.push(s);
    return { origin: origin as NodeId, top, extra };
  });
}

/** Inverse of cloudToTopExtra (any order, duplicates allowed). */
export function cloudFromTopExtra(parts: readonly { origin: NodeId; top: number; extra: readonly number[] }[]): DotCloud {
  let out: DotCloud = EMPTY_CLOUD;
  for (const p of parts) {
    if (p.top > 0) out = cloudAddRange(out, p.origin, 1, p.top);
    out = cloudUnion(out, cloudFromDots(p.extra.map((seq) => ({ origin: p.origin, seq }))));
  }
  return out;
}
