/**
 * What is valid on the wire: the field kinds and the one table that says, for
 * every message type, which fields it carries, in which order, and what each
 * may hold.
 *
 * How this works: a message travels as the CBOR array
 * `[WIRE_TYPE[type], field1, field2, ...]`. `MESSAGE_FIELDS[type]` lists its
 * fields as an object whose KEY ORDER IS THE WIRE ORDER (JavaScript keeps the
 * insertion order of non-numeric keys). Each field is a `Field`: the typebox
 * schema its wire value must pass, and, where the wire value differs from the
 * in-memory one (an enum sent as its number, a nested record sent as an
 * array), the mapping both ways. codec.ts compiles the table once.
 *
 * Adding a message: give it an interface and a WIRE_TYPE id in messages.ts,
 * then one entry here. Changing an existing entry changes the wire format:
 * append-only, like the ids (the golden-bytes test in codec.test.ts notices).
 */
import Type, { type TSchema } from 'typebox';
import {
  CLIENT_ROLE, LIMITS, MEMBER_STATE, type MemberState, type Message, type WireCredential, type WireDots, type WireEntry, type WireKey, type WireSeq,
} from './messages.ts';
import type { Address, NodeId } from '../types.ts';

/** How one value travels: the schema of its wire form and, if it differs, the mapping to and from it. */
export interface Field<T> {
  readonly schema: TSchema;
  /** In-memory → wire. Absent means identity (the common case, kept off the hot path). */
  readonly toWire?: (value: T) => unknown;
  /** Wire → in-memory; only ever called on a value that passed `schema`. */
  readonly fromWire?: (wire: never) => T;
}

/** One `Field` per property of `O`, every property, no others. */
export type FieldsOf<O> = { readonly [K in keyof O]-?: Field<O[K]> };

/** The fields of message `M`: all of its properties but the discriminant. */
export type MessageFields<M extends Message> = FieldsOf<Omit<M, 'type'>>;

// ---------------------------------------------------------------- field kinds

/** A counter, sequence number or index: a non-negative integer JavaScript holds exactly. */
export const counter: Field<number> = {
  schema: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
};

/** A session id or other 32-bit unsigned value. */
export const u32: Field<number> = { schema: Type.Integer({ minimum: 0, maximum: 0xffffffff }) };

/** An integer in [min, max]. */
export function boundedInt(min: number, max: number): Field<number> {
  return { schema: Type.Integer({ minimum: min, maximum: max }) };
}

/** true or false, nothing truthy. */
export const flag: Field<boolean> = { schema: Type.Boolean() };

/** Mirrors `isNodeId` in types.ts. */
export const nodeIdField: Field<NodeId> = { schema: Type.String({ pattern: '^[0-9a-f]{16}$' }) };

/**
 * A `host:port` that `parseAddress` accepts, narrowed to what a resolver
 * hands out (hostnames, IPv4, bracketed IPv6) so nothing printable-but-odd
 * reaches logs; port 1..65535.
 */
export const addressField: Field<Address> = {
  schema: Type.String({
    maxLength: LIMITS.maxAddressLength,
    pattern:
      '^(?:\\[[0-9a-fA-F:.]+\\]|[A-Za-z0-9._-]+):' +
      '(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$',
  }),
};

/**
 * Human-readable text of at most `maxLength` code points, without control
 * characters (names end up in logs and on terminals, where ESC sequences
 * from a stranger have no business) and without lone surrogates (UTF-8
 * cannot carry them: the name would arrive changed).
 */
export function text(maxLength: number): Field<string> {
  return { schema: Type.String({ maxLength, pattern: '^[^\\p{Cc}\\p{Cs}]*$' }) };
}

/** A name from `table`, sent as its number. */
export function enumOf<K extends string>(table: Readonly<Record<K, number>>): Field<K> {
  const names = new Map<number, K>();
  for (const [name, id] of Object.entries(table) as [K, number][]) names.set(id, name);
  return {
    schema: Type.Union([...names.keys()].map((id) => Type.Literal(id))),
    toWire: (name) => table[name],
    fromWire: (id: number) => names.get(id)!,
  };
}

/** A byte string of at most `maxBytes`, a whole number of `unitBytes`-sized units. */
export function bytes(maxBytes: number, unitBytes = 1): Field<Uint8Array> {
  return {
    schema: Type.Refine(Type.Unknown(), (v) => v instanceof Uint8Array && v.length <= maxBytes && v.length % unitBytes === 0),
    // A copy, as a plain Uint8Array: a decoded message must never alias the
    // datagram's buffer (cbor-x hands out views, and drivers reuse buffers).
    fromWire: (wire: Uint8Array) => new Uint8Array(wire),
  };
}

