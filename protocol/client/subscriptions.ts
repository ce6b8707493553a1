/**
 * Client subscriptions, server side: who is subscribed, for how long, and
 * what each one is pushed. Pure: time comes in as `now`, ids from the rng,
 * and pushes go out as values for the node to send.
 *
 * How this works:
 * - `subscribe {leaseMs?}` makes a subscription for the sender's address
 *   with a fresh random `subId`, *unconfirmed*: it is pushed nothing and
 *   lapses after `confirmWithinMs`. The client confirms by subscribing
 *   again quoting the `subId` from the answer; a forged source address
 *   never sees that answer, so it can never confirm, and a forged
 *   subscribe costs its victim one answer no larger than the request.
 *   Quoting the `subId` again before the lease ends renews it. A `subId`
 *   this node does not know at that address (it lapsed, was evicted, the
 *   node restarted, or this is another node after a failover) gets a new
 *   subscription: the client sees the new `subId` and re-reads.
 * - One subscription per address (a new subscribe replaces it). At most
 *   `unconfirmedMax` unconfirmed ones (a new one evicts the oldest) and
 *   `subscribersMax - unconfirmedMax` confirmed ones (a confirmation evicts
 *   the one renewed longest ago): a subscribe is never refused, and a
 *   forged source, which cannot confirm, can never evict a confirmed one.
 * - Changes are noted as they happen (`noteContact`, `noteMember`...) and
 *   turned into pushes once per input (`flush`): each push is one datagram
 *   of JSON (`PushEvent`), built once and sent to every confirmed
 *   subscriber with its own `seq` (1, 2, 3…). A contact's new view rides in
 *   the push when it fits, else its id goes in `reread`; a deleted one is
 *   in `removed`. More pushes than `pushesPerFlushMax` in one flush become
 *   a single `{resync: 'overflow'}`: re-read everything.
 * - Each subscriber has a token bucket (`pushBurst`, `pushesPerSecond`): a
 *   push without a token is withheld but still takes its `seq`, so the
 *   client sees the gap (at its next push or renewal) and re-reads. The
 *   lease, the one-per-address rule and the bucket bound what a
 *   subscription can make us send.
 */
import type { Address, ClientChannel, NodeId, Rng, TimeMs } from '../types.ts';
import type { ClientPush } from '../wire/messages.ts';
import type { MemberView } from '../membership/member-table.ts';
import type { ContactId } from '../contacts/ids.ts';
import type { Contact } from '../contacts/model.ts';
import { TimerTable } from '../timers.ts';
import { toAsciiJson } from './json.ts';

export interface SubscriptionConfig {
  /** Subscriptions held at once, confirmed or not. */
  subscribersMax: number;
  /** Unconfirmed subscriptions held at once; confirmed ones get the rest of subscribersMax. */
  unconfirmedMax: number;
  leaseMsMin: number;
  leaseMsMax: number;
  /** The lease when the client names none. */
  leaseMsDefault: number;
  /** How long an unconfirmed subscription waits for its confirmation. */
  confirmWithinMs: number;
  /** Pushes one flush may send a subscriber; more become one resync notice. */
  pushesPerFlushMax: number;
  /** Token bucket per subscriber, in pushes. */
  pushBurst: number;
  pushesPerSecond: number;
  /** Changes noted between two flushes; past it, the flush is a resync notice. */
  pendingMax: number;
}

export const DEFAULT_SUBSCRIPTION_CONFIG: SubscriptionConfig = {
  subscribersMax: 256,
  unconfirmedMax: 32,
  leaseMsMin: 1_000,
  leaseMsMax: 60_000,
  leaseMsDefault: 30_000,
  confirmWithinMs: 5_000,
  pushesPerFlushMax: 8,
  pushBurst: 256,
  pushesPerSecond: 128,
  pendingMax: 4096,
};

/** A member as pushes and the `members` op show it. */
export interface MemberInfo {
  id: NodeId;
  name: string;
  address: Address;
  state: MemberView['state'];
  incarnation: number;
  /** Ms since the answering node last heard from it (0: itself; null: never). */
  lastHeardMsAgo: number | null;
}

