/**
 * Every message that crosses the wire, as a discriminated union on `type`.
 *
 * A datagram is a `Packet`: a small header (protocol version, cluster name,
 * sender id) and one or more messages packed up to the datagram budget. On the
 * wire each message is a CBOR array whose first item is its numeric type id
 * (below); the codec maps it to and from these objects and checks it against
 * its schema before the core ever sees it.
 *
 * WIRE_TYPE ids are APPEND ONLY: never renumber or reuse one, or nodes of two
 * versions will misread each other.
 */
import type { Address, NodeId } from '../types.ts';
import type { ReconcileMessage } from '../reconcile/messages.ts';

/** Version of the packet header; a packet of another version is dropped. */
export const PROTOCOL_VERSION = 1;

/** Numeric wire ids. APPEND ONLY. */
export const WIRE_TYPE = {
  ping: 1,
  pingReq: 2,
  ack: 3,
  nack: 4,
  alive: 5,
  suspect: 6,
  dead: 7,
  pushPull: 8,
  rcHello: 9,
  rcEqual: 10,
  rcDiffer: 11,
  rcEstimate: 12,
  rcMore: 13,
  rcSymbols: 14,
  rcList: 15,
  rcItems: 16,
  rcDone: 17,
  repState: 18,
  repVv: 19,
  repFetch: 20,
  frag: 21,
  clientReq: 22,
  clientRes: 23,
  clientPush: 24,
  secState: 25,
  secDigest: 26,
  keyStatus: 27,
  repAsk: 28,
} as const;

export type WireTypeName = keyof typeof WIRE_TYPE;

/** Member liveness as SWIM knows it. Numeric on the wire; APPEND ONLY. */
export const MEMBER_STATE = { alive: 0, suspect: 1, dead: 2, left: 3 } as const;
export type MemberStateName = keyof typeof MEMBER_STATE;

/** Direct probe. `target` is the id the sender believes lives at this address. */
export interface Ping {
  type: 'ping';
  seq: number;
  target: NodeId;
}

/** Ask the receiver to probe `target` at `targetAddr` on the sender's behalf. */
export interface PingReq {
  type: 'pingReq';
  seq: number;
  target: NodeId;
  targetAddr: Address;
  /** Lifeguard: reply with a nack if the target does not answer in time. */
  wantNack: boolean;
}

/** Answer to a ping (or a relayed answer to a ping-req), matching its `seq`. */
export interface Ack {
  type: 'ack';
  seq: number;
}

/** Lifeguard: a ping-req's relay did not hear from the target in time. */
export interface Nack {
  type: 'nack';
  seq: number;
}

/** `node` is alive at `incarnation`; also how a node introduces itself. */
export interface Alive {
  type: 'alive';
  node: NodeId;
  incarnation: number;
  name: string;
  addr: Address;
}

/** `from` suspects `node` at `incarnation`. */
export interface Suspect {
  type: 'suspect';
  node: NodeId;
  incarnation: number;
  from: NodeId;
}

/** `from` declares `node` dead at `incarnation`; `from === node` means it left. */
export interface Dead {
  type: 'dead';
  node: NodeId;
  incarnation: number;
  from: NodeId;
}

/** One member's entry in a full-state exchange. */
export interface MemberState {
  node: NodeId;
  name: string;
  addr: Address;
  incarnation: number;
  state: MemberStateName;
}

/**
 * One part of a full-state exchange. Every part stands alone (its entries
 * merge like gossip), so loss, duplication and reordering of parts only delay
 * convergence. The initiator sends `reply: false` parts; the peer answers each
 * new `reqId` once with its own state as `reply: true` parts.
 */
export interface PushPull {
  type: 'pushPull';
  reqId: number;
  /** The sender is joining: the receiver should answer even if it has never heard of it. */
  join: boolean;
  reply: boolean;
  /** Index of this part, counted from 0: the codec refuses part >= parts. */
  part: number;
  /** How many parts this exchange has, 1..LIMITS.maxPushPullParts. */
  parts: number;
  members: MemberState[];
}

export type MembershipMessage = Ping | PingReq | Ack | Nack | Alive | Suspect | Dead | PushPull;

/**
 * One dotted entry of a contact state (replication/), kept in memory as the
 * array it travels as (a state carries dozens: no object per entry on the
 * way in or out): field key, entry uid, value as JSON text, the dot's origin
 * and seq, and the HLC's wall time and logical counter.
 */
export type WireEntry = [key: string, uid: string, value: string, origin: NodeId, seq: number, t: number, c: number];

/** One origin's part of a dot cloud: sorted inclusive ranges, flattened [from, to, from, to, …]. */
export interface WireDots {
  origin: NodeId;
  ranges: number[];
}

/** One origin's entry in a version or stable vector. */
export interface WireSeq {
  origin: NodeId;
  seq: number;
}

