/**
 * A keyed node's security: which datagrams it takes, how it seals its own,
 * and the cluster's security state (keyring and client credentials), kept
 * the same on every member and changed by the rotation commands.
 *
 * How this works.
 * - Modes, for moving a running cluster from plain to sealed gossip without
 *   downtime (memberlist's GossipVerifyIncoming/Outgoing): `accept` takes
 *   sealed and plain datagrams and sends plain; `send` takes both and sends
 *   sealed; `require` (the default) takes only sealed ones. Give every node
 *   the key in `accept`, then move every node to `send`, then to `require`.
 * - Inbound: a datagram that starts like a plain packet passes only when the
 *   mode takes plain ones; a sealed one goes through packet-security.ts;
 *   anything else is refused before any decoding. Security messages are
 *   honoured only from sealed datagrams.
 * - Spreading the state. A command (install, use, remove a key; create,
 *   revoke a credential) changes the state here and sends it, sealed, to
 *   every live member. Every sync interval a node sends a random live member
 *   its state's digest; a member whose state differs answers with its own,
 *   and the two merge (CRDTs, so order and repetition do not matter). The
 *   state is never piggybacked on gossip: gossip also reaches dead members,
 *   and a member declared dead or left must not learn the next key.
 * - Who gets what. The whole state (key secrets, credential keys) goes only
 *   to a live member (alive or suspect), at its address in the member table
 *   (the node answers there, never at a datagram's source). A member dead or
 *   left that asks — it may have been removed on purpose, and still hold a
 *   key the ring has not dropped yet — gets the public part only (which key
 *   is primary, which keys and credentials are gone, by id: publicPart),
 *   enough for a member that missed a rotation and was handed the current
 *   key to start sealing with it, nothing that lets one that was not read
 *   what comes next; a node we do not know gets nothing. From a member that
 *   is not live we merge only the public part of what it sends; from a node
 *   we do not know, nothing.
 *   What this does not stop, as in Serf: whoever holds a key still in the
 *   ring is a member to everyone. It can seal under any member's id (ids
 *   are not secret), so it can push a state or statuses of its own making
 *   (say, a credential for itself) under a live member's name, and read
 *   whatever is sealed with that key. A rotation locks a removed member out
 *   only from the moment the old key is removed everywhere: rotate promptly.
 * - Key statuses. Each node gossips which keys it holds and which it seals
 *   with (a `keyStatus`, newer replacing older, re-sent every statusRefreshMs).
 *   That is what the commands check: `use K` only when every member that is
 *   not dead or left holds K; `remove K` only when every such member seals
 *   with the current primary. So no live member is ever cut off, and a
 *   member that was dead or left through a rotation is locked out by it.
 * - A member sealing with a key we hold but do not seal with (we missed a
 *   `use`) gets our digest sealed with its key (at its address in the member
 *   table, again every few seconds while it still does), so its answer
 *   brings us up to date.
 *   Datagrams sealed with keys we do not hold raise a `key-alert` (at most
 *   one per alertIntervalMs, summing up: see alert): the plain reason a
 *   member cannot rejoin, for the operator.
 * - The operator's key file: its key is the first key and the primary of an
 *   empty ring (a new node). When the data dir holds a ring, that ring is
 *   the cluster's and newer: a key-file key it lacks is installed (and
 *   spreads with the next digest sync, as `keys install` would) but not
 *   made primary, or one edit of a key file would cut the node off from
 *   every member that does not hold the key yet; making it primary is
 *   `keys use`, checked like any rotation. A key a rotation removed is
 *   ignored and reported.
 * What must survive a restart leaves as `persist` events: the state
 * ('security') and the highest epoch seen per sender ('peer-epochs').
 */
