/**
 * The member list as this node sees it, and SWIM's precedence rules.
 *
 * Every member has an incarnation number only it may raise. News about a
 * member is ordered by (incarnation, state): at the same incarnation
 * suspect overrides alive and dead/left override both; an alive message
 * wins only with a strictly higher incarnation — which is how a suspected
 * node refutes. The rules are pure functions so they can be tested from a
 * table.
 *
 * The table also keeps the probe order: a shuffled round-robin over the
 * members (SWIM §4.3), so every member is probed once per round and a failed
 * one is found in bounded time, new members inserted at random positions.
 */
import type { MemberStateName } from '../wire/messages.ts';
import type { Address, NodeId, Rng, TimeMs } from '../types.ts';
import { shuffle } from '../rng.ts';

export interface Member {
  readonly id: NodeId;
  name: string;
  addr: Address;
  incarnation: number;
  state: MemberStateName;
  /** When this node last changed the member's state. */
  stateSince: TimeMs;
  /** When this node last heard from the member itself (a datagram, or an ack relayed for it). */
  lastHeardAt: TimeMs | undefined;
}

/** A read-only copy of a member, for events and the application. */
export type MemberView = Readonly<Member>;

/** Does an alive message at `incarnation` override what we know? (strictly newer only) */
export function aliveOverrides(current: Member | undefined, incarnation: number): boolean {
  return current === undefined || incarnation > current.incarnation;
}

/** Does a suspect message at `incarnation` override what we know? */
export function suspectOverrides(current: Member, incarnation: number): boolean {
  if (current.state === 'dead' || current.state === 'left') return incarnation > current.incarnation;
  if (current.state === 'suspect') return incarnation > current.incarnation;
  return incarnation >= current.incarnation;
}

/** Does a dead (or left) message at `incarnation` override what we know? */
export function deadOverrides(current: Member, incarnation: number): boolean {
  if (current.state === 'dead' || current.state === 'left') return incarnation > current.incarnation;
  return incarnation >= current.incarnation;
}

export class MemberTable {
  private readonly members = new Map<NodeId, Member>();
  /** Every member but ourselves, for O(1) random picks; order is irrelevant (swap-remove). */
  private readonly others: Member[] = [];
  private readonly slotOf = new Map<NodeId, number>();
  private probeOrder: NodeId[] = [];
  private probeIndex = 0;
  /** Members alive or suspect, ourselves included; kept current by add/remove/setState. */
  private live = 0;
  private changes = 0;
  private joinsAndRemovals = 0;
  /** The members at each address, oldest first (two can share one for a while: a restart on a new id). */
  private readonly atAddress = new Map<Address, NodeId[]>();

  constructor(
    readonly selfId: NodeId,
    private readonly rng: Rng,
  ) {}

  get(id: NodeId): Member | undefined {
    return this.members.get(id);
  }

  /** Adds a member not yet known; its probe slot is a random position in the order. */
  add(member: Member): void {
    this.changes++;
    this.joinsAndRemovals++;
    this.members.set(member.id, member);
    this.placeAt(member.addr, member.id);
    if (isLiveState(member.state)) this.live++;
    if (member.id === this.selfId) return;
    this.slotOf.set(member.id, this.others.length);
    this.others.push(member);
    const at = this.rng.int(this.probeOrder.length + 1);
    this.probeOrder.splice(at, 0, member.id);
  }

  /** Forgets a member entirely (reaping). */
  remove(id: NodeId): void {
    const m = this.members.get(id);
    if (!m) return;
    this.changes++;
    this.joinsAndRemovals++;
    if (isLiveState(m.state)) this.live--;
    this.members.delete(id);
    this.unplaceAt(m.addr, id);
    const slot = this.slotOf.get(id);
    if (slot === undefined) return;
    const last = this.others.pop()!;
    this.slotOf.delete(id);
    if (last.id !== id) {
      this.others[slot] = last;
      this.slotOf.set(last.id, slot);
    }
  }

  all(): IterableIterator<Member> {
    return this.members.values();
  }

