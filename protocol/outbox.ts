/**
 * The core's send side: turns "send these messages to that address" into
 * datagrams within the budget, topping each one up with piggybacked
 * broadcasts (membership gossip rides on every ping and ack for free), and
 * queues them for the driver's `pollTransmit`.
 */
import { assemblePacket, encodeMessage, packetOverhead } from './wire/codec.ts';
import type { Message, PacketHeader } from './wire/messages.ts';
import type { BroadcastQueue } from './membership/broadcast-queue.ts';
import type { Address, ClientChannel, Transmit } from './types.ts';
import { fragmentPacket } from './fragments.ts';

/** Where piggybacked broadcasts come from, and how many times each may be sent. */
export interface Piggyback {
  queue: BroadcastQueue;
  limit: number;
}

/** A bound on what goes to one address while a datagram from it is handled (Outbox.withReplyCap). */
export interface ReplyCap {
  to: Address;
  /** Most bytes of packet (before any seal or envelope) a reply may have. */
  maxBytes: number;
  /** Whether the cap still holds (a join makes its source a member midway). */
  applies(): boolean;
}

export class Outbox {
  private readonly queue: Transmit[] = [];
  private head = 0;
  /** Bytes of the header plus the largest array prefix, so a fill never overshoots. */
  private readonly overheadBytes: number;
  datagramsSent = 0;
  private xid: number;
  bytesSent = 0;

  constructor(
    readonly header: PacketHeader,
    readonly budgetBytes: number,
    /** Bound on datagrams waiting for the driver; past it new ones are dropped. */
    private readonly maxQueued = 65_536,
    /**
     * Where this life's packet ids (xid, of fragmented packets) start. A
     * peer keeps pieces of an incomplete packet for seconds; a node that
     * restarts and counts from the same point would have its new pieces
     * joined to old ones of the same xid. ClusterNode derives it from its
     * start time, so each life counts from elsewhere.
     */
    firstXid = 0,
  ) {
    this.overheadBytes = packetOverhead(header, 255);
    this.xid = firstXid >>> 0;
  }

  droppedFull = 0;
  /** Replies withheld by a reply cap (withReplyCap): they would have been larger than what asked for them. */
  repliesCapped = 0;
  private cap: ReplyCap | undefined;

  /**
   * Runs `fn` with datagrams to `cap.to` (while `cap.applies()`) kept to at
   * most `cap.maxBytes` and free of piggybacked broadcasts; a larger one is
   * withheld and counted. For answers to a source that proved nothing: a
   * forged source address must not make us an amplifier.
   */
  withReplyCap(cap: ReplyCap, fn: () => void): void {
    this.cap = cap;
    try {
      fn();
    } finally {
      this.cap = undefined;
    }
  }

  /** Sends `messages` to `to` in one datagram, filled up with broadcasts when `piggyback` is given. */
  send(to: Address, messages: Message[], piggyback?: Piggyback): void {
    this.sendEncoded(to, messages.map(encodeMessage), piggyback);
  }

  /** Sends `messages` to `to` sealed in every security mode (they carry secrets), never with piggybacked broadcasts. */
  sendSealed(to: Address, messages: Message[], seal: Transmit['seal'] & object = {}): void {
    this.sendEncoded(to, messages.map(encodeMessage), undefined, seal);
  }

  /** Sends `messages` to a client in its answer envelope (`channel`: the request's), never with broadcasts. */
  sendToClient(to: Address, messages: Message[], channel: ClientChannel): void {
    this.sendEncoded(to, messages.map(encodeMessage), undefined, undefined, channel);
  }

  /** As `send`, for messages already encoded. */
  sendEncoded(to: Address, encoded: Uint8Array[], piggyback?: Piggyback, seal?: Transmit['seal'], client?: ClientChannel): void {
    if (this.cap && this.cap.to === to && this.cap.applies()) return this.sendCapped(this.cap, encoded, seal, client);
    const room = this.roomLeft(encoded);
    if (room < 0) {
      // Too large for one datagram: send it in pieces (no piggyback on those).
      for (const piece of this.pieces(encoded)) this.push(to, piece, seal, client);
      return;
    }
    const riders = piggyback && room > 0 ? piggyback.queue.take(room, piggyback.limit, 255 - encoded.length) : [];
    this.push(to, assemblePacket(this.header, riders.length > 0 ? encoded.concat(riders) : encoded), seal, client);
  }

  private sendCapped(cap: ReplyCap, encoded: Uint8Array[], seal?: Transmit['seal'], client?: ClientChannel): void {
    const bytes = assemblePacket(this.header, encoded);
    if (bytes.length > cap.maxBytes) {
      this.repliesCapped++;
      return;
    }
    this.push(cap.to, bytes, seal, client);
  }

  /**
   * Sends `encoded` to every address of `to`, each in a datagram of its own
   * (never with piggybacked broadcasts): the packet is assembled, or cut into
   * pieces, once for all of them.
   */
  sendEncodedToEach(to: readonly Address[], encoded: Uint8Array[]): void {
    if (to.length === 0) return;
    const datagrams = this.roomLeft(encoded) >= 0 ? [assemblePacket(this.header, encoded)] : this.pieces(encoded);
    for (const a of to) for (const d of datagrams) this.push(a, d);
  }

  /** Bytes a datagram of `encoded` leaves for broadcasts; negative when it needs fragments. */
  private roomLeft(encoded: readonly Uint8Array[]): number {
    let room = this.budgetBytes - this.overheadBytes;
    for (const m of encoded) room -= m.length;
    return room;
  }

  /** `encoded` as one packet cut into fragments under a fresh transfer id. */
  private pieces(encoded: readonly Uint8Array[]): Uint8Array[] {
    this.xid = (this.xid + 1) >>> 0;
    return fragmentPacket(this.header, assemblePacket(this.header, encoded), this.xid, this.budgetBytes);
  }

  /** Sends only broadcasts (a gossip datagram); false when there was nothing to send. */
  sendBroadcasts(to: Address, piggyback: Piggyback): boolean {
    const parts = piggyback.queue.take(this.budgetBytes - this.overheadBytes, piggyback.limit);
    if (parts.length === 0) return false;
    this.push(to, assemblePacket(this.header, parts));
    return true;
  }

  /** Queues `bytes` as they are (no packet, no seal): a client auth-required answer. */
  pushRaw(to: Address, bytes: Uint8Array): void {
    this.enqueue({ to, bytes, raw: true });
  }

  /** Room for messages in one datagram, bytes. */
  get payloadBudgetBytes(): number {
    return this.budgetBytes - this.overheadBytes;
  }

  poll(): Transmit | undefined {
    if (this.head >= this.queue.length) return undefined;
    const t = this.queue[this.head++]!;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    return t;
  }

  private push(to: Address, bytes: Uint8Array, seal?: Transmit['seal'], client?: ClientChannel): void {
    this.enqueue(client ? { to, bytes, client } : seal ? { to, bytes, seal } : { to, bytes });
  }

  private enqueue(t: Transmit): void {
    if (this.queue.length - this.head >= this.maxQueued) {
      this.droppedFull++;
      return;
    }
    this.queue.push(t);
    this.datagramsSent++;
    this.bytesSent += t.bytes.length;
  }
}