import type { Address, NodeId, Rng, TimeMs, Transmit } from '../types.ts';
import type { Message, KeyStatus, SecState } from '../wire/messages.ts';
import { encodeMessage } from '../wire/codec.ts';
import type { Outbox } from '../outbox.ts';
import type { MemberView } from '../membership/member-table.ts';
import { TimerTable } from '../timers.ts';
import { equalBytes, KEY_BYTES, type SecurityCrypto } from './crypto.ts';
import { BOOT_SALT_BYTES, keyIdText, looksPlain, SEALED_V1, writeU32, type KeyId } from './envelope.ts';
import { checkKeyringState, Keyring, keyIdOf, MAX_KEYS } from './keyring.ts';
import { CredentialStore, type Credential } from './credentials.ts';
import { PacketSecurity, type OpenFailure } from './packet-security.ts';
import { TokenBucket } from './rate-limit.ts';
import { DEFAULT_SECURITY_CONFIG, type NodeSecurityInit, type SecurityConfig, type SecurityMode } from './security-config.ts';
import { UnknownKeys, type KeyAlert } from './key-alerts.ts';
import { KeyStatuses } from './key-statuses.ts';

export { DEFAULT_SECURITY_CONFIG, SECURITY_MODES, type NodeSecurityInit, type SecurityConfig, type SecurityMode } from './security-config.ts';
export type { KeyAlert } from './key-alerts.ts';
import { fromSecState, publicPart, securityDigest, securityToJson, toSecState } from './security-state.ts';

export type SecurityEvent =
  | { type: 'persist'; key: 'security' | 'peer-epochs'; value: unknown }
  /** The key file names a key a rotation removed: ignored, the ring from the data dir is used. */
  | { type: 'key-file-retired'; keyId: KeyId }
  /** The key file names a key the ring lacked: installed but not used ('not-primary'), or not installed at all ('full'). */
  | { type: 'key-file-unused'; keyId: KeyId; reason: 'not-primary' | 'full'; primary: KeyId }
  | KeyAlert
  /** The keyring changed here (a command, or news from a member). */
  | { type: 'keyring-changed'; keys: KeyId[]; primary: KeyId; removed: KeyId[] };

/** Why an inbound datagram was refused by security. */
export type SecurityDrop = OpenFailure;

/** The outcome of `admit`: a plain packet to decode, with who sealed it, or a refusal. */
export type Admitted =
  | { ok: true; packet: Uint8Array; sealedBy: NodeId | undefined }
  | { ok: false; reason: SecurityDrop };

/** A command's outcome: done, or refused with a code and what to do. */
export type CommandResult<T = undefined> =
  | { ok: true; value: T }
  | { ok: false; code: 'invalid' | 'exists' | 'removed' | 'full' | 'not-installed' | 'is-primary' | 'not-confirmed' | 'not-found'; message: string };

/** A member's view of one key, for `keys list`. */
export interface KeyReport {
  id: string;
  primary: boolean;
  /** Members not dead or left that hold it / seal with it, by name. */
  heldBy: string[];
  sealingWith: string[];
}

export interface SecurityServiceInit {
  id: NodeId;
  cluster: string;
  security: NodeSecurityInit;
  outbox: Outbox;
  rng: Rng;
  now: TimeMs;
  /** Every member known, ourselves included. */
  members(): Iterable<MemberView>;
  /** Member `id` as the member table has it. */
  member(id: NodeId): MemberView | undefined;
  /** The member the table has at `addr`. */
  memberAt(addr: Address): NodeId | undefined;
  /** Queues a broadcast on membership's gossip (newer under the same key replaces older). */
  broadcast(key: string, encoded: Uint8Array): void;
}

type Timer = 'sec-sync' | 'sec-status';

/** Senders whose introduction is remembered (members, and room for churn). */
const MAX_INTRODUCED = 10_240;
/**
 * A member still sealing with a key we hold but do not seal with (or still
 * addressing an earlier life of ours) is introduced to again after this
 * long: one lost introduction must not leave it, or us, behind for the rest
 * of its life (its own digest syncs may be sealed with a key nobody reads).
 */
const INTRODUCE_AGAIN_MS = 5_000;