/** Member `m` as `selfId` sees it at `now`, for clients. */
export function memberInfo(m: MemberView, selfId: NodeId, now: TimeMs): MemberInfo {
  // Ourselves: heard just now. Never heard (learnt by gossip only): null.
  const lastHeardMsAgo = m.id === selfId ? 0 : m.lastHeardAt === undefined ? null : Math.max(0, now - m.lastHeardAt);
  return { id: m.id, name: m.name, address: m.addr, state: m.state, incarnation: m.incarnation, lastHeardMsAgo };
}

/**
 * What one push carries (the JSON of ClientPush.event). Every array is
 * omitted when empty; a push with `resync` carries nothing else.
 */
export interface PushEvent {
  /** Contacts created or changed: their new view. */
  changed?: Contact[];
  /** Contacts deleted (or forgotten). */
  removed?: string[];
  /** Contacts changed whose view did not fit: read them with `get`. */
  reread?: string[];
  /** Members whose state, incarnation, name or address changed. */
  members?: (MemberInfo & { previous: MemberView['state'] | 'none' })[];
  /** Members this node forgot (reaped long after they died or left). */
  forgotten?: { id: NodeId; name: string }[];
  /** Too much changed to tell: re-read everything. */
  resync?: 'overflow';
}

/** The answer to a subscribe. */
export interface SubscribeAnswer {
  subId: string;
  /** The seq of the last push this subscription was given (or withheld): a client that saw fewer missed some. */
  seq: number;
  leaseMs: number;
  /** False for a new subscription: quote `subId` in a subscribe to confirm it. */
  confirmed: boolean;
}

export type SubscribeResult = { ok: true; answer: SubscribeAnswer } | { ok: false; code: 'bad-request'; message: string };

export interface SubscriptionStats {
  subscribed: number;
  confirmed: number;
  renewed: number;
  expired: number;
  evicted: number;
  pushes: number;
  pushesWithheld: number;
  overflows: number;
}

interface Subscriber {
  readonly subId: string;
  readonly addr: Address;
  /** How pushes go back: the channel of the latest subscribe or renewal (undefined: asked by a member). */
  channel: ClientChannel | undefined;
  readonly createdAt: TimeMs;
  confirmed: boolean;
  renewedAt: TimeMs;
  expiresAt: TimeMs;
  leaseMs: number;
  seq: number;
  tokens: number;
  tokensAt: TimeMs;
}

/** Where a flush reads what it pushes. */
export interface PushSource {
  /** The contact's current view; undefined when it is deleted or unknown. */
  contact(id: ContactId): Contact | undefined;
  /** Member `m` as clients see it. */
  memberInfo(m: MemberView): MemberInfo;
}

/** A push to send. */
export interface PushOut {
  to: Address;
  push: ClientPush;
  channel: ClientChannel | undefined;
}

/** Bytes a ClientPush adds around its event JSON (array, type id, sub, seq, text header), rounded up. */
export const PUSH_OVERHEAD_BYTES = 48;

const SUB_ID_RE = /^[0-9a-f]{16}$/;

export class Subscriptions {
  readonly stats: SubscriptionStats = { subscribed: 0, confirmed: 0, renewed: 0, expired: 0, evicted: 0, pushes: 0, pushesWithheld: 0, overflows: 0 };
  private readonly cfg: SubscriptionConfig;
  private readonly byAddr = new Map<Address, Subscriber>();
  private readonly timers = new TimerTable<Address>();
  private readonly contacts = new Set<ContactId>();
  private readonly members: { member: MemberView; previous: MemberView['state'] | 'none' }[] = [];
  private readonly forgotten: { id: NodeId; name: string }[] = [];
  private overflowed = false;

  constructor(private readonly rng: Rng, config: Partial<SubscriptionConfig> = {}) {
    this.cfg = { ...DEFAULT_SUBSCRIPTION_CONFIG, ...config };
  }

  /** Subscriptions held (confirmed or not). */
  get size(): number {
    return this.byAddr.size;
  }

