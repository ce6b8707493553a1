/**
 * Bytes ↔ messages: the hardened wire codec.
 *
 * How this works. A datagram is one CBOR array
 * `[PROTOCOL_VERSION, cluster, from, msg1, msg2, ...]` and each message is a
 * CBOR array `[typeId, field1, field2, ...]` laid out by MESSAGE_FIELDS
 * (schema.ts). Messages are encoded one at a time (`encodeMessage`) so the
 * broadcast queue can keep them as bytes and know their exact size; a
 * datagram is then assembled by writing the outer array header by hand and
 * concatenating (`assemblePacket`), never re-encoding.
 *
 * Decoding distrusts everything, cheapest test first: the length; the CBOR
 * gate (cbor-guard.ts: no tags, no indefinite lengths, bounded depth and
 * counts, one linear pass before cbor-x builds a single value); cbor-x on a
 * dedicated Decoder; the version; the cluster; the header; then each message
 * against its compiled typebox schema before it is mapped to an object.
 * `decodePacket` returns a typed failure and never throws.
 *
 * Unknown message type ids are skipped, the rest of the packet kept, and the
 * count reported. Why: during a rolling upgrade a newer node piggybacks new
 * kinds of message on its pings and acks; if an older node dropped the whole
 * packet it would miss the ping or ack too and suspect a healthy node, and the
 * cluster would flap for as long as the upgrade lasts. A message of a KNOWN
 * type that fails its schema, on the other hand, condemns the whole packet:
 * its sender is broken or hostile and nothing else it says should be used.
 */
import { Decoder, Encoder, type Options } from 'cbor-x';
import Type from 'typebox';
import { Compile } from 'typebox/compile';
import { scanCbor, type CborGuardLimits } from './cbor-guard.ts';
import { cborByteLength, writeCbor } from './cbor-write.ts';
import { ByteSlab } from '../byte-slab.ts';
import { MESSAGE_FIELDS, MESSAGE_RULES, clusterField, memberState, tupleCodec, type FieldsOf } from './schema.ts';
import { LIMITS, PROTOCOL_VERSION, WIRE_TYPE, type MemberState, type Message, type Packet, type PacketHeader } from './messages.ts';
import { ProtocolUsageError, invariant, isNodeId, type NodeId } from '../types.ts';

// ---------------------------------------------------------------- public types

/** Why a datagram was dropped; one counter per reason is what an operator wants to see. */
export type DecodeFailure =
  | 'too-large' // longer than LIMITS.maxDatagramBytes: refused unread
  | 'malformed' // not well-formed CBOR, or not a packet array at all
  | 'forbidden-cbor' // well-formed CBOR outside our subset: a tag, an indefinite length, too deep, too many items
  | 'bad-version' // another PROTOCOL_VERSION
  | 'foreign-cluster' // another cluster's packet
  | 'bad-schema' // a header or known message that breaks its schema
  | 'internal-error'; // the codec threw: a bug of ours, counted instead of crashing the daemon

const FAILURES: Record<DecodeFailure, true> = {
  'too-large': true, malformed: true, 'forbidden-cbor': true, 'bad-version': true,
  'foreign-cluster': true, 'bad-schema': true, 'internal-error': true,
};
/** Every DecodeFailure (the record above makes the list exhaustive), for metrics that pre-register labels. */
export const DECODE_FAILURES = Object.keys(FAILURES) as readonly DecodeFailure[];

/** The outcome of `decodePacket`. `unknownMessages` counts messages of unknown type that were skipped. */
export type DecodeResult =
  | { readonly ok: true; readonly packet: Packet; readonly unknownMessages: number }
  | { readonly ok: false; readonly reason: DecodeFailure };

/** Our own code asked to encode something the wire does not allow (a field out of its schema, too many messages). */
export class WireEncodeError extends ProtocolUsageError {
  override name = 'WireEncodeError';
}

/** `packMessages` was given one message that cannot fit a datagram of the budget on its own. */
export class MessageTooLargeError extends ProtocolUsageError {
  override name = 'MessageTooLargeError';
  constructor(
    /** Bytes a datagram holding only this message would take. */
    readonly packetBytes: number,
    readonly budgetBytes: number,
  ) {
    super(`a message needs a ${packetBytes}-byte datagram, over the ${budgetBytes}-byte budget`);
  }
}