/** Up to `maxItems` values of one kind. */
export function listOf<T>(item: Field<T>, maxItems: number): Field<T[]> {
  const schema = Type.Array(item.schema, { maxItems });
  const { toWire, fromWire } = item;
  if (!toWire || !fromWire) return { schema };
  return {
    schema,
    toWire: (values) => values.map(toWire),
    fromWire: (wires: unknown[]) => wires.map((w) => fromWire(w as never)),
  };
}

/** A record sent as a fixed-length array of its fields, in key order. */
export function recordOf<O extends object>(fields: FieldsOf<O>): Field<O> {
  const tuple = tupleCodec<O>(fields, []);
  return {
    schema: tuple.schema,
    toWire: (value) => tuple.toWire(value, []),
    fromWire: (wire: unknown[]) => tuple.fromWire(wire, 0),
  };
}

/** How a record travels as an array, behind `prefix` items that the caller fills in. */
export interface TupleCodec<O> {
  /** Schema of the whole array: the prefix schemas, then one per field, nothing more. */
  readonly schema: TSchema;
  /** Appends the wire form of each field of `value` to `out` (which holds the prefix) and returns it. */
  toWire(value: O, out: unknown[]): unknown[];
  /** Reads the fields from `wire[offset..]`; only on a value that passed `schema`. */
  fromWire(wire: unknown[], offset: number): O;
}

/** Builds the `TupleCodec` of `fields` behind `prefix`; shared by nested records and messages. */
export function tupleCodec<O extends object>(fields: FieldsOf<O>, prefix: TSchema[]): TupleCodec<O> {
  const entries = Object.entries(fields) as [string, Field<unknown>][];
  return {
    // Tuple means exactly these items: additional ones fail the check.
    schema: Type.Tuple([...prefix, ...entries.map(([, f]) => f.schema)]),
    toWire(value, out) {
      for (const [key, f] of entries) {
        const v = (value as Record<string, unknown>)[key];
        out.push(f.toWire ? f.toWire(v) : v);
      }
      return out;
    },
    fromWire(wire, offset) {
      const out: Record<string, unknown> = {};
      for (let i = 0; i < entries.length; i++) {
        const [key, f] = entries[i]!;
        const w = wire[offset + i];
        out[key] = f.fromWire ? f.fromWire(w as never) : w;
      }
      return out as O;
    },
  };
}

/** JSON text in printable ASCII (see ClientReq): no control characters, nothing for the non-ASCII gate. */
export const asciiJson: Field<string> = { schema: Type.String({ maxLength: LIMITS.maxClientJsonChars, pattern: '^[\\x20-\\x7e]*$' }) };

// ---------------------------------------------------------------- the table

/** One member's entry in a push/pull. */
export const memberState: Field<MemberState> = recordOf<MemberState>({
  node: nodeIdField,
  name: text(LIMITS.maxNodeNameLength),
  addr: addressField,
  incarnation: counter,
  state: enumOf(MEMBER_STATE),
});

const wireSeq = recordOf<WireSeq>({ origin: nodeIdField, seq: counter });
const wireDots = recordOf<WireDots>({ origin: nodeIdField, ranges: listOf(counter, LIMITS.maxDotRangeNumbers) });
/** A full-sync cursor: a contact id, or '' (from the start; done). */
const syncCursor: Field<string> = { schema: Type.String({ maxLength: LIMITS.maxContactIdLength, pattern: '^[0-9A-Za-z-]*$' }) };
/** An entry travels, and stays in memory, as its array (WireEntry): the same bytes a record of these fields makes. */
const wireEntry: Field<WireEntry> = {
  schema: Type.Tuple([
    text(LIMITS.maxFieldKeyLength).schema,
    text(LIMITS.maxEntryUidLength).schema,
    Type.String({ maxLength: LIMITS.maxEntryValueLength }),
    nodeIdField.schema,
    counter.schema,
    counter.schema,
    counter.schema,
  ]),
};

/** A client credential id: 16 hex digits, like a node id. */
const credentialIdField: Field<string> = { schema: Type.String({ pattern: '^[0-9a-f]{16}$' }) };

const wireCredential = recordOf<WireCredential>({
  id: credentialIdField,
  role: enumOf(CLIENT_ROLE),
  key: bytes(32, 32),
  // Printable ASCII: 256 names must stay clear of the gate's non-ASCII budget (LIMITS.maxCborNonAscii*).
  name: { schema: Type.String({ maxLength: LIMITS.maxCredentialNameLength, pattern: '^[\\x20-\\x7e]*$' }) },
  created: counter,
});

/**
 * Every message's fields in wire order. APPEND ONLY per entry: never reorder,
 * remove or retype a field of a message that has shipped; give the changed
 * message a new WIRE_TYPE id instead.
 */