  /** Subscribes, confirms or renews for `addr`, pushing on `channel` from now on (see the file comment). */
  subscribe(now: TimeMs, addr: Address, args: { subId?: unknown; leaseMs?: unknown }, channel?: ClientChannel): SubscribeResult {
    const leaseMs = args.leaseMs ?? this.cfg.leaseMsDefault;
    if (typeof leaseMs !== 'number' || !Number.isSafeInteger(leaseMs) || leaseMs < this.cfg.leaseMsMin || leaseMs > this.cfg.leaseMsMax) {
      return { ok: false, code: 'bad-request', message: `"leaseMs" must be a whole number of ms, ${this.cfg.leaseMsMin}..${this.cfg.leaseMsMax}` };
    }
    if (args.subId !== undefined && (typeof args.subId !== 'string' || !SUB_ID_RE.test(args.subId))) {
      return { ok: false, code: 'bad-request', message: '"subId" must be the subId of an earlier subscribe answer (16 hex digits), or absent to subscribe anew' };
    }
    const current = this.byAddr.get(addr);
    if (current && args.subId === current.subId) {
      current.channel = channel;
      return { ok: true, answer: this.renew(now, current, leaseMs) };
    }
    if (current) this.remove(current);
    this.roomForUnconfirmed();
    const sub: Subscriber = {
      subId: this.newSubId(), addr, channel, createdAt: now, confirmed: false, renewedAt: now, expiresAt: now + this.cfg.confirmWithinMs,
      leaseMs, seq: 0, tokens: this.cfg.pushBurst, tokensAt: now,
    };
    this.byAddr.set(addr, sub);
    this.timers.set(addr, sub.expiresAt);
    this.stats.subscribed++;
    return { ok: true, answer: { subId: sub.subId, seq: 0, leaseMs, confirmed: false } };
  }

  /** Ends the subscription `subId` of `addr`; false when there was none. */
  unsubscribe(addr: Address, subId: unknown): boolean {
    const sub = this.byAddr.get(addr);
    if (!sub || sub.subId !== subId) return false;
    this.remove(sub);
    return true;
  }

  /** Contact `id` changed (or was deleted). */
  noteContact(id: ContactId): void {
    if (this.byAddr.size === 0) return;
    if (this.contacts.size >= this.cfg.pendingMax) this.overflowed = true;
    else this.contacts.add(id);
  }

  /** A member's state, incarnation, name or address changed. */
  noteMember(member: MemberView, previous: MemberView['state'] | 'none'): void {
    if (this.byAddr.size === 0) return;
    if (this.members.length >= this.cfg.pendingMax) this.overflowed = true;
    else this.members.push({ member, previous });
  }

  /** A member was forgotten (reaped). */
  noteForgotten(member: MemberView): void {
    if (this.byAddr.size === 0) return;
    if (this.forgotten.length >= this.cfg.pendingMax) this.overflowed = true;
    else this.forgotten.push({ id: member.id, name: member.name });
  }

  /** The pushes for what changed since the last flush, each of at most `jsonCharsMax` characters of event JSON. */
  flush(now: TimeMs, source: PushSource, jsonCharsMax: number): PushOut[] {
    if (this.contacts.size === 0 && this.members.length === 0 && this.forgotten.length === 0 && !this.overflowed) return [];
    let events = this.overflowed ? [] : this.buildEvents(source, jsonCharsMax);
    if (this.overflowed || events.length > this.cfg.pushesPerFlushMax) {
      this.stats.overflows++;
      events = [toAsciiJson({ resync: 'overflow' } satisfies PushEvent)];
    }
    this.contacts.clear();
    this.members.length = 0;
    this.forgotten.length = 0;
    this.overflowed = false;
    const out: PushOut[] = [];
    for (const sub of this.byAddr.values()) {
      if (!sub.confirmed) continue;
      this.refill(now, sub);
      // All of a flush or none: a partial one would leave the client guessing which part it has.
      const send = sub.tokens >= events.length;
      if (send) sub.tokens -= events.length;
      for (const event of events) {
        sub.seq++;
        if (send) out.push({ to: sub.addr, push: { type: 'clientPush', sub: sub.subId, seq: sub.seq, event }, channel: sub.channel });
      }
      if (send) this.stats.pushes += events.length;
      else this.stats.pushesWithheld += events.length;
    }
    return out;
  }

  /** Drops the subscriptions whose lease (or confirmation window) has ended. */
  handleTimeout(now: TimeMs): void {
    for (const { key } of this.timers.due(now)) {
      const sub = this.byAddr.get(key);
      if (!sub) continue;
      this.stats.expired++;
      this.remove(sub);
    }
  }

  pollTimeout(): TimeMs | undefined {
    return this.timers.next();
  }