/** A contact's state (a write's delta, or all of it), compacted under the sender's stable vector. */
export interface RepState {
  type: 'repState';
  /** An answer to something we sent: never answered in turn (no ping-pong). */
  reply: boolean;
  /** The sender's whole state of the contact (else a write's delta). */
  full: boolean;
  /** Catch-up batch this state belongs to (0: none). */
  batch: number;
  id: string;
  entries: WireEntry[];
  ctx: WireDots[];
  stable: WireSeq[];
}

/**
 * A catch-up batch's closing claim (`reply: true`): `count` states were
 * sent under `batch`, and once all have arrived the receiver holds every
 * write of each origin up to `vv`; `more` says the sender had more to send,
 * and `cursor` where a full sync goes on. With `reply: false` it is a
 * catch-up request holding nothing above its vector (repAsk without
 * `held`): the first wire version's form, which a node without gaps still
 * sends, so that members of either version answer it.
 */
export interface RepVv {
  type: 'repVv';
  reply: boolean;
  batch: number;
  count: number;
  more: boolean;
  /** Full-sync cursor (a contact id; '' = from the start / done) for a node behind the index floor. */
  cursor: string;
  vv: WireSeq[];
}

/**
 * A catch-up request: "send me what I lack". `vv` is the sender's version
 * vector (the contiguous part of what it applied); `held` lists, per
 * origin, the ranges it holds above that (flattened [from, to, …],
 * ascending; the lowest ones when there are many), so the answer skips the
 * writes it has and leaves the gaps. `count` is the most states the sender
 * wants in one batch (0: the answering node's own limit); `cursor` is the
 * full-sync cursor (a contact id; '' = from the start) for a node behind
 * the index floor. Answered with states of a batch and a closing repVv.
 */
export interface RepAsk {
  type: 'repAsk';
  count: number;
  cursor: string;
  vv: WireSeq[];
  held: WireDots[];
}

/** Ask for the contacts whose digest items (8-byte versions) are listed. */
export interface RepFetch {
  type: 'repFetch';
  items: Uint8Array;
}

export type ReplicationMessage = RepState | RepVv | RepFetch | RepAsk;

/**
 * One piece of a packet too large for the datagram budget (a contact with
 * a long history, a photo). The receiver reassembles the packet from all
 * `parts` pieces of `xid` and decodes it as if it had arrived whole; pieces
 * may come lost, duplicated or reordered (an incomplete packet expires).
 */
export interface Frag {
  type: 'frag';
  xid: number;
  part: number;
  parts: number;
  bytes: Uint8Array;
}

/**
 * A client's request (protocol/client/client-service.ts lists the ops and
 * their args). `args` is JSON text, ASCII only (non-ASCII escaped as
 * \uXXXX): the codec forbids CBOR maps, and ASCII keeps a 50 KB text cheap
 * for cbor-x and clear of the gate's non-ASCII limits. Writes carry their
 * own idempotency key (an op id) in `args`, so a retry, even at another
 * server, is applied once; `reqId` only matches the answer to the request.
 */
export interface ClientReq {
  type: 'clientReq';
  reqId: number;
  op: string;
  args: string;
}

/**
 * The answer to a `clientReq` of the same `reqId`. `result` is ASCII JSON
 * text: the op's result when `ok`, else `{code, message, issues?}`. A paged
 * op (list, search, conflicts) answers one page: ask again with
 * `after: cursor` while `more` is true (`cursor` is '' when unpaged).
 */
export interface ClientRes {
  type: 'clientRes';
  reqId: number;
  ok: boolean;
  result: string;
  cursor: string;
  more: boolean;
}

/**
 * A change pushed by a server to a client that subscribed
 * (protocol/client/subscriptions.ts says what `event` holds). Pushes go
 * only to the address that subscribed and confirmed, for the lease it
 * renews. `seq` counts 1, 2, 3… per subscription: a number missing is a
 * push the client missed, and it re-reads. `sub` names the subscription
 * (the subscribe answer's `subId`), so pushes of an old subscription are
 * told apart from the current one's.
 */
export interface ClientPush {
  type: 'clientPush';
  sub: string;
  seq: number;
  event: string;
}

export type ClientMessage = ClientReq | ClientRes | ClientPush;

/** Client roles, numeric on the wire; APPEND ONLY. */
export const CLIENT_ROLE = { read: 0, write: 1, admin: 2 } as const;
export type ClientRoleName = keyof typeof CLIENT_ROLE;

/** A cluster key as the keyring carries it (only ever inside a sealed datagram). */
export interface WireKey {
  id: number;
  secret: Uint8Array;
}

/** A client credential as the security state carries it: its request key, never the client's secret. */
export interface WireCredential {
  /** 16 hex digits. */
  id: string;
  role: ClientRoleName;
  /** HKDF of the client's secret (security/client-auth.ts). */
  key: Uint8Array;
  /** A label for people ("alice's laptop"). */
  name: string;
  /** When it was created, ms on the creating node's clock. */
  created: number;
}

/**
 * The cluster's security state (protocol/security): keyring and client
 * credentials, both CRDTs, whole. Carries secrets: sent and taken only in
 * sealed datagrams. `primaryVersion` 0 means no primary register yet.
 * As a reply it is never answered in turn.
 */
