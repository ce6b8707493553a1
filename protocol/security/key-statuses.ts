/**
 * Which keys each member holds and seals with, as their gossiped
 * `keyStatus` messages say (newer replacing older): what the rotation
 * commands check before `use` and `remove` (security-service.ts).
 *
 * How this works. A status's version is (boot epoch, changes in that
 * epoch), so a restarted member's first status outranks everything from its
 * earlier lives. Statuses of members no longer in the table are forgotten
 * (`prune`), so the map is bounded by the member table.
 */
import type { NodeId } from '../types.ts';
import type { KeyStatus } from '../wire/messages.ts';
import type { MemberView } from '../membership/member-table.ts';
import { invariant } from '../types.ts';
import { keyIdText, type KeyId } from './envelope.ts';

/** Changes of our own status within one epoch: far beyond any rotation schedule; past it, a restart moves the epoch. */
const MAX_CHANGES_PER_EPOCH = 0xfffff;

export class KeyStatuses {
  private readonly byNode = new Map<NodeId, KeyStatus>();
  private changes = 0;

  constructor(private readonly self: NodeId, private readonly epoch: number) {}

  /** Takes a member's status; false when it is ours or not newer than the one we have. */
  heard(msg: KeyStatus): boolean {
    if (msg.node === this.self) return false;
    const known = this.byNode.get(msg.node);
    if (known && known.version >= msg.version) return false;
    this.byNode.set(msg.node, msg);
    return true;
  }

  get(id: NodeId): KeyStatus | undefined {
    return this.byNode.get(id);
  }

  /** Our next status: `primary` and `holds`, under a version above every earlier one. */
  next(primary: KeyId, holds: KeyId[]): KeyStatus {
    invariant(this.changes < MAX_CHANGES_PER_EPOCH, 'fewer than 2^20 keyring changes in one boot epoch');
    this.changes++;
    return { type: 'keyStatus', node: this.self, version: this.epoch * (MAX_CHANGES_PER_EPOCH + 1) + this.changes, primary, holds };
  }

  /** Live members (not us) whose status does not satisfy `ok`, described for a refusal. */
  unconfirmed(members: Iterable<MemberView>, ok: (s: KeyStatus) => boolean): string[] {
    const out: string[] = [];
    for (const m of members) {
      if (m.id === this.self || (m.state !== 'alive' && m.state !== 'suspect')) continue;
      const s = this.byNode.get(m.id);
      if (!s) out.push(`${m.name} (no key status heard yet)`);
      else if (!ok(s)) out.push(`${m.name} (holds ${s.holds.map((k) => keyIdText(k as KeyId)).join(', ')}; seals with ${keyIdText(s.primary as KeyId)})`);
    }
    return out;
  }

  /** Forgets the statuses of members no longer known. */
  prune(members: Iterable<MemberView>): void {
    const known = new Set<NodeId>();
    for (const m of members) known.add(m.id);
    for (const id of this.byNode.keys()) if (!known.has(id)) this.byNode.delete(id);
  }
}
