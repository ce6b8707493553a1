/**
 * Sealing and opening cluster datagrams: authenticated encryption with the
 * cluster key, per-sender keys, and replay refusal that survives restarts.
 *
 * How this works.
 * - Keys. Each sender seals under its own key, HKDF(cluster key, salt =
 *   cluster name, info = sender id ‖ boot epoch ‖ boot salt), and uses its
 *   counter as the nonce. A node's epoch is raised and persisted at every
 *   start (never below the wall clock in seconds, so a data dir restored
 *   from a backup still moves on), its boot salt is 8 random bytes drawn
 *   at every start, and its counter starts at 1 in each life: a (key,
 *   nonce) pair never repeats anywhere in the cluster, which is what
 *   AES-GCM needs. The salt is what keeps that true when the epoch alone
 *   would not: a data dir cloned, or a VM snapshot restored, and started
 *   twice within the same second gives two lives the same id and epoch,
 *   but not the same salt. The cluster name in the HKDF salt makes another
 *   cluster's datagrams fail their tag even under the same key.
 * - Receivers. The header names the receiver (node id, and its epoch as
 *   the sender last heard it), so a datagram is good at one node in one
 *   life of it. The sender learns who is at an address from what it opened
 *   from there (else from the member table, `to` of seal), and writes the
 *   all-zero id and epoch 0 while it does not know ("first contact": a
 *   join through a seed address). A datagram naming another receiver is
 *   refused ('wrong-receiver'), whatever its epochs.
 * - Replays. Per sender we keep the highest epoch seen (persisted: a
 *   `persist` of 'peer-epochs' the driver writes before anything that
 *   follows leaves) and, for that epoch, a sliding window of counters
 *   (replay-window.ts). A lower epoch, or a counter the window has seen or
 *   left behind, is refused. The window lives in memory; what keeps a
 *   restart from reopening it is the receiver's epoch in the header: a
 *   sender writes the epoch it last heard from us, so everything recorded
 *   before our restart names an old epoch and is refused. A first-contact
 *   datagram is taken only from a sender in a new epoch, or from one
 *   already heard in this life of ours, never replayed into a new life.
 *   A datagram refused for its receiver whose tag verifies is reported as
 *   authentic, with its sender and epoch: its sender has not heard our new
 *   epoch, or thinks someone else is at our address, and the node
 *   introduces itself to that sender, at the address the member table has
 *   for it (security-service.ts); nothing else comes of it.
 * - Order. Header checks and window lookups come first (cheap, and they
 *   change nothing); then the tag; only a datagram whose tag verified can
 *   move a window, raise an epoch or teach us an address's epoch.
 * - Cost. A sender's key is derived once per (sender, key, epoch, salt)
 *   and kept once a datagram verified under it; deriving one (HKDF and a
 *   key schedule: about 100 µs here, ten times an open) for a header that
 *   has not verified yet is what anyone who copies our key id from a
 *   datagram can make us do for each junk datagram, so it is rationed:
 *   `mayDerive` (security-service.ts: a budget a second, one for member
 *   addresses and one for the rest) says whether we may, and a datagram
 *   past it is refused as 'derive-limited' before any cryptography.
 * Everything is bounded: per-sender state (the oldest sender forgotten
 * first), derived keys, address hints.
 */
import type { Address, NodeId } from '../types.ts';
import { invariant } from '../types.ts';
import { bytesOf, NONCE_BYTES, type Aead, type SecurityCrypto } from './crypto.ts';
import {
  BOOT_SALT_BYTES, MAX_COUNTER, SEALED_HEADER_BYTES, UNKNOWN_NODE, nodeIdBytes, parseSealedHeader, readU32, writeCounterNonce, writeSealedHeader, writeU32,
  type KeyId, type SealedHeader,
} from './envelope.ts';
import { ReplayWindow } from './replay-window.ts';
import type { KeySource } from './keyring.ts';

