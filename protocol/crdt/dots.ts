/**
 * Dots and dot clouds: the causal bookkeeping of the contact CRDT.
 *
 * Every write anywhere gets a *dot* (origin node, seq): seq counts every
 * write that origin ever made, across all contacts, so "everything from
 * origin X after seq c" is a meaningful catch-up request. A *dot cloud* is
 * a set of dots stored as a version vector (origin → highest contiguous
 * seq) plus the exceptions seen above it; it compacts itself as gaps fill.
 */
import type { NodeId } from '../types.ts';

export interface Dot {
  readonly origin: NodeId;
  readonly seq: number;
}

/** A dot as one string key: `origin:seq`. */
export function dotKey(d: Dot): string {
  return `${d.origin}:${d.seq}`;
}

/** Wire form of a cloud: [origin, contiguous max, [exceptions above it]] triples. */
export type DotCloudWire = [NodeId, number, number[]][];

/** A set of dots: a version vector plus exceptions above it. */
export class DotCloud {
  private readonly vv = new Map<NodeId, number>();
  private readonly extra = new Map<NodeId, Set<number>>();

  /** True when `origin`'s write number `seq` is in the set. */
  has(origin: NodeId, seq: number): boolean {
    if (seq <= (this.vv.get(origin) ?? 0)) return true;
    return this.extra.get(origin)?.has(seq) ?? false;
  }

  /** Adds one dot; true when it was new. */
  add(origin: NodeId, seq: number): boolean {
    const top = this.vv.get(origin) ?? 0;
    if (seq <= top) return false;
    if (seq === top + 1) {
      let next = seq;
      const ex = this.extra.get(origin);
      while (ex?.delete(next + 1)) next++;
      this.vv.set(origin, next);
      if (ex && ex.size === 0) this.extra.delete(origin);
      return true;
    }
    let ex = this.extra.get(origin);
    if (!ex) this.extra.set(origin, (ex = new Set()));
    if (ex.has(seq)) return false;
    ex.add(seq);
    return true;
  }

  /** Adds every dot of `other`. */
  merge(other: DotCloud): void {
    for (const [origin, top] of other.vv) this.addRange(origin, top);
    for (const [origin, ex] of other.extra) for (const seq of ex) this.add(origin, seq);
  }

  /** Adds every seq of `origin` up to `top`. */
  addRange(origin: NodeId, top: number): void {
    if (top <= (this.vv.get(origin) ?? 0)) return;
    this.vv.set(origin, top);
    const ex = this.extra.get(origin);
    if (!ex) return;
    for (const seq of ex) if (seq <= top) ex.delete(seq);
    let next = top;
    while (ex.delete(next + 1)) next++;
    this.vv.set(origin, next);
    if (ex.size === 0) this.extra.delete(origin);
  }

  /** Highest contiguous seq of `origin` (0 when none). */
  contiguous(origin: NodeId): number {
    return this.vv.get(origin) ?? 0;
  }

  /** Origins this cloud knows of. */
  origins(): NodeId[] {
    const all = new Set<NodeId>([...this.vv.keys(), ...this.extra.keys()]);
    return [...all].sort();
  }

  /** Exceptions of `origin` above its contiguous max, ascending. */
  exceptions(origin: NodeId): number[] {
    return [...(this.extra.get(origin) ?? [])].sort((a, b) => a - b);
  }

  /** Highest seq of `origin` in the set, exceptions included. */
  max(origin: NodeId): number {
    let m = this.vv.get(origin) ?? 0;
    for (const s of this.extra.get(origin) ?? []) if (s > m) m = s;
    return m;
  }

  /** Drops every dot at or below `floor` (the stable vector): they are implied from now on. */
  dropBelow(floor: ReadonlyMap<NodeId, number>): void {
    for (const [origin, top] of floor) {
      const mine = this.vv.get(origin);
      if (mine !== undefined && mine <= top) this.vv.delete(origin);
      const ex = this.extra.get(origin);
      if (ex) {
        for (const s of ex) if (s <= top) ex.delete(s);
        if (ex.size === 0) this.extra.delete(origin);
      }
    }
  }

  get isEmpty(): boolean {
    return this.vv.size === 0 && this.extra.size === 0;
  }

  clone(): DotCloud {
    const c = new DotCloud();
    for (const [o, t] of this.vv) c.vv.set(o, t);
    for (const [o, ex] of this.extra) c.extra.set(o, new Set(ex));
    return c;
  }

  toWire(): DotCloudWire {
    return this.origins().map((o) => [o, this.contiguous(o), this.exceptions(o)]);
  }

  static fromWire(wire: DotCloudWire): DotCloud {
    const c = new DotCloud();
    for (const [origin, top, ex] of wire) {
      c.addRange(origin, top);
      for (const s of ex) c.add(origin, s);
    }
    return c;
  }

  /** Same set of dots? */
  equals(other: DotCloud): boolean {
    return JSON.stringify(this.toWire()) === JSON.stringify(other.toWire());
  }
}
