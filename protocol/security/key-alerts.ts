/**
 * Datagrams sealed with keys this node does not hold, counted between
 * alerts: what an operator needs to learn that a member missed a rotation
 * (or is on a key ahead of us), without a flood of made-up key ids
 * flooding the log.
 *
 * How this works. Every such datagram is counted under its key id (64 ids
 * told apart, the rest only counted). At most one alert per interval, in
 * all, sums up what came since the last: the key most datagrams came under
 * (a member on another key sends many; forged ids, one each, so a flood of
 * them neither hides it nor floods the log), its count, and how many
 * datagrams came under how many other ids. The first is raised at once.
 */
import type { Address, NodeId, TimeMs } from '../types.ts';
import type { KeyId } from './envelope.ts';

/**
 * Datagrams sealed with keys this node does not hold, since the last alert
 * (at most one alert per alertIntervalMs in all): the key most of them
 * came under, and how many came under others.
 */
export interface KeyAlert {
  type: 'key-alert';
  /** Where the latest datagram under `keyId` came from. */
  from: Address;
  /** The sender its header names (unverified: nothing could be verified). */
  sender: NodeId | undefined;
  /** That sender's name, when it is a member we know. */
  senderName: string | undefined;
  keyId: KeyId;
  /** Datagrams under `keyId` since the last alert. */
  datagrams: number;
  /** Other unknown key ids seen since the last alert, and the datagrams under them (forged, or another cluster's). */
  otherKeys: number;
  otherDatagrams: number;
  /** A rotation removed that key: the sender missed it. */
  removedByRotation: boolean;
  held: KeyId[];
  primary: KeyId;
}

/** Unknown key ids an alert window tells apart; datagrams under more are only counted. */
const MAX_ALERT_KEYS = 64;

/** What one alert sums up (the service adds who the sender is and which keys we hold). */
export type UnknownKeySummary = Pick<KeyAlert, 'from' | 'sender' | 'keyId' | 'datagrams' | 'otherKeys' | 'otherDatagrams'>;

export class UnknownKeys {
  private readonly byKey = new Map<KeyId, { datagrams: number; from: Address; sender: NodeId | undefined }>();
  private other = 0;
  private lastAlertAt: TimeMs | undefined;

  constructor(private readonly intervalMs: number) {}

  /** Counts one datagram under `keyId`; returns what to alert about when an alert is due. */
  count(now: TimeMs, from: Address, sender: NodeId | undefined, keyId: KeyId): UnknownKeySummary | undefined {
    const seen = this.byKey.get(keyId);
    if (seen) Object.assign(seen, { datagrams: seen.datagrams + 1, from, sender });
    else if (this.byKey.size < MAX_ALERT_KEYS) this.byKey.set(keyId, { datagrams: 1, from, sender });
    else this.other++;
    if (this.lastAlertAt !== undefined && now - this.lastAlertAt < this.intervalMs) return undefined;
    this.lastAlertAt = now;
    let top: KeyId = keyId;
    let total = this.other;
    for (const [id, k] of this.byKey) {
      total += k.datagrams;
      if (k.datagrams > (this.byKey.get(top)?.datagrams ?? 0)) top = id;
    }
    const t = this.byKey.get(top) ?? { datagrams: 1, from, sender };
    const otherKeys = Math.max(0, this.byKey.size - 1) + (this.other > 0 ? 1 : 0);
    this.byKey.clear();
    this.other = 0;
    return { from: t.from, sender: t.sender, keyId: top, datagrams: t.datagrams, otherKeys, otherDatagrams: total - t.datagrams };
  }
}