  private renew(now: TimeMs, sub: Subscriber, leaseMs: number): SubscribeAnswer {
    if (!sub.confirmed) {
      this.roomForConfirmed(sub);
      sub.confirmed = true;
      this.stats.confirmed++;
    } else {
      this.stats.renewed++;
    }
    sub.leaseMs = leaseMs;
    sub.renewedAt = now;
    sub.expiresAt = now + leaseMs;
    this.timers.set(sub.addr, sub.expiresAt);
    return { subId: sub.subId, seq: sub.seq, leaseMs, confirmed: true };
  }

  /** Makes room for one more unconfirmed subscription: the oldest unconfirmed one goes when they are at their limit. */
  private roomForUnconfirmed(): void {
    const unconfirmed = [...this.byAddr.values()].filter((s) => !s.confirmed);
    if (unconfirmed.length >= this.cfg.unconfirmedMax) this.evict(unconfirmed.reduce((a, b) => (b.createdAt < a.createdAt ? b : a)));
  }

  /** Makes room for `sub` among the confirmed: the one renewed longest ago goes when they are at their limit. */
  private roomForConfirmed(sub: Subscriber): void {
    const others = [...this.byAddr.values()].filter((s) => s.confirmed && s !== sub);
    if (others.length >= this.cfg.subscribersMax - this.cfg.unconfirmedMax) this.evict(others.reduce((a, b) => (b.renewedAt < a.renewedAt ? b : a)));
  }

  private evict(sub: Subscriber): void {
    this.stats.evicted++;
    this.remove(sub);
  }

  private remove(sub: Subscriber): void {
    this.byAddr.delete(sub.addr);
    this.timers.clear(sub.addr);
  }

  private refill(now: TimeMs, sub: Subscriber): void {
    const elapsed = Math.max(0, now - sub.tokensAt);
    sub.tokens = Math.min(this.cfg.pushBurst, sub.tokens + (elapsed * this.cfg.pushesPerSecond) / 1000);
    sub.tokensAt = now;
  }

  private newSubId(): string {
    for (;;) {
      const id = (this.rng.nextU32().toString(16).padStart(8, '0') + this.rng.nextU32().toString(16).padStart(8, '0'));
      if (![...this.byAddr.values()].some((s) => s.subId === id)) return id;
    }
  }

  /** The JSON texts of this flush's pushes: members first (small, and where a client can go next), then contacts. */
  private buildEvents(source: PushSource, jsonCharsMax: number): string[] {
    const packer = new PushPacker(jsonCharsMax);
    for (const { member: m, previous } of this.members) {
      packer.add('members', toAsciiJson({ ...source.memberInfo(m), previous }));
    }
    for (const f of this.forgotten) packer.add('forgotten', toAsciiJson(f));
    for (const id of this.contacts) {
      const c = source.contact(id);
      const idJson = toAsciiJson(id);
      if (c === undefined) packer.add('removed', idJson);
      else if (!packer.add('changed', toAsciiJson(c))) packer.add('reread', idJson);
    }
    return packer.finish();
  }
}

type PushKey = 'changed' | 'removed' | 'reread' | 'members' | 'forgotten';
const PUSH_KEYS: readonly PushKey[] = ['changed', 'removed', 'reread', 'members', 'forgotten'];

/** Packs JSON items into PushEvent texts of at most `charsMax` characters each. */
class PushPacker {
  private readonly done: string[] = [];
  private parts = new Map<PushKey, string[]>();
  private chars = 2; // {}

  constructor(private readonly charsMax: number) {}

  /** Adds `json` under `key`, starting a new push when this one is full; false when it could never fit one push. */
  add(key: PushKey, json: string): boolean {
    // `,item` into a list already there; `,"key":[item]` for a new list.
    const cost = (fresh: boolean) => json.length + (!fresh && this.parts.has(key) ? 1 : key.length + 6);
    if (2 + cost(true) > this.charsMax) return false;
    if (this.chars + cost(false) > this.charsMax) this.cut();
    this.chars += cost(false);
    const list = this.parts.get(key);
    if (list) list.push(json);
    else this.parts.set(key, [json]);
    return true;
  }

  finish(): string[] {
    if (this.parts.size > 0) this.cut();
    return this.done;
  }

  private cut(): void {
    const fields = PUSH_KEYS.filter((k) => this.parts.has(k)).map((k) => `"${k}":[${this.parts.get(k)!.join(',')}]`);
    this.done.push(`{${fields.join(',')}}`);
    this.parts = new Map();
    this.chars = 2;
  }
}