/**
 * This start's boot salt (packet-security.ts), from the core's random
 * source: the daemon seeds it from crypto.randomBytes at every start, so two
 * lives never share one; the simulator's seeded one keeps runs repeatable.
 */
function bootSalt(rng: Rng): Uint8Array {
  const salt = new Uint8Array(BOOT_SALT_BYTES);
  for (let i = 0; i < salt.length; i += 4) writeU32(salt, i, rng.nextU32());
  return salt;
}

const failure = (code: Extract<CommandResult, { ok: false }>['code'], message: string): CommandResult<never> => ({ ok: false, code, message });

export class SecurityService {
  readonly keyring: Keyring;
  readonly credentials: CredentialStore;
  readonly packets: PacketSecurity;
  readonly stats = {
    syncs: 0, statesSent: 0, publicStatesSent: 0, statesWithheld: 0, statesMerged: 0, statesRefused: 0, statusesHeard: 0, catchUps: 0, alerts: 0,
  };
  private modeNow: SecurityMode;
  private readonly cfg: SecurityConfig;
  private readonly crypto: SecurityCrypto;
  private readonly events: SecurityEvent[] = [];
  private readonly timers = new TimerTable<Timer>();
  private readonly statuses: KeyStatuses;
  private ownStatus: KeyStatus;
  /** Key derivations for datagrams not verified yet (packet-security.ts, Cost): from member addresses, and from the rest. */
  private readonly memberDerivations: TokenBucket;
  private readonly otherDerivations: TokenBucket;
  /** The time of the datagram being admitted (mayDerive has no clock of its own). */
  private nowMs: TimeMs;
  /** Datagrams under keys we do not hold, between alerts (key-alerts.ts). */
  private readonly unknownKeys: UnknownKeys;
  /** The epoch of each sender we introduced ourselves to, and when (bounded: MAX_INTRODUCED). */
  private readonly introduced = new Map<NodeId, { epoch: number; atMs: TimeMs }>();
  /** When each member not live last got our public state (bounded: MAX_INTRODUCED). */
  private readonly publicAnswers = new Map<NodeId, TimeMs>();
  private digestCache: Uint8Array | undefined;

  constructor(private readonly init: SecurityServiceInit) {
    const s = init.security;
    this.cfg = { ...DEFAULT_SECURITY_CONFIG, ...s.config };
    this.nowMs = init.now;
    this.unknownKeys = new UnknownKeys(this.cfg.alertIntervalMs);
    this.memberDerivations = new TokenBucket(this.cfg.derivationsPerSecond, 2 * this.cfg.derivationsPerSecond);
    this.otherDerivations = new TokenBucket(this.cfg.strangerDerivationsPerSecond, 2 * this.cfg.strangerDerivationsPerSecond);
    this.crypto = s.crypto;
    this.modeNow = s.mode ?? 'require';
    this.keyring = new Keyring(s.restored?.state?.keyring);
    this.credentials = new CredentialStore(s.restored?.state?.credentials);
    this.statuses = new KeyStatuses(init.id, s.epoch);
    this.packets = new PacketSecurity({
      crypto: s.crypto, cluster: init.cluster, self: init.id, epoch: s.epoch, salt: bootSalt(init.rng), keys: this.keyring, peerEpochs: s.restored?.peerEpochs,
      mayDerive: (from) => (init.memberAt(from) !== undefined ? this.memberDerivations : this.otherDerivations).take(this.nowMs),
    });
    if (s.keyFileKey) this.installKeyFileKey(s.keyFileKey);
    if (this.keyring.size === 0) throw new TypeError('a keyed node needs a key: give it a key file, or a restored keyring');
    this.ownStatus = this.makeStatus();
    this.init.broadcast(`ks:${init.id}`, encodeMessage(this.ownStatus));
    this.timers.set('sec-sync', init.now + init.rng.int(this.cfg.syncIntervalMs));
    this.timers.set('sec-status', init.now + this.cfg.statusRefreshMs);
  }

  get mode(): SecurityMode {
    return this.modeNow;
  }