// ---------------------------------------------------------------- CBOR engines

/**
 * Our own Encoder and Decoder instances, never cbor-x's shared defaults:
 * no records (compact arrays are our own layout), objects for maps (LIMITS
 * refuses maps today; were they allowed, the gate passes only text keys and
 * cbor-x renames `__proto__`), 8-byte integers
 * as numbers (the gate has already refused any beyond 2^53 - 1), and no
 * tag 64 around byte strings on the way out.
 */
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true, int64AsNumber: true } as Options);
const encoder = new Encoder({ useRecords: false, tagUint8Array: false });

/** Bounds for the gate; LIMITS says why each is what it is. */
const GUARD_LIMITS: CborGuardLimits = {
  maxDepth: LIMITS.maxCborDepth,
  maxArrayLength: LIMITS.maxCborArrayLength,
  maxMapEntries: LIMITS.maxCborMapEntries,
  maxItems: LIMITS.maxCborItems,
  maxTextStrings: LIMITS.maxCborTextStrings,
  maxNonAsciiTextStrings: LIMITS.maxCborNonAsciiTextStrings,
  maxNonAsciiTextBytes: LIMITS.maxCborNonAsciiTextBytes,
};

/** Bytes of a CBOR array header for `count` items. */
function arrayHeadBytes(count: number): number {
  return count < 24 ? 1 : count < 0x100 ? 2 : count < 0x1_0000 ? 3 : 5;
}

/** Writes a CBOR array header for `count` items at the start of `out`; returns its length. */
function writeArrayHead(out: Uint8Array, count: number): number {
  if (count < 24) return (out[0] = 0x80 | count), 1;
  if (count < 0x100) return (out[0] = 0x98), (out[1] = count), 2;
  invariant(count < 0x1_0000, 'packet item count fits 16 bits');
  return (out[0] = 0x99), (out[1] = count >> 8), (out[2] = count & 0xff), 3;
}

// ---------------------------------------------------------------- the compiled table

interface CompiledMessage {
  readonly id: number;
  readonly check: (wire: unknown) => boolean;
  readonly explain: (wire: unknown) => string;
  readonly toWire: (message: Message) => unknown[];
  readonly fromWire: (wire: unknown[]) => Message;
  readonly rule: ((message: Message) => boolean) | undefined;
}

const byType = new Map<string, CompiledMessage>();
const byId = new Map<number, CompiledMessage>();

for (const type of Object.keys(MESSAGE_FIELDS) as Message['type'][]) {
  const id = WIRE_TYPE[type];
  invariant(!byId.has(id), `wire type id ${id} used once`);
  const tuple = tupleCodec(MESSAGE_FIELDS[type] as FieldsOf<Message>, [Type.Literal(id)]);
  const validator = Compile(tuple.schema);
  const compiled: CompiledMessage = {
    id,
    check: (wire) => validator.Check(wire),
    explain: (wire) => JSON.stringify(validator.Errors(wire).slice(0, 3)),
    toWire: (message) => tuple.toWire(message, [id]),
    fromWire: (wire) => Object.assign({ type }, tuple.fromWire(wire, 1)),
    rule: MESSAGE_RULES[type] as ((message: Message) => boolean) | undefined,
  };
  byType.set(type, compiled);
  byId.set(id, compiled);
}

const clusterValidator = Compile(clusterField.schema);

// ---------------------------------------------------------------- encoding

/** One message's CBOR bytes (an exact-size copy the caller may keep); throws WireEncodeError when it breaks its schema. */
export function encodeMessage(message: Message): Uint8Array {
  const type: unknown = typeof message === 'object' && message !== null ? message.type : undefined;
  const compiled = typeof type === 'string' ? byType.get(type) : undefined;
  if (!compiled) throw new WireEncodeError(`no wire type for a message of type ${String(type)}`);
  let wire: unknown[];
  try {
    wire = compiled.toWire(message);
  } catch (err) {
    throw new WireEncodeError(`cannot lay out ${message.type}: ${(err as Error).message}`);
  }
  if (!compiled.check(wire)) throw new WireEncodeError(`${message.type} breaks its schema: ${compiled.explain(wire)}`);
  if (compiled.rule && !compiled.rule(message)) throw new WireEncodeError(`${message.type} breaks a cross-field rule`);
  // Our own writer for the subset we send (cbor-write.ts); cbor-x for anything else. cbor-x hands
  // out views of a shared 8 KiB slab: a copy keeps queued messages from pinning slabs.
  return writeCbor(wire) ?? new Uint8Array(encoder.encode(wire));
}