export interface SecState {
  type: 'secState';
  reply: boolean;
  primary: number;
  primaryVersion: number;
  primaryBy: NodeId;
  keys: WireKey[];
  removed: number[];
  creds: WireCredential[];
  revoked: string[];
}

/** A digest of the sender's security state; a receiver that differs answers with its secState. */
export interface SecDigest {
  type: 'secDigest';
  digest: Uint8Array;
}

/** Which keys `node` holds and seals with, as of `version` (newer replaces older). Gossiped. */
export interface KeyStatus {
  type: 'keyStatus';
  node: NodeId;
  version: number;
  primary: number;
  holds: number[];
}

export type SecurityMessage = SecState | SecDigest | KeyStatus;

/** Every message the codec knows. */
export type Message = MembershipMessage | ReconcileMessage | ReplicationMessage | Frag | ClientMessage | SecurityMessage;

/** What every datagram carries besides its messages. */
export interface PacketHeader {
  /** Cluster name: packets of another cluster are dropped, so two clusters on one network never mix. */
  cluster: string;
  /** Sender's node id. */
  from: NodeId;
}

export interface Packet extends PacketHeader {
  messages: Message[];
}

/** Limits on what a decoded message may contain. */
export const LIMITS = {
  /** Largest datagram accepted or sent, bytes (the default budget is 1400). */
  maxDatagramBytes: 65_507,
  maxClusterNameLength: 64,
  maxNodeNameLength: 128,
  maxAddressLength: 64,
  maxMessagesPerPacket: 256,
  maxMembersPerPushPull: 512,
  maxPushPullParts: 4096,
  /** Pieces of one fragmented packet (64 × ~1.3 KB: a 64 KiB datagram at the default budget). */
  maxFragParts: 64,
  /** A ULID is 26 characters, a UUID 36. */
  maxContactIdLength: 40,
  maxFieldKeyLength: 32,
  maxEntryUidLength: 64,
  /**
   * JSON text of one field value: the largest is a photo (32 KiB decoded,
   * ~43.7 KB as base64 in JSON); a state travels in fragments up to the
   * 64 KiB packet limit.
   */
  maxEntryValueLength: 48 * 1024,
  maxEntriesPerState: 256,
  maxOrigins: 256,
  /** Numbers in one origin's dot ranges (pairs). */
  maxDotRangeNumbers: 2048,
  /** Digest-repair estimator cells (75 bytes at 100,000 items; room for far larger sets). */
  maxEstimatorBytes: 1024,
  /** A client op's name. */
  maxClientOpLength: 32,
  /** JSON text of a client request's args or a response's result (a page aims at ~48 KB; a create with a photo needs ~45 KB). */
  maxClientJsonChars: 60_000,
  /** A subscription id (16 hex characters today). */
  maxSubscriptionIdLength: 32,
  /** Cluster keys a secState carries (the ring holds 8; room for a concurrent install on each side). */
  maxWireKeys: 16,
  /** Removed key ids a secState carries. */
  maxRemovedKeys: 256,
  /** Client credentials (active) and revoked credential ids a secState carries: see security/credentials.ts. */
  maxCredentials: 256,
  maxRevokedCredentials: 1024,
  maxCredentialNameLength: 64,
  /**
   * CBOR nesting the decoder's gate allows (cbor-guard.ts). Our deepest
   * message (pushPull: packet > message > members > member) is 4 levels;
   * the rest is room for messages to come, not for strangers' junk.
   */
  maxCborDepth: 16,
  /** Items in any one CBOR array a datagram may hold (the packet and pushPull.members are the largest today). */
  maxCborArrayLength: 4096,
  /**
   * Entries in any one CBOR map. 0: no message uses maps (our layout is
   * arrays), and map keys are the dearest items for cbor-x to decode (an
   * object property each, ~0.4 µs). Raise it with the message that needs it,
   * and rerun `npm run bench -- codec`.
   */
  maxCborMapEntries: 0,
  /**
   * CBOR items in one datagram, all levels. Decoding cost follows the item
   * count, so this bounds the worst case (64 KiB of one-byte items is 64k
   * items and ~3 ms). The largest valid packet today (pushPull, 512 members)
   * has about 3,100. Raise these limits with the message that needs it, and
   * rerun `npm run bench -- codec` (goal: any datagram under 1 ms).
   */
  maxCborItems: 4096,
  /** Text strings in one datagram; the largest valid packet today has about 1,540. */
  maxCborTextStrings: 2048,
  /**
   * Text strings with non-ASCII characters in one datagram, and their bytes:
   * cbor-x decodes each on its own at ~10 ns a byte (ASCII: ~1 ns). Only
   * names may be non-ASCII today, and a 1400-byte datagram holds about 40;
   * these bind only datagrams of many KiB (a pushPull part of over 256
   * members with non-ASCII names), which assemblePacket then refuses to build.
   */
  maxCborNonAsciiTextStrings: 256,
  maxCborNonAsciiTextBytes: 16_384,
} as const;