  /** Changes the mode (a reload); takes effect with the next datagram. */
  setMode(mode: SecurityMode): void {
    this.modeNow = mode;
  }

  // ---------------------------------------------------------------- datagrams

  /** Decides what to do with one inbound datagram before anything decodes it. Never throws. */
  admit(now: TimeMs, from: Address, bytes: Uint8Array): Admitted {
    if (bytes[0] === SEALED_V1) {
      this.nowMs = now;
      const r = this.packets.open(from, bytes);
      if (!r.ok) {
        if (r.reason === 'unknown-key' && r.keyId !== undefined) this.alert(now, from, r.sender, r.keyId);
        // A member addressing our earlier life, or someone else: tell it who we are, or it may never hear from us again.
        if ('authentic' in r) this.introduce(now, r.sender, r.epoch, r.keyId, from);
        return { ok: false, reason: r.reason };
      }
      const epochs = this.packets.takeChangedPeerEpochs();
      if (epochs) this.events.push({ type: 'persist', key: 'peer-epochs', value: epochs });
      if (r.keyId !== this.keyring.primary().id) this.introduce(now, r.sender, r.epoch, r.keyId, from);
      return { ok: true, packet: r.packet, sealedBy: r.sender };
    }
    if (looksPlain(bytes) && this.modeNow !== 'require') return { ok: true, packet: bytes, sealedBy: undefined };
    return { ok: false, reason: 'unauthenticated' };
  }

  /** `t` as it goes on the wire: sealed unless the mode sends plain and `t` does not ask for sealing. */
  seal(t: Transmit): Transmit {
    if (this.modeNow === 'accept' && !t.seal) return t;
    return { to: t.to, bytes: this.packets.seal(t.to, t.bytes, t.seal?.keyId as KeyId | undefined, this.init.memberAt(t.to)) };
  }

  /**
   * Handles a security message from a sealed datagram (the node refuses
   * them from plain ones) from `sender`, answering at `fromAddr` (the
   * node passes the sender's address in the member table). What we reveal
   * depends on who asks (see the file comment): the whole state only to a
   * live member; to a member dead or left, the public part, at most once
   * per publicAnswerIntervalMs; to a node we do not know, nothing.
   */
  handleMessage(now: TimeMs, fromAddr: Address, sender: NodeId, msg: Message): void {
    switch (msg.type) {
      case 'keyStatus': return this.onStatus(msg);
      case 'secDigest': {
        if (equalBytes(msg.digest, this.digest())) return;
        const state = this.init.member(sender)?.state;
        if (state === 'alive' || state === 'suspect') return this.sendState(fromAddr, false);
        if (state === undefined) return void this.stats.statesWithheld++;
        return this.sendPublicState(now, fromAddr, sender);
      }
      case 'secState': return this.onState(fromAddr, sender, msg);
    }
  }

  handleTimeout(now: TimeMs): void {
    for (const { key } of this.timers.due(now)) {
      if (key === 'sec-sync') this.onSyncTick(now);
      else this.onStatusTick(now);
    }
  }

  pollTimeout(): TimeMs | undefined {
    return this.timers.next();
  }

  pollEvent(): SecurityEvent | undefined {
    return this.events.shift();
  }

  // ---------------------------------------------------------------- key commands

  /** Installs a new key here and tells every live member; it is not used until `useKey`. */
  installKey(secret: Uint8Array): CommandResult<KeyId> {
    if (secret.length !== KEY_BYTES) return failure('invalid', `a cluster key is ${KEY_BYTES} bytes (base64 of 32 random bytes: contacts keys generate)`);
    const id = keyIdOf(this.crypto, secret);
    const r = this.keyring.install({ id, secret });
    if (r === 'removed') return failure('removed', `key ${keyIdText(id)} was removed from the cluster by a rotation and can never come back; generate a new one`);
    if (r === 'present') return failure('exists', `key ${keyIdText(id)} is installed already`);
    if (r === 'full') return failure('full', `the keyring holds ${MAX_KEYS} keys; remove one that is not primary first`);
    this.changed(true);
    return { ok: true, value: id };
  }