/**
 * Bytes `s` takes as one entry of a push/pull's member list: exactly what
 * encodeMessage writes for it, measured without encoding a message around
 * it (a push/pull sizes every member this way to split the list).
 */
export function memberStateBytes(s: MemberState): number {
  const wire = memberState.toWire!(s);
  return cborByteLength(wire) ?? encoder.encode(wire).length;
}

/**
 * The header's items after the array head, per header object: a node sends
 * one header all its life, and the simulator runs many nodes in one process.
 */
const headerCache = new WeakMap<PacketHeader, { cluster: string; from: NodeId; bytes: Uint8Array }>();

function headerBytes(header: PacketHeader): Uint8Array {
  const cached = headerCache.get(header);
  if (cached && cached.cluster === header.cluster && cached.from === header.from) return cached.bytes;
  if (!clusterValidator.Check(header.cluster)) throw new WireEncodeError(`bad cluster name ${JSON.stringify(header.cluster)}`);
  if (!isNodeId(header.from)) throw new WireEncodeError(`bad sender id ${JSON.stringify(header.from)}`);
  const parts = [encoder.encode(PROTOCOL_VERSION), encoder.encode(header.cluster), encoder.encode(header.from)];
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) bytes.set(p, pos), (pos += p.length);
  headerCache.set(header, { cluster: header.cluster, from: header.from, bytes });
  return bytes;
}

/** Bytes a datagram of `messageCount` messages spends besides the messages themselves. */
export function packetOverhead(header: PacketHeader, messageCount: number): number {
  if (!Number.isSafeInteger(messageCount) || messageCount < 0) throw new WireEncodeError(`bad message count ${messageCount}`);
  return arrayHeadBytes(3 + messageCount) + headerBytes(header).length;
}

/**
 * The datagram carrying `encodedMessages` (each from `encodeMessage`), in
 * order, without re-encoding them. Throws WireEncodeError past
 * LIMITS.maxMessagesPerPacket or LIMITS.maxDatagramBytes, or when the
 * receiver's gate would refuse it: what we send, we must accept. (At the
 * default 1400-byte budget the gate's counts cannot be reached; datagrams
 * of many KiB full of non-ASCII names can.)
 */
export function assemblePacket(header: PacketHeader, encodedMessages: readonly Uint8Array[]): Uint8Array {
  const count = encodedMessages.length;
  if (count > LIMITS.maxMessagesPerPacket) throw new WireEncodeError(`${count} messages exceed ${LIMITS.maxMessagesPerPacket} per packet`);
  const head = headerBytes(header);
  let total = arrayHeadBytes(3 + count) + head.length;
  for (const m of encodedMessages) total += m.length;
  if (total > LIMITS.maxDatagramBytes) throw new WireEncodeError(`a ${total}-byte datagram exceeds ${LIMITS.maxDatagramBytes} bytes`);
  const out = packetBytes.alloc(total);
  let pos = writeArrayHead(out, 3 + count);
  out.set(head, pos);
  pos += head.length;
  for (const m of encodedMessages) out.set(m, pos), (pos += m.length);
  const verdict = scanCbor(out, GUARD_LIMITS);
  if (verdict !== 'ok') throw new WireEncodeError(`the datagram would be refused as ${verdict} (LIMITS.maxCbor*)`);
  return out;
}

/** Where datagrams are carved from (byte-slab.ts: a fresh array per datagram was a few % of a simulated hour). */
const packetBytes = new ByteSlab(64 * 1024);