  get size(): number {
    return this.members.size;
  }

  /** Moves `m` to `state` as of `now` (keeps the live count current). */
  setState(m: Member, state: MemberStateName, now: TimeMs): void {
    if (m.state === state) return;
    this.changes++;
    this.live += (isLiveState(state) ? 1 : 0) - (isLiveState(m.state) ? 1 : 0);
    m.state = state;
    m.stateSince = now;
  }

  /** Moves `m` to address `addr` (keeps the address index current). */
  setAddress(m: Member, addr: Address): void {
    if (m.addr === addr) return;
    this.unplaceAt(m.addr, m.id);
    m.addr = addr;
    this.placeAt(addr, m.id);
  }

  /** Whether any member we list, in any state, ourselves included, is at `addr`. */
  hasAddress(addr: Address): boolean {
    return this.atAddress.has(addr);
  }

  /** The member at `addr` (of two sharing it, the one listed there last: a restart's new id). */
  memberAt(addr: Address): NodeId | undefined {
    return this.atAddress.get(addr)?.at(-1);
  }

  private placeAt(addr: Address, id: NodeId): void {
    const ids = this.atAddress.get(addr);
    if (ids) ids.push(id);
    else this.atAddress.set(addr, [id]);
  }

  private unplaceAt(addr: Address, id: NodeId): void {
    const ids = this.atAddress.get(addr);
    if (!ids) return;
    const i = ids.indexOf(id);
    if (i >= 0) ids.splice(i, 1);
    if (ids.length === 0) this.atAddress.delete(addr);
  }

  /** Bumped by every add, remove and change of state: a cache key for lists of members by state. */
  get version(): number {
    return this.changes;
  }

  /** Bumped by every add and remove only: a cache key for lists of all members, whatever their state. */
  get setVersion(): number {
    return this.joinsAndRemovals;
  }

  /** Members counted for timeouts and retransmits: all but dead and left, ourselves included. */
  liveCount(): number {
    return this.live;
  }

  /**
   * Next member to probe: round-robin over a shuffled order, skipping
   * ourselves, dead and left members; reshuffles (and drops forgotten ids)
   * at the end of each round. Undefined when nobody is probeable.
   */
  nextProbeTarget(): Member | undefined {
    for (let checked = 0; checked <= this.probeOrder.length; checked++) {
      if (this.probeIndex >= this.probeOrder.length) {
        this.probeOrder = shuffle(this.probeOrder.filter((id) => this.members.has(id)), this.rng);
        this.probeIndex = 0;
        if (this.probeOrder.length === 0) return undefined;
      }
      const m = this.members.get(this.probeOrder[this.probeIndex++]!);
      if (m && m.id !== this.selfId && (m.state === 'alive' || m.state === 'suspect')) return m;
    }
    return undefined;
  }

  /**
   * Up to `count` distinct random members accepted by `keep`, excluding
   * ourselves and `exclude`. Draws random slots first (O(count) when most
   * members qualify, the common case every gossip round), and falls back to
   * one uniform pass over everyone when few qualify.
   */
  randomMembers(count: number, keep: (m: Member) => boolean, exclude?: NodeId): Member[] {
    const out: Member[] = [];
    const n = this.others.length;
    if (count <= 0 || n === 0) return out;
    for (let tries = 0; tries < 4 * count && out.length < count; tries++) {
      const m = this.others[this.rng.int(n)]!;
      if (m.id !== exclude && keep(m) && !out.includes(m)) out.push(m);
    }
    if (out.length === count) return out;
    // Reservoir sampling: one pass, uniform, deterministic under the seeded rng.
    out.length = 0;
    let seen = 0;
    for (const m of this.others) {
      if (m.id === exclude || !keep(m)) continue;
      seen++;
      if (out.length < count) out.push(m);
      else {
        const j = this.rng.int(seen);
        if (j < count) out[j] = m;
      }
    }
    return out;
  }
}

/** Alive and suspect members still take part; dead and left ones do not. */
export function isLiveState(state: MemberStateName): boolean {
  return state === 'alive' || state === 'suspect';
}