  /** Makes `id` the key every member seals with; refused until every member not dead or left holds it. */
  useKey(id: KeyId): CommandResult {
    if (!this.keyring.key(id)) return failure('not-installed', `key ${keyIdText(id)} is not installed here: install it first (contacts keys install); if you just did, the news has not reached this member yet: retry in a few seconds`);
    if (this.keyring.primary().id === id) return { ok: true, value: undefined };
    const missing = this.unconfirmed((s) => s.holds.includes(id));
    if (missing.length > 0) {
      return failure('not-confirmed', `not every member holds key ${keyIdText(id)} yet: ${missing.join('; ')}. Wait for them (contacts keys list shows progress), or wait until a member that is gone is marked dead`);
    }
    this.keyring.use(id, this.init.id);
    this.changed(true);
    return { ok: true, value: undefined };
  }

  /** Removes `id` for good; refused for the primary, and until every member not dead or left seals with the primary. */
  removeKey(id: KeyId): CommandResult {
    const primary = this.keyring.primary().id;
    if (!this.keyring.key(id)) {
      return this.keyring.isRemoved(id) ? { ok: true, value: undefined } : failure('not-installed', `key ${keyIdText(id)} is not installed here (contacts keys list shows the keys)`);
    }
    if (id === primary) return failure('is-primary', `key ${keyIdText(id)} is the primary here: make another key primary first (contacts keys use); if you just did, the news has not reached this member yet: retry in a few seconds`);
    const missing = this.unconfirmed((s) => s.primary === primary);
    if (missing.length > 0) {
      return failure('not-confirmed', `not every member seals with key ${keyIdText(primary)} yet: ${missing.join('; ')}. Removing ${keyIdText(id)} now would cut them off; wait for them (contacts keys list)`);
    }
    this.keyring.remove(id);
    this.changed(true);
    return { ok: true, value: undefined };
  }

  /** Every installed key with the live members that hold it and seal with it. */
  keyReport(): { primary: string; keys: KeyReport[]; members: { name: string; id: string; state: string; primary: string | null; holds: string[] }[] } {
    const primary = this.keyring.primary().id;
    const live = [...this.init.members()].filter((m) => m.state === 'alive' || m.state === 'suspect');
    const statusOf = (m: MemberView) => (m.id === this.init.id ? this.ownStatus : this.statuses.get(m.id));
    const ids = new Set<number>(this.keyring.ids());
    for (const m of live) for (const k of statusOf(m)?.holds ?? []) ids.add(k);
    const keys = [...ids].sort((a, b) => a - b).map((k) => ({
      id: keyIdText(k as KeyId),
      primary: k === primary,
      heldBy: live.filter((m) => statusOf(m)?.holds.includes(k)).map((m) => m.name),
      sealingWith: live.filter((m) => statusOf(m)?.primary === k).map((m) => m.name),
    }));
    const members = live.map((m) => {
      const s = statusOf(m);
      return { name: m.name, id: m.id, state: m.state, primary: s ? keyIdText(s.primary as KeyId) : null, holds: (s?.holds ?? []).map((k) => keyIdText(k as KeyId)) };
    });
    return { primary: keyIdText(primary), keys, members };
  }

  // ---------------------------------------------------------------- credential commands

  /** Adds a client credential and tells every live member. */
  addCredential(c: Credential): CommandResult {
    const r = this.credentials.add(c);
    if (r === 'present') return failure('exists', `credential ${c.id} exists already`);
    if (r === 'revoked') return failure('removed', `credential ${c.id} was revoked; make a new one`);
    if (r === 'full') return failure('full', 'too many credentials; revoke unused ones first');
    this.changed(true);
    return { ok: true, value: undefined };
  }