/** Why a sealed datagram was refused. */
export type OpenFailure =
  | 'unauthenticated' // not a sealed datagram at all (too short, another kind)
  | 'unknown-key' // sealed with a key id this node does not hold
  | 'bad-seal' // the tag did not verify: a flipped bit, a wrong key or cluster, a forgery
  | 'replay' // a counter this sender's window has seen, or has left behind
  | 'stale-epoch' // an epoch below the highest this sender has used
  | 'stale-receiver' // addressed to an earlier life of this node
  | 'wrong-receiver' // addressed to another node
  | 'derive-limited' // its sender's key is not derived yet, and derivations are over their budget (see Cost)
  | 'from-self'; // our own datagram, sent back to us

/** The outcome of `open`. */
export type OpenResult =
  | { ok: true; sender: NodeId; epoch: number; keyId: KeyId; packet: Uint8Array }
  | { ok: false; reason: OpenFailure; keyId?: KeyId; sender?: NodeId }
  /** Refused for its receiver, but its tag verified: its sender should hear from us (see the file comment). */
  | { ok: false; reason: 'stale-receiver' | 'wrong-receiver'; keyId: KeyId; sender: NodeId; epoch: number; authentic: true };

export interface PacketSecurityInit {
  crypto: SecurityCrypto;
  cluster: string;
  self: NodeId;
  /** This boot's epoch (>= 1), persisted by the driver before the core was built. */
  epoch: number;
  /** This boot's salt: BOOT_SALT_BYTES random bytes, new at every start. */
  salt: Uint8Array;
  keys: KeySource;
  /** The highest epoch seen per sender, as last persisted. */
  peerEpochs?: Readonly<Record<string, number>> | undefined;
  /** Bound on senders remembered (default 10,240: maxMembers and room for churn). */
  maxPeers?: number;
  /** Whether a key may be derived for a datagram from `from` that has not verified yet (see Cost); always, when absent. */
  mayDerive?: (from: Address) => boolean;
}

interface Peer {
  /** Highest epoch seen (persisted). */
  epoch: number;
  /** The window for `epoch`, made in this life of ours; undefined when the epoch was only restored. */
  window: ReplayWindow | undefined;
}

/** Who is at an address, as the last datagram opened from there said. */
interface Hint {
  id: NodeId;
  idBytes: Uint8Array;
  epoch: number;
}

/** A derived per-sender key, and what it was derived for (the salt as two u32s, cheap to compare). */
interface DerivedKey {
  keyId: KeyId;
  epoch: number;
  saltHigh: number;
  saltLow: number;
  aead: Aead;
}

const MAX_HINTS = 16_384;

export class PacketSecurity {
  readonly epoch: number;
  private counter = 0;
  private readonly hkdfSalt: Uint8Array;
  private readonly selfBytes: Uint8Array;
  /** What our own keys are derived from: our id ‖ epoch ‖ salt, as in our header. */
  private readonly selfInfo: Uint8Array;
  private readonly peers = new Map<NodeId, Peer>();
  /** The last key that verified per sender: the next datagram almost always needs the same one. */
  private readonly derived = new Map<NodeId, DerivedKey>();
  /** Our own keys in this epoch, per cluster key (a ring holds at most MAX_KEYS). */
  private readonly own = new Map<KeyId, Aead>();
  private readonly hints = new Map<Address, Hint>();
  private readonly unknownBytes = nodeIdBytes(UNKNOWN_NODE);
  /** Scratch for nonces: the AEAD reads it before returning. */
  private readonly nonce = new Uint8Array(NONCE_BYTES);
  private readonly maxPeers: number;
  private peersChanged = false;
  readonly stats = { sealed: 0, opened: 0, peersForgotten: 0 };