export const MESSAGE_FIELDS: { readonly [T in Message['type']]: MessageFields<Extract<Message, { type: T }>> } = {
  ping: { seq: counter, target: nodeIdField },
  pingReq: { seq: counter, target: nodeIdField, targetAddr: addressField, wantNack: flag },
  ack: { seq: counter },
  nack: { seq: counter },
  alive: { node: nodeIdField, incarnation: counter, name: text(LIMITS.maxNodeNameLength), addr: addressField },
  suspect: { node: nodeIdField, incarnation: counter, from: nodeIdField },
  dead: { node: nodeIdField, incarnation: counter, from: nodeIdField },
  pushPull: {
    reqId: counter,
    join: flag,
    reply: flag,
    // `part` counts from 0; part < parts is a rule below.
    part: boundedInt(0, LIMITS.maxPushPullParts - 1),
    parts: boundedInt(1, LIMITS.maxPushPullParts),
    members: listOf(memberState, LIMITS.maxMembersPerPushPull),
  },
  // Digest repair (protocol/reconcile/messages.ts says what each one does).
  rcHello: { sid: u32, n: counter, fp: bytes(16, 16) },
  rcEqual: { sid: u32 },
  rcDiffer: { sid: u32, n: counter, fp: bytes(16, 16), end: counter, sym: bytes(LIMITS.maxDatagramBytes, 12) },
  rcEstimate: { sid: u32, from: counter, cells: bytes(LIMITS.maxEstimatorBytes) },
  rcMore: { sid: u32, from: counter, upTo: counter },
  rcSymbols: { sid: u32, at: counter, end: counter, sym: bytes(LIMITS.maxDatagramBytes, 12) },
  rcList: { sid: u32, from: counter, upTo: counter },
  rcItems: { sid: u32, at: counter, end: counter, items: bytes(LIMITS.maxDatagramBytes, 8) },
  rcDone: { sid: u32 },
  // Replication (protocol/replication).
  repState: {
    reply: flag,
    full: flag,
    batch: counter,
    id: { schema: Type.String({ maxLength: LIMITS.maxContactIdLength, pattern: '^[0-9A-Za-z-]+$' }) },
    entries: listOf(wireEntry, LIMITS.maxEntriesPerState),
    ctx: listOf(wireDots, LIMITS.maxOrigins),
    stable: listOf(wireSeq, LIMITS.maxOrigins),
  },
  repVv: { reply: flag, batch: counter, count: counter, more: flag, cursor: syncCursor, vv: listOf(wireSeq, LIMITS.maxOrigins) },
  repFetch: { items: bytes(LIMITS.maxDatagramBytes, 8) },
  frag: { xid: u32, part: boundedInt(0, LIMITS.maxFragParts - 1), parts: boundedInt(2, LIMITS.maxFragParts), bytes: bytes(LIMITS.maxDatagramBytes) },
  // Client protocol (protocol/client). Any op name passes, so an unknown op is answered, not dropped.
  clientReq: { reqId: u32, op: text(LIMITS.maxClientOpLength), args: asciiJson },
  clientRes: {
    reqId: u32,
    ok: flag,
    result: asciiJson,
    // A contact id (a UUID is 36 characters, over maxContactIdLength).
    cursor: { schema: Type.String({ maxLength: 64, pattern: '^[0-9A-Za-z-]*$' }) },
    more: flag,
  },
  clientPush: { sub: { schema: Type.String({ maxLength: LIMITS.maxSubscriptionIdLength, pattern: '^[0-9a-f]*$' }) }, seq: counter, event: asciiJson },
  // Security state (protocol/security): taken only from sealed datagrams.
  secState: {
    reply: flag,
    primary: u32,
    primaryVersion: counter,
    primaryBy: nodeIdField,
    keys: listOf(recordOf<WireKey>({ id: u32, secret: bytes(32, 32) }), LIMITS.maxWireKeys),
    removed: listOf(u32, LIMITS.maxRemovedKeys),
    creds: listOf(wireCredential, LIMITS.maxCredentials),
    revoked: listOf(credentialIdField, LIMITS.maxRevokedCredentials),
  },
  secDigest: { digest: bytes(8, 8) },
  keyStatus: { node: nodeIdField, version: counter, primary: u32, holds: listOf(u32, LIMITS.maxWireKeys) },
  repAsk: { count: counter, cursor: syncCursor, vv: listOf(wireSeq, LIMITS.maxOrigins), held: listOf(wireDots, LIMITS.maxOrigins) },
};

/**
 * Rules across fields that a schema cannot state. A message breaking one is
 * refused like a message with a bad field (bad-schema on decode, a usage
 * error on encode).
 */
export const MESSAGE_RULES: { readonly [T in Message['type']]?: (message: Extract<Message, { type: T }>) => boolean } = {
  pushPull: (m) => m.part < m.parts,
  rcMore: (m) => m.from < m.upTo,
  rcList: (m) => m.from < m.upTo,
  frag: (m) => m.part < m.parts,
};

/** Cluster names follow the rules of node names, shorter. */
export const clusterField: Field<string> = text(LIMITS.maxClusterNameLength);
