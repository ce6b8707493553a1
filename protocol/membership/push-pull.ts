/**
 * Full-state exchange over datagrams. A member list too large for one
 * datagram is split into parts that each stand alone: every entry merges
 * exactly like gossip about that member, so a lost, duplicated or reordered
 * part only delays convergence and can never corrupt it. A request is
 * answered once per (sender, request id), however many of its parts arrive.
 */
import { encodeMessage, memberStateBytes } from '../wire/codec.ts';
import { LIMITS, type MemberState, type PushPull } from '../wire/messages.ts';
import type { NodeId } from '../types.ts';
import type { Member } from './member-table.ts';

/** A member's entry as sent in a full-state exchange. */
export function memberState(m: Member): MemberState {
  return { node: m.id, name: m.name, addr: m.addr, incarnation: m.incarnation, state: m.state };
}

/**
 * Splits `members` into push/pull messages whose encoded size each fits
 * `maxMessageBytes`. Sizes are measured, not guessed: each entry's exact
 * encoded size (memberStateBytes), and a part is closed before it would
 * overflow (with a few bytes of slack for the CBOR array length growing).
 */
export function buildPushPullParts(
  members: MemberState[],
  head: { reqId: number; join: boolean; reply: boolean },
  maxMessageBytes: number,
): PushPull[] {
  // Sized with the largest part numbers, so real parts can only be smaller.
  const empty: PushPull = { type: 'pushPull', ...head, part: LIMITS.maxPushPullParts - 1, parts: LIMITS.maxPushPullParts, members: [] };
  const baseBytes = encodeMessage(empty).length + 3; // +3: the members array's length prefix may grow
  const groups: MemberState[][] = [];
  let current: MemberState[] = [];
  let size = baseBytes;
  for (const m of members) {
    const one = memberStateBytes(m);
    if (current.length > 0 && (size + one > maxMessageBytes || current.length >= 500)) {
      groups.push(current);
      current = [];
      size = baseBytes;
    }
    current.push(m);
    size += one;
  }
  if (current.length > 0 || groups.length === 0) groups.push(current);
  return groups.map((g, i) => ({ type: 'pushPull', ...head, part: i, parts: groups.length, members: g }));
}

/** Remembers which requests were answered, bounded (oldest forgotten first). */
export class AnsweredRequests {
  private readonly seen = new Set<string>();

  constructor(private readonly max: number) {}

  /** True the first time (from, reqId) is seen. */
  firstTime(from: NodeId, reqId: number): boolean {
    const key = `${from}/${reqId}`;
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    if (this.seen.size > this.max) this.seen.delete(this.seen.values().next().value as string);
    return true;
  }
}