  constructor(private readonly init: PacketSecurityInit) {
    invariant(Number.isInteger(init.epoch) && init.epoch >= 1 && init.epoch <= 0xffff_ffff, 'boot epoch is a u32 >= 1');
    invariant(init.salt.length === BOOT_SALT_BYTES, 'a boot salt is 8 bytes');
    this.epoch = init.epoch;
    this.hkdfSalt = bytesOf(`contacts/cluster/v1/${init.cluster}`);
    this.selfBytes = nodeIdBytes(init.self);
    this.selfInfo = new Uint8Array(8 + 4 + BOOT_SALT_BYTES);
    this.selfInfo.set(this.selfBytes, 0);
    writeU32(this.selfInfo, 8, init.epoch);
    this.selfInfo.set(init.salt, 12);
    this.maxPeers = init.maxPeers ?? 10_240;
    for (const [id, epoch] of Object.entries(init.peerEpochs ?? {})) this.remember(id as NodeId, { epoch, window: undefined });
  }

  /**
   * `packet` sealed for `to` under key `keyId` if held, else the primary.
   * `toId`: the member the table has at `to`, used while no datagram from
   * `to` has told us who is there.
   */
  seal(to: Address, packet: Uint8Array, keyId?: KeyId, toId?: NodeId): Uint8Array {
    const key = (keyId !== undefined ? this.init.keys.key(keyId) : undefined) ?? this.init.keys.primary();
    // 2^48 datagrams: 89 years at 100,000 a second. Past it the epoch must move; a restart does that.
    invariant(this.counter < MAX_COUNTER, 'the datagram counter of this epoch is not exhausted');
    const hint = this.hints.get(to);
    const receiver = hint?.id ?? toId ?? UNKNOWN_NODE;
    const header: SealedHeader = {
      keyId: key.id, sender: this.init.self, epoch: this.epoch, salt: this.init.salt, counter: ++this.counter, to: receiver, toEpoch: hint?.epoch ?? 0,
    };
    let own = this.own.get(key.id);
    if (!own) {
      own = this.derive(key.secret, this.selfInfo);
      if (this.own.size >= 16) this.own.clear(); // keys retired by rotations
      this.own.set(key.id, own);
    }
    const head = new Uint8Array(SEALED_HEADER_BYTES);
    writeSealedHeader(head, header, this.selfBytes, hint?.idBytes ?? (receiver === UNKNOWN_NODE ? this.unknownBytes : nodeIdBytes(receiver)));
    const out = own.seal(writeCounterNonce(this.nonce, header.counter), head, packet);
    this.stats.sealed++;
    return out;
  }

  /** Authenticates and decrypts one datagram from `from`; see the file comment for the order of checks. Never throws. */
  open(from: Address, bytes: Uint8Array): OpenResult {
    const h = parseSealedHeader(bytes);
    if (!h) return { ok: false, reason: 'unauthenticated' };
    if (h.sender === this.init.self) return { ok: false, reason: 'from-self' };
    const key = this.init.keys.key(h.keyId);
    if (!key) return { ok: false, reason: 'unknown-key', keyId: h.keyId, sender: h.sender };
    const stale = this.freshness(h);
    // Only a datagram refused for its receiver is worth its tag: an authentic one means its sender
    // does not know who we are now, and the node should tell it (security-service.ts).
    if (stale && stale !== 'stale-receiver' && stale !== 'wrong-receiver') return { ok: false, reason: stale, sender: h.sender };
    const aad = bytes.subarray(0, SEALED_HEADER_BYTES);
    const cached = this.derived.get(h.sender);
    const saltHigh = readU32(bytes, 17);
    const saltLow = readU32(bytes, 21);
    const hit = cached !== undefined && cached.keyId === h.keyId && cached.epoch === h.epoch && cached.saltHigh === saltHigh && cached.saltLow === saltLow;
    if (!hit && this.init.mayDerive?.(from) === false) return { ok: false, reason: 'derive-limited', keyId: h.keyId, sender: h.sender };
    // The header's sender ‖ epoch ‖ salt (bytes 5..25) is the derivation's info, as is.
    const aead = hit ? cached.aead : this.derive(key.secret, bytes.subarray(5, 25));
    const packet = aead.open(writeCounterNonce(this.nonce, h.counter), aad, bytes.subarray(SEALED_HEADER_BYTES));
    if (!packet) return { ok: false, reason: 'bad-seal', keyId: h.keyId, sender: h.sender };
    if (stale) return { ok: false, reason: stale, sender: h.sender, epoch: h.epoch, keyId: h.keyId, authentic: true };
    // Cached only once it verified: a stranger cannot make us keep keys for made-up senders.
    if (!hit) this.derived.set(h.sender, { keyId: h.keyId, epoch: h.epoch, saltHigh, saltLow, aead });
    this.accept(from, h);
    this.stats.opened++;
    return { ok: true, sender: h.sender, epoch: h.epoch, keyId: h.keyId, packet };
  }