  /** Revokes a client credential everywhere, for good. */
  revokeCredential(id: string): CommandResult {
    if (!this.credentials.get(id)) return failure('not-found', `no credential ${id} (contacts credentials list shows them)`);
    this.credentials.revoke(id);
    this.changed(true);
    return { ok: true, value: undefined };
  }

  // ---------------------------------------------------------------- internals

  /** The state changed here: persist it, gossip our new status, and (for a command) send it to every live member. */
  private changed(command: boolean): void {
    this.digestCache = undefined;
    this.persistState();
    const status = this.makeStatus();
    if (status.primary !== this.ownStatus.primary || status.holds.join() !== this.ownStatus.holds.join()) {
      this.ownStatus = status;
      this.init.broadcast(`ks:${this.init.id}`, encodeMessage(status));
      const k = this.keyring.state();
      this.events.push({ type: 'keyring-changed', keys: this.keyring.ids(), primary: this.keyring.primary().id, removed: k.removed });
    }
    if (!command) return;
    for (const m of this.liveOthers()) this.sendState(m.addr, false);
  }

  /** Merges a member's state; from a member not live, only its public part; from a node we do not know, nothing (see the file comment). */
  private onState(fromAddr: Address, sender: NodeId, msg: SecState): void {
    const state = this.init.member(sender)?.state;
    if (state === undefined) return void this.stats.statesRefused++;
    const live = state === 'alive' || state === 'suspect';
    const incoming = fromSecState(live ? msg : publicPart(msg));
    const wrong = checkKeyringState(this.crypto, incoming.keyring);
    if (wrong !== undefined) {
      this.stats.statesRefused++;
      return;
    }
    let changed = this.keyring.merge(incoming.keyring);
    if (this.credentials.merge(incoming.credentials)) changed = true;
    if (changed) {
      this.stats.statesMerged++;
      this.changed(false);
    }
    // The sender lacks something we hold: answer once (a reply is never answered).
    if (live && !msg.reply && !equalBytes(this.digest(), securityDigest(this.crypto, new Keyring(incoming.keyring), incoming.credentials))) this.sendState(fromAddr, true);
  }

  private onStatus(msg: KeyStatus): void {
    if (!this.statuses.heard(msg)) return;
    this.stats.statusesHeard++;
    this.init.broadcast(`ks:${msg.node}`, encodeMessage(msg));
  }

  private onSyncTick(now: TimeMs): void {
    this.timers.set('sec-sync', now + Math.floor(this.cfg.syncIntervalMs * (0.75 + this.init.rng.next() / 2)));
    this.statuses.prune(this.init.members());
    const live = this.liveOthers();
    if (live.length === 0) return;
    const peer = live[this.init.rng.int(live.length)]!;
    this.stats.syncs++;
    this.init.outbox.sendSealed(peer.addr, [{ type: 'secDigest', digest: this.digest() }, this.ownStatus]);
  }

  private onStatusTick(now: TimeMs): void {
    this.timers.set('sec-status', now + this.cfg.statusRefreshMs);
    this.init.broadcast(`ks:${this.init.id}`, encodeMessage(this.ownStatus));
  }

  /**
   * Sends our digest and key status, sealed under `keyId`, to `sender`:
   * to a member that seals with a key
   * we hold but do not seal with (its answer brings us up to date), and to
   * one that addresses an earlier life of ours or another node (our header
   * teaches it who we are). It goes to the address the member table has for
   * the sender, again every INTRODUCE_AGAIN_MS while the sender still
   * needs it (one lost datagram must not strand either side: a member that
   * missed a `use` seals its own digest syncs with a key the others may
   * have removed). Only a sender we do not know (it joined while we were
   * down) is answered at `source`, the datagram's source address, which
   * anyone replaying a recording can forge: that goes once per sender's
   * life, so a recording replayed any number of times draws one datagram.
   */
  private introduce(now: TimeMs, sender: NodeId, epoch: number, keyId: KeyId, source: Address): void {
    const known = this.init.member(sender);
    const last = this.introduced.get(sender);
    if (last?.epoch === epoch && (!known || now - last.atMs < INTRODUCE_AGAIN_MS)) return;
    this.introduced.delete(sender);
    this.introduced.set(sender, { epoch, atMs: now });
    if (this.introduced.size > MAX_INTRODUCED) this.introduced.delete(this.introduced.keys().next().value as NodeId);
    this.stats.catchUps++;
    const to = known?.addr ?? source;
    this.init.outbox.sendSealed(to, [{ type: 'secDigest', digest: this.digest() }, this.ownStatus], { keyId });
  }