/** One datagram carrying `messages`; throws WireEncodeError as `encodeMessage` and `assemblePacket` do. */
export function encodePacket(header: PacketHeader, messages: readonly Message[]): Uint8Array {
  return assemblePacket(header, messages.map(encodeMessage));
}

/**
 * Splits `encodedMessages` into as few datagrams as possible, each at most
 * `budgetBytes`, keeping their order. Greedy filling is optimal here: the
 * datagrams hold consecutive runs, and a run that fits still fits with a
 * message removed, so taking the longest run that fits never costs a
 * datagram later. Throws MessageTooLargeError when one message cannot fit
 * on its own (our own code built a message too big for the budget).
 */
export function packMessages(header: PacketHeader, encodedMessages: readonly Uint8Array[], budgetBytes: number): Uint8Array[] {
  if (!Number.isSafeInteger(budgetBytes) || budgetBytes < 1 || budgetBytes > LIMITS.maxDatagramBytes) {
    throw new WireEncodeError(`datagram budget ${budgetBytes} is not in 1..${LIMITS.maxDatagramBytes}`);
  }
  const headBytes = headerBytes(header).length;
  const datagrams: Uint8Array[] = [];
  let start = 0;
  while (start < encodedMessages.length) {
    let end = start;
    let bodyBytes = 0;
    while (end < encodedMessages.length && end - start < LIMITS.maxMessagesPerPacket) {
      const next = bodyBytes + encodedMessages[end]!.length;
      if (arrayHeadBytes(3 + end - start + 1) + headBytes + next > budgetBytes) break;
      bodyBytes = next;
      end++;
    }
    if (end === start) throw new MessageTooLargeError(arrayHeadBytes(4) + headBytes + encodedMessages[start]!.length, budgetBytes);
    datagrams.push(assemblePacket(header, encodedMessages.slice(start, end)));
    start = end;
  }
  return datagrams;
}

// ---------------------------------------------------------------- decoding

const fail = (reason: DecodeFailure): DecodeResult => ({ ok: false, reason });

/** Decodes and checks one datagram from anyone; `{ ok: false, reason }` for anything but a valid packet of our cluster. Never throws. */
export function decodePacket(bytes: Uint8Array, expectedCluster: string): DecodeResult {
  try {
    return decodeUntrusted(bytes, expectedCluster);
  } catch {
    // Nothing below throws by construction (the fuzz test holds it to that);
    // should a bug prove otherwise, a stranger's datagram still must not crash the daemon.
    return fail('internal-error');
  }
}

function decodeUntrusted(bytes: Uint8Array, expectedCluster: string): DecodeResult {
  if (!(bytes instanceof Uint8Array)) return fail('malformed');
  if (bytes.length > LIMITS.maxDatagramBytes) return fail('too-large');
  const verdict = scanCbor(bytes, GUARD_LIMITS);
  if (verdict !== 'ok') return fail(verdict === 'forbidden' ? 'forbidden-cbor' : 'malformed');
  let root: unknown;
  try {
    root = decoder.decode(bytes);
  } catch {
    return fail('malformed');
  }
  if (!Array.isArray(root) || root.length === 0) return fail('malformed');
  // The version comes first: a later version may change everything after it.
  if (root[0] !== PROTOCOL_VERSION) return fail('bad-version');
  if (root.length < 3) return fail('malformed');
  if (root[1] !== expectedCluster) return fail('foreign-cluster');
  const from: unknown = root[2];
  if (!isNodeId(from) || root.length - 3 > LIMITS.maxMessagesPerPacket) return fail('bad-schema');

  const messages: Message[] = [];
  let unknownMessages = 0;
  for (let i = 3; i < root.length; i++) {
    const wire: unknown = root[i];
    if (!Array.isArray(wire) || !Number.isSafeInteger(wire[0]) || wire[0] < 0) return fail('bad-schema');
    const compiled = byId.get(wire[0] as number);
    if (!compiled) {
      unknownMessages++;
      continue;
    }
    if (!compiled.check(wire)) return fail('bad-schema');
    const message = compiled.fromWire(wire);
    if (compiled.rule && !compiled.rule(message)) return fail('bad-schema');
    messages.push(message);
  }
  return { ok: true, packet: { cluster: expectedCluster, from, messages }, unknownMessages };
}