  /** The highest epoch per sender when it changed since the last call (for a `persist`), else undefined. */
  takeChangedPeerEpochs(): Record<string, number> | undefined {
    if (!this.peersChanged) return undefined;
    this.peersChanged = false;
    const out: Record<string, number> = {};
    for (const [id, p] of this.peers) out[id] = p.epoch;
    return out;
  }

  /** Senders with replay state (bounded by maxPeers). */
  get peerCount(): number {
    return this.peers.size;
  }

  /** Why `h` is stale, judged before its tag (nothing changes here). */
  private freshness(h: SealedHeader): OpenFailure | undefined {
    const peer = this.peers.get(h.sender);
    if (peer && h.epoch < peer.epoch) return 'stale-epoch';
    if (h.to !== UNKNOWN_NODE && h.to !== this.init.self) return 'wrong-receiver';
    if (h.toEpoch !== 0 && h.toEpoch !== this.epoch) return 'stale-receiver';
    if (!peer || h.epoch > peer.epoch) return undefined;
    // Same epoch as the highest seen.
    if (peer.window) return peer.window.check(h.counter) === 'fresh' ? undefined : 'replay';
    // Known only from before our restart: a first-contact datagram may be a recording.
    return h.toEpoch === 0 ? 'stale-receiver' : undefined;
  }

  private accept(from: Address, h: SealedHeader): void {
    let peer = this.peers.get(h.sender);
    if (!peer || h.epoch > peer.epoch) {
      peer = { epoch: h.epoch, window: new ReplayWindow() };
      this.peersChanged = true;
    } else {
      // A window rebuilt mid-epoch (we restarted): everything below this datagram may have been seen by our earlier life.
      peer.window ??= new ReplayWindow(h.counter - 1);
    }
    peer.window!.accept(h.counter);
    this.remember(h.sender, peer);
    const hint = this.hints.get(from);
    if (hint?.id !== h.sender || hint.epoch !== h.epoch) {
      this.hints.delete(from);
      this.hints.set(from, { id: h.sender, idBytes: nodeIdBytes(h.sender), epoch: h.epoch });
      if (this.hints.size > MAX_HINTS) this.hints.delete(this.hints.keys().next().value as Address);
    }
  }

  /** Keeps `peer` as the most recent; forgets the least recent past the bound. */
  private remember(id: NodeId, peer: Peer): void {
    this.peers.delete(id);
    this.peers.set(id, peer);
    if (this.peers.size > this.maxPeers) {
      const oldest = this.peers.keys().next().value as NodeId;
      this.peers.delete(oldest);
      this.derived.delete(oldest);
      this.stats.peersForgotten++;
      this.peersChanged = true;
    }
  }

  /** The AEAD under HKDF(cluster key, cluster name, `info`: sender ‖ epoch ‖ boot salt). */
  private derive(secret: Uint8Array, info: Uint8Array): Aead {
    return this.init.crypto.aead(this.init.crypto.hkdf(secret, this.hkdfSalt, info));
  }
}