  /** Counts a datagram sealed with a key we do not hold; raises a key-alert when one is due (key-alerts.ts). */
  private alert(now: TimeMs, from: Address, sender: NodeId | undefined, keyId: KeyId): void {
    const due = this.unknownKeys.count(now, from, sender, keyId);
    if (!due) return;
    this.stats.alerts++;
    let senderName: string | undefined;
    for (const m of this.init.members()) if (m.id === due.sender || m.addr === due.from) senderName = m.name;
    this.events.push({
      type: 'key-alert', ...due, senderName, removedByRotation: this.keyring.isRemoved(due.keyId), held: this.keyring.ids(), primary: this.keyring.primary().id,
    });
  }

  /** Live members (not us) whose status does not satisfy `ok`, described for a refusal. */
  private unconfirmed(ok: (s: KeyStatus) => boolean): string[] {
    return this.statuses.unconfirmed(this.init.members(), ok);
  }

  private liveOthers(): MemberView[] {
    const out: MemberView[] = [];
    for (const m of this.init.members()) if (m.id !== this.init.id && m.state === 'alive') out.push(m);
    return out;
  }

  private sendState(to: Address, reply: boolean): void {
    this.stats.statesSent++;
    this.init.outbox.sendSealed(to, [toSecState(this.keyring, this.credentials, reply)]);
  }

  /** The public part of our state (publicPart) to member `sender`, not live, at most once per publicAnswerIntervalMs. */
  private sendPublicState(now: TimeMs, to: Address, sender: NodeId): void {
    const last = this.publicAnswers.get(sender);
    if (last !== undefined && now - last < this.cfg.publicAnswerIntervalMs) return;
    this.publicAnswers.delete(sender);
    this.publicAnswers.set(sender, now);
    if (this.publicAnswers.size > MAX_INTRODUCED) this.publicAnswers.delete(this.publicAnswers.keys().next().value as NodeId);
    this.stats.publicStatesSent++;
    this.init.outbox.sendSealed(to, [publicPart(toSecState(this.keyring, this.credentials, true))]);
  }

  /** Our state's digest, computed again only after the state changed. */
  private digest(): Uint8Array {
    this.digestCache ??= securityDigest(this.crypto, this.keyring, this.credentials);
    return this.digestCache;
  }

  private makeStatus(): KeyStatus {
    return this.statuses.next(this.keyring.primary().id, this.keyring.ids());
  }

  /**
   * The operator's key file: the first key of an empty ring (a new node, or
   * one whose data dir lost its ring) and its primary; otherwise installed
   * beside the ring's keys, never made primary here (see the file comment).
   */
  private installKeyFileKey(secret: Uint8Array): void {
    const key = { id: keyIdOf(this.crypto, secret), secret };
    const empty = this.keyring.size === 0;
    const r = this.keyring.install(key);
    if (r === 'removed') this.events.push({ type: 'key-file-retired', keyId: key.id });
    if (r === 'full') this.events.push({ type: 'key-file-unused', keyId: key.id, reason: 'full', primary: this.keyring.primary().id });
    if (r !== 'installed') return;
    if (empty) this.keyring.use(key.id, this.init.id);
    else this.events.push({ type: 'key-file-unused', keyId: key.id, reason: 'not-primary', primary: this.keyring.primary().id });
    this.persistState();
  }

  private persistState(): void {
    this.events.push({ type: 'persist', key: 'security', value: securityToJson(this.keyring, this.credentials) });
  }
}
