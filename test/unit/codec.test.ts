/**
 * The wire codec: round trips (fast-check), golden bytes, tables of hostile
 * and malformed datagrams, a seeded fuzz run, and datagram packing.
 * The fuzz run prints its seed; `SEED=n node --import tsx test/run.ts codec` replays it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Encoder, decode as cborxDecode } from 'cbor-x';
import { readFileSync, readdirSync } from 'node:fs';
import {
  assemblePacket, decodePacket, encodeMessage, encodePacket, memberStateBytes, packMessages, packetOverhead,
  MessageTooLargeError, WireEncodeError, type DecodeFailure, type DecodeResult,
} from '../../protocol/wire/codec.ts';
import { LIMITS, PROTOCOL_VERSION, type MemberState, type Message, type PacketHeader } from '../../protocol/wire/messages.ts';
import { scanCbor, type CborVerdict } from '../../protocol/wire/cbor-guard.ts';
import { writeCbor } from '../../protocol/wire/cbor-write.ts';
import { SeededRng } from '../../protocol/rng.ts';
import { ProtocolUsageError, address, nodeId, parseAddress, type Address, type NodeId } from '../../protocol/types.ts';

// ---------------------------------------------------------------- helpers and arbitraries

const CLUSTER = 'test';
const FROM = nodeId('00000000000000aa');
const TARGET = nodeId('0123456789abcdef');
const HEADER: PacketHeader = { cluster: CLUSTER, from: FROM };
const rawEncoder = new Encoder({ useRecords: false });
/** Plain CBOR of any value: how a stranger builds a hostile datagram. */
const raw = (v: unknown): Uint8Array => new Uint8Array(rawEncoder.encode(v));
const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));
/** A datagram of our cluster carrying the given raw message arrays. */
const packetOf = (...wires: unknown[]): Uint8Array => raw([PROTOCOL_VERSION, CLUSTER, FROM, ...wires]);
/** Tag `tag` around a byte string of `n` 0xff bytes: a bignum when tag is 2 or 3. */
const taggedBytes = (tag: number, n: number): Uint8Array => {
  const b = new Uint8Array(6 + n).fill(0xff);
  b.set([0xc0 | tag, 0x5a, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
  return b;
};
/** A ping packet whose seq is replaced by the raw CBOR item `item`. */
const pingWithSeqItem = (item: Uint8Array): Uint8Array =>
  concat(hex('84'), raw(PROTOCOL_VERSION), raw(CLUSTER), raw(FROM), hex('8301'), item, raw(TARGET));

const isEncodeError = (e: unknown): boolean => e instanceof WireEncodeError;
const reasonOf = (r: DecodeResult): DecodeFailure | 'ok' => (r.ok ? 'ok' : r.reason);

const arbNodeId = fc.stringMatching(/^[0-9a-f]{16}$/).map((s) => s as NodeId);
const arbPort = fc.integer({ min: 1, max: 65535 });
const arbAddress = fc
  .oneof(
    fc.tuple(fc.ipV4(), arbPort).map(([h, p]) => `${h}:${p}`),
    fc.tuple(fc.ipV6(), arbPort).map(([h, p]) => `[${h}]:${p}`),
    fc.tuple(fc.domain(), arbPort).map(([h, p]) => `${h}:${p}`),
  )
  .filter((a) => a.length <= LIMITS.maxAddressLength)
  .map((a) => a as Address);
const arbName = fc.string({ unit: 'binary', maxLength: LIMITS.maxNodeNameLength }).filter((s) => !/\p{Cc}/u.test(s));
const arbCounter = fc.maxSafeNat();
const arbU32 = fc.nat({ max: 0xffffffff });
const arbBytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const arbUnits = (unit: number) => fc.nat(40).chain((k) => arbBytes(k * unit, k * unit));
const rec = <T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }) => fc.record(model, { noNullPrototype: true });

const arbMember = rec<MemberState>({
  node: arbNodeId, name: arbName, addr: arbAddress, incarnation: arbCounter,
  state: fc.constantFrom('alive', 'suspect', 'dead', 'left'),
});

/** One arbitrary per message type; the type makes a new message without one a compile error. */
const ARB: { [T in Message['type']]: fc.Arbitrary<Extract<Message, { type: T }>> } = {
  ping: rec({ type: fc.constant('ping'), seq: arbCounter, target: arbNodeId }),
  pingReq: rec({ type: fc.constant('pingReq'), seq: arbCounter, target: arbNodeId, targetAddr: arbAddress, wantNack: fc.boolean() }),
  ack: rec({ type: fc.constant('ack'), seq: arbCounter }),
  nack: rec({ type: fc.constant('nack'), seq: arbCounter }),
  alive: rec({ type: fc.constant('alive'), node: arbNodeId, incarnation: arbCounter, name: arbName, addr: arbAddress }),
  suspect: rec({ type: fc.constant('suspect'), node: arbNodeId, incarnation: arbCounter, from: arbNodeId }),
  dead: rec({ type: fc.constant('dead'), node: arbNodeId, incarnation: arbCounter, from: arbNodeId }),
  pushPull: fc.integer({ min: 1, max: LIMITS.maxPushPullParts }).chain((parts) =>
    rec({
      type: fc.constant('pushPull'), reqId: arbCounter, join: fc.boolean(), reply: fc.boolean(),
      part: fc.integer({ min: 0, max: parts - 1 }), parts: fc.constant(parts),
      members: fc.array(arbMember, { maxLength: 8 }),
    }),
  ),
  rcHello: rec({ type: fc.constant('rcHello'), sid: arbU32, n: arbCounter, fp: arbBytes(16, 16) }),
  rcEqual: rec({ type: fc.constant('rcEqual'), sid: arbU32 }),
  rcDiffer: rec({ type: fc.constant('rcDiffer'), sid: arbU32, n: arbCounter, fp: arbBytes(16, 16), end: arbCounter, sym: arbUnits(12) }),
  rcEstimate: rec({ type: fc.constant('rcEstimate'), sid: arbU32, from: arbCounter, cells: arbBytes(0, LIMITS.maxEstimatorBytes) }),
  rcMore: fc.tuple(arbU32, fc.nat(1000), fc.integer({ min: 1, max: 1000 })).map(([sid, from, k]) => ({ type: 'rcMore' as const, sid, from, upTo: from + k })),
  rcSymbols: rec({ type: fc.constant('rcSymbols'), sid: arbU32, at: arbCounter, end: arbCounter, sym: arbUnits(12) }),
  rcList: fc.tuple(arbU32, fc.nat(1000), fc.integer({ min: 1, max: 1000 })).map(([sid, from, k]) => ({ type: 'rcList' as const, sid, from, upTo: from + k })),
  rcItems: rec({ type: fc.constant('rcItems'), sid: arbU32, at: arbCounter, end: arbCounter, items: arbUnits(8) }),
  rcDone: rec({ type: fc.constant('rcDone'), sid: arbU32 }),
  repState: rec({
    type: fc.constant('repState'), reply: fc.boolean(), full: fc.boolean(), batch: arbCounter, id: fc.stringMatching(/^[0-9A-HJKMNP-TV-Z]{26}$/),
    entries: fc.array(fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), fc.json({ maxDepth: 2 }).filter((j) => j.length <= 200), arbNodeId, arbCounter, arbCounter, arbCounter), { maxLength: 4 }),
    ctx: fc.array(rec({ origin: arbNodeId, ranges: fc.array(arbCounter, { maxLength: 6 }) }), { maxLength: 3 }),
    stable: fc.array(rec({ origin: arbNodeId, seq: arbCounter }), { maxLength: 3 }),
  }),
  repVv: rec({ type: fc.constant('repVv'), reply: fc.boolean(), batch: arbCounter, count: arbCounter, more: fc.boolean(), cursor: fc.stringMatching(/^[0-9A-Z]{0,26}$/), vv: fc.array(rec({ origin: arbNodeId, seq: arbCounter }), { maxLength: 5 }) }),
  repFetch: rec({ type: fc.constant('repFetch'), items: arbUnits(8) }),
  repAsk: rec({
    type: fc.constant('repAsk'), count: arbCounter, cursor: fc.stringMatching(/^[0-9A-Z]{0,26}$/), vv: fc.array(rec({ origin: arbNodeId, seq: arbCounter }), { maxLength: 5 }),
    held: fc.array(rec({ origin: arbNodeId, ranges: fc.array(arbCounter, { maxLength: 6 }) }), { maxLength: 3 }),
  }),
  frag: fc.integer({ min: 2, max: LIMITS.maxFragParts }).chain((parts) =>
    rec({ type: fc.constant('frag'), xid: arbU32, part: fc.integer({ min: 0, max: parts - 1 }), parts: fc.constant(parts), bytes: arbBytes(0, 200) })),
  clientReq: rec({ type: fc.constant('clientReq'), reqId: arbU32, op: fc.string({ unit: 'grapheme-ascii', maxLength: 16 }).filter((s) => !/\p{Cc}/u.test(s)), args: fc.json({ maxDepth: 2 }).filter((j) => j.length <= 200 && /^[\x20-\x7e]*$/.test(j)) }),
  clientRes: rec({ type: fc.constant('clientRes'), reqId: arbU32, ok: fc.boolean(), result: fc.json({ maxDepth: 2 }).filter((j) => j.length <= 200 && /^[\x20-\x7e]*$/.test(j)), cursor: fc.stringMatching(/^[0-9A-Z]{0,26}$/), more: fc.boolean() }),
  clientPush: rec({ type: fc.constant('clientPush'), sub: fc.stringMatching(/^[0-9a-f]{0,32}$/), seq: arbCounter, event: fc.json({ maxDepth: 2 }).filter((j) => j.length <= 200 && /^[\x20-\x7e]*$/.test(j)) }),
  secState: rec({
    type: fc.constant('secState'), reply: fc.boolean(), primary: arbU32, primaryVersion: arbCounter, primaryBy: arbNodeId,
    keys: fc.array(rec({ id: arbU32, secret: arbBytes(32, 32) }), { maxLength: 3 }),
    removed: fc.array(arbU32, { maxLength: 4 }),
    creds: fc.array(rec({ id: arbNodeId as fc.Arbitrary<string>, role: fc.constantFrom('read', 'write', 'admin'), key: arbBytes(32, 32), name: fc.stringMatching(/^[\x20-\x7e]{0,20}$/), created: arbCounter }), { maxLength: 3 }),
    revoked: fc.array(arbNodeId as fc.Arbitrary<string>, { maxLength: 3 }),
  }),
  secDigest: rec({ type: fc.constant('secDigest'), digest: arbBytes(8, 8) }),
  keyStatus: rec({ type: fc.constant('keyStatus'), node: arbNodeId, version: arbCounter, primary: arbU32, holds: fc.array(arbU32, { maxLength: 8 }) }),
};
const arbMessage: fc.Arbitrary<Message> = fc.oneof(...Object.values(ARB));
const arbHeader = rec<PacketHeader>({ cluster: fc.string({ unit: 'grapheme-ascii', maxLength: 64 }).filter((s) => !/\p{Cc}/u.test(s)), from: arbNodeId });

const ping = (seq = 1): Message => ({ type: 'ping', seq, target: TARGET });
const alive = (name = 'n1'): Message => ({ type: 'alive', node: TARGET, incarnation: 3, name, addr: address('10.0.0.1:7700') });

// ---------------------------------------------------------------- round trips

for (const [type, arb] of Object.entries(ARB)) {
  test(`round trip: ${type}`, () => {
    fc.assert(
      fc.property(arb as fc.Arbitrary<Message>, (m) => {
        const r = decodePacket(encodePacket(HEADER, [m]), CLUSTER);
        assert.equal(r, { ok: true, packet: { ...HEADER, messages: [m] }, unknownMessages: 0 });
      }),
      { numRuns: 300 },
    );
  });
}

test('round trip: whole packets, and assembling equals encoding', () => {
  fc.assert(
    fc.property(arbHeader, fc.array(arbMessage, { maxLength: 30 }), (header, messages) => {
      const bytes = encodePacket(header, messages);
      const encoded = messages.map(encodeMessage);
      assert.equal(toHex(assemblePacket(header, encoded)), toHex(bytes));
      assert.is(bytes.length, packetOverhead(header, messages.length) + encoded.reduce((n, m) => n + m.length, 0));
      assert.equal(decodePacket(bytes, header.cluster), { ok: true, packet: { ...header, messages }, unknownMessages: 0 });
    }),
    { numRuns: 300 },
  );
});

test('the hand-written array header is plain CBOR at every size boundary', () => {
  const one = encodeMessage(ping());
  for (const n of [0, 1, 20, 21, 22, 252, 253, 256]) {
    const bytes = assemblePacket(HEADER, Array(n).fill(one));
    const plain = cborxDecode(bytes) as unknown[];
    assert.is(plain.length, 3 + n, `n=${n}`);
    assert.equal(plain.slice(0, 3), [PROTOCOL_VERSION, CLUSTER, FROM]);
    assert.is(bytes.length, packetOverhead(HEADER, n) + n * one.length);
  }
});

test('golden bytes: the wire layout does not drift', () => {
  // [1, 1, "0123456789abcdef"]
  assert.is(toHex(encodeMessage(ping())), '830101' + '70' + toHex(Buffer.from(TARGET)));
  // [5, node, 3, "n1", "10.0.0.1:7700"]
  assert.is(toHex(encodeMessage(alive())), '8505' + '70' + toHex(Buffer.from(TARGET)) + '03' + '626e31' + '6d' + toHex(Buffer.from('10.0.0.1:7700')));
  // pushPull members as [node, name, addr, incarnation, stateNumber]
  const pp: Message = { type: 'pushPull', reqId: 9, join: true, reply: false, part: 0, parts: 1, members: [{ node: TARGET, name: '', addr: address('h:1'), incarnation: 0, state: 'left' }] };
  assert.equal(cborxDecode(encodeMessage(pp)), [8, 9, true, false, 0, 1, [[TARGET, '', 'h:1', 0, 3]]]);
  // [1, "test", from, ack]
  assert.is(toHex(encodePacket(HEADER, [{ type: 'ack', seq: 7 }])), '84' + '01' + '6474657374' + '70' + toHex(Buffer.from(FROM)) + '820307');
});

test('every address the schema accepts, parseAddress accepts', () => {
  fc.assert(fc.property(arbAddress, (a) => assert.ok(parseAddress(a), a)));
});

// ---------------------------------------------------------------- refusing to encode

test('our CBOR writer writes the bytes cbor-x writes, and declines what is outside its subset', () => {
  const cborx = new Encoder({ useRecords: false, tagUint8Array: false });
  const wellFormed = fc.string({ unit: fc.oneof(fc.constantFrom('a', 'é', '中', '\u{1F600}'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })), maxLength: 300 });
  const arbItem = fc.letrec((tie) => ({
    v: fc.oneof(
      { depthSize: 'small' },
      wellFormed,
      fc.boolean(),
      fc.nat(),
      fc.constantFrom(0, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 1_764_000_000_000, Number.MAX_SAFE_INTEGER),
      fc.uint8Array({ maxLength: 300 }),
      fc.array(tie('v'), { maxLength: 30 }),
    ),
  })).v;
  fc.assert(fc.property(arbItem, (v) => assert.equal(toHex(writeCbor(v)!), toHex(new Uint8Array(cborx.encode(v))))), { numRuns: 500 });
  for (const v of [-1, 1.5, null, undefined, { a: 1 }, [1, [2, -3]], new Map()]) assert.is(writeCbor(v), undefined, `declines ${String(v)}`);
});

test('memberStateBytes is exactly what one more member adds to an encoded push/pull', () => {
  fc.assert(fc.property(fc.array(arbMember, { minLength: 1, maxLength: 30 }), (members) => {
    const head = { type: 'pushPull', reqId: 7, join: false, reply: true, part: 0, parts: 1 } as const;
    for (let k = 0; k < members.length; k++) {
      const before = encodeMessage({ ...head, members: members.slice(0, k) }).length;
      const after = encodeMessage({ ...head, members: members.slice(0, k + 1) }).length;
      // The list's head grows by a byte at 24 items; otherwise the entry's bytes are all that is added.
      assert.is(after - before - (k === 23 ? 1 : 0), memberStateBytes(members[k]!), JSON.stringify(members[k]));
    }
  }), { numRuns: 50 });
});

test('encoding a message that breaks its schema is a typed usage error', () => {
  const bad: unknown[] = [
    { type: 'ping', seq: -1, target: TARGET },
    { type: 'ping', seq: 1.5, target: TARGET },
    { type: 'ping', seq: 2 ** 53, target: TARGET },
    { type: 'ping', seq: 1, target: 'ABCDEF0123456789' },
    { type: 'ping', seq: 1 },
    alive('x'.repeat(LIMITS.maxNodeNameLength + 1)),
    alive('evil\x1b[2J'),
    alive('lone \ud800 surrogate'),
    { ...alive(), addr: '10.0.0.1' },
    { type: 'pushPull', reqId: 1, join: false, reply: false, part: 1, parts: 1, members: [] },
    { type: 'pushPull', reqId: 1, join: false, reply: false, part: 0, parts: 1, members: [{ node: TARGET, name: 'a', addr: 'h:1', incarnation: 0, state: 'gone' }] },
    { type: 'pushPull', reqId: 1, join: false, reply: false, part: 0, parts: 1, members: 'nope' },
    { type: 'gossip', seq: 1 },
    null,
  ];
  for (const m of bad) {
    assert.throws(() => encodeMessage(m as Message), (e: unknown) => e instanceof WireEncodeError && e instanceof ProtocolUsageError, JSON.stringify(m));
  }
  assert.throws(() => encodePacket({ cluster: 'x', from: 'nope' as NodeId }, []), isEncodeError);
  assert.throws(() => encodePacket({ cluster: 'a\nb', from: FROM }, []), isEncodeError);
  assert.throws(() => assemblePacket(HEADER, Array(LIMITS.maxMessagesPerPacket + 1).fill(encodeMessage(ping()))), isEncodeError);
  // Valid messages, but more non-ASCII text than any receiver's gate lets through.
  assert.throws(() => encodePacket(HEADER, Array(240).fill(alive('é'.repeat(70)))), isEncodeError);
  assert.throws(() => assemblePacket(HEADER, [hex('c2 41 01')]), isEncodeError);
});

// ---------------------------------------------------------------- refusing to decode

const member = [TARGET, 'n', 'h:1', 0, 0];
const DECODE_TABLE: [string, Uint8Array, DecodeFailure | 'ok'][] = [
  ['a valid ping', packetOf([1, 1, TARGET]), 'ok'],
  ['a packet with no messages', packetOf(), 'ok'],
  ['wrong version', raw([2, CLUSTER, FROM, [1, 1, TARGET]]), 'bad-version'],
  ['version only', raw([1]), 'malformed'],
  ['a later version with another layout', raw([2]), 'bad-version'],
  ['foreign cluster', raw([1, 'other', FROM, [1, 1, TARGET]]), 'foreign-cluster'],
  ['cluster not a string', raw([1, 7, FROM, [1, 1, TARGET]]), 'foreign-cluster'],
  ['sender id uppercase', raw([1, CLUSTER, 'ABCDEF0123456789', [3, 1]]), 'bad-schema'],
  ['extra field', packetOf([1, 1, TARGET, 0]), 'bad-schema'],
  ['missing field', packetOf([1, 1]), 'bad-schema'],
  ['negative counter', packetOf([1, -1, TARGET]), 'bad-schema'],
  ['fractional counter', packetOf([1, 1.5, TARGET]), 'bad-schema'],
  ['counter past 2^53', packetOf([1, 2 ** 53, TARGET]), 'bad-schema'],
  ['NaN counter', packetOf([1, NaN, TARGET]), 'bad-schema'],
  ['Infinity counter', packetOf([3, Infinity]), 'bad-schema'],
  ['counter as a string', packetOf([3, '1']), 'bad-schema'],
  ['node id 15 chars', packetOf([1, 1, '0123456789abcde']), 'bad-schema'],
  ['node id 17 chars', packetOf([1, 1, '0123456789abcdef0']), 'bad-schema'],
  ['node id not hex', packetOf([1, 1, '0123456789abcdeg']), 'bad-schema'],
  ['name too long', packetOf([5, TARGET, 1, 'x'.repeat(129), 'h:1']), 'bad-schema'],
  ['name with a terminal escape', packetOf([5, TARGET, 1, '\x1b]0;pwned\x07', 'h:1']), 'bad-schema'],
  ['address too long', packetOf([5, TARGET, 1, 'n', 'a'.repeat(60) + '.com:1']), 'bad-schema'],
  ['address without port', packetOf([5, TARGET, 1, 'n', '10.0.0.1']), 'bad-schema'],
  ['address port 0', packetOf([5, TARGET, 1, 'n', '10.0.0.1:0']), 'bad-schema'],
  ['address port 65536', packetOf([5, TARGET, 1, 'n', '10.0.0.1:65536']), 'bad-schema'],
  ['flag not a boolean', packetOf([2, 1, TARGET, 'h:1', 1]), 'bad-schema'],
  ['part == parts', packetOf([8, 1, false, false, 1, 1, []]), 'bad-schema'],
  ['parts 0', packetOf([8, 1, false, false, 0, 0, []]), 'bad-schema'],
  ['too many members', packetOf([8, 1, false, false, 0, 1, Array(513).fill(member)]), 'bad-schema'],
  ['member with extra item', packetOf([8, 1, false, false, 0, 1, [[...member, 1]]]), 'bad-schema'],
  ['member state 4', packetOf([8, 1, false, false, 0, 1, [[TARGET, 'n', 'h:1', 0, 4]]]), 'bad-schema'],
  ['message not an array', packetOf(7), 'bad-schema'],
  ['empty message', packetOf([]), 'bad-schema'],
  ['type id negative', packetOf([-1, 1]), 'bad-schema'],
  ['type id a string', packetOf(['ping', 1, TARGET]), 'bad-schema'],
  ['a bad message condemns the good ones', packetOf([3, 1], [3, -1]), 'bad-schema'],
  ['too many messages', packetOf(...Array(257).fill([3, 1])), 'bad-schema'],
  ['a map where a field goes', packetOf([1, { seq: 1 }, TARGET]), 'forbidden-cbor'],
  ['a __proto__ map', concat(hex('84'), raw(1), raw(CLUSTER), raw(FROM), hex('8301'), hex('a1'), raw('__proto__'), hex('a1'), raw('polluted'), hex('f5'), raw(TARGET)), 'forbidden-cbor'],
  ['an empty map', packetOf([1, {}, TARGET]), 'bad-schema'],
  ['empty datagram', new Uint8Array(0), 'malformed'],
  ['not an array', raw('v'), 'malformed'],
  ['a map, not an array', raw({ v: 1 }), 'forbidden-cbor'],
  ['empty array', raw([]), 'malformed'],
  ['trailing byte', concat(packetOf([3, 1]), hex('00')), 'malformed'],
  ['two items', concat(packetOf([3, 1]), packetOf([3, 1])), 'malformed'],
  ['length past the end', hex('84 01 7a ffffffff'), 'malformed'],
  ['array count past the end', hex('99 0fff 01'), 'malformed'],
  ['array count past any limit', hex('9b 00000000 ffffffff'), 'forbidden-cbor'],
  ['reserved header value', hex('84 01 1c'), 'malformed'],
  ['stray break', hex('ff'), 'malformed'],
  ['64 KiB bignum (tag 2)', taggedBytes(2, 65_000), 'forbidden-cbor'],
  ['64 KiB negative bignum (tag 3)', taggedBytes(3, 65_000), 'forbidden-cbor'],
  ['bignum as a counter', pingWithSeqItem(taggedBytes(2, 60_000)), 'forbidden-cbor'],
  ['negative bignum as a counter', pingWithSeqItem(taggedBytes(3, 60_000)), 'forbidden-cbor'],
  ['nested arrays 100 deep', concat(new Uint8Array(100).fill(0x81), hex('00')), 'forbidden-cbor'],
  ['nested arrays 64 KiB deep', concat(new Uint8Array(65_000).fill(0x81), hex('00')), 'forbidden-cbor'],
  ['nested maps 64 KiB deep', concat(...Array(16_000).fill(hex('a1 61 61')), hex('00')), 'forbidden-cbor'],
  ['indefinite array', hex('9f 01 ff'), 'forbidden-cbor'],
  ['indefinite map in a message', pingWithSeqItem(hex('bf ff')), 'forbidden-cbor'],
  ['indefinite text', pingWithSeqItem(hex('7f 61 61 ff')), 'forbidden-cbor'],
  ['undefined', pingWithSeqItem(hex('f7')), 'forbidden-cbor'],
  ['simple value 16', pingWithSeqItem(hex('f0')), 'forbidden-cbor'],
  ['one-byte simple value', pingWithSeqItem(hex('f8 20')), 'forbidden-cbor'],
  ['8-byte negative integer (cbor-x misreads it)', pingWithSeqItem(hex('3b 00000000 80000000')), 'forbidden-cbor'],
  ['8-byte integer past 2^53', pingWithSeqItem(hex('1b 00200000 00000000')), 'forbidden-cbor'],
  ['map with an integer key', pingWithSeqItem(hex('a1 01 01')), 'forbidden-cbor'],
  ['too long an array', packetOf([200, ...Array(LIMITS.maxCborArrayLength).fill(0)]), 'forbidden-cbor'],
  ['too many items in all', packetOf(...Array(20).fill([200, ...Array(Math.ceil(LIMITS.maxCborItems / 20)).fill(0)])), 'forbidden-cbor'],
  ['too many non-ASCII strings', packetOf(...Array(20).fill([200, ...Array(Math.ceil((LIMITS.maxCborNonAsciiTextStrings + 1) / 20)).fill('é')])), 'forbidden-cbor'],
  ['too many non-ASCII bytes', packetOf([200, 'é'.repeat(LIMITS.maxCborNonAsciiTextBytes / 2 + 1)]), 'forbidden-cbor'],
  ['too many text strings in all', packetOf(...Array(20).fill([200, ...Array(Math.ceil(LIMITS.maxCborTextStrings / 20)).fill('s')])), 'forbidden-cbor'],
  ['datagram over the limit', new Uint8Array(LIMITS.maxDatagramBytes + 1), 'too-large'],
];
for (const [tag, hexTag] of [
  [0, 'c0 6a 323032342d30312d3031'], [1, 'c1 01'], [4, 'c4 82 01 01'], [5, 'c5 82 01 01'], [6, 'c6 01'],
  [28, 'd8 1c 01'], [29, 'd8 1d 01'], [51, 'd8 33 80'], [64, 'd8 40 41 00'], [258, 'd9 0102 80'],
  [259, 'd9 0103 a0'], [0xdff9, 'd9 dff9 80'], [0xdffe, 'd9 dffe 83 19e000 80 01'], [0xdfff, 'd9 dfff 84 19e001 81 6161 01'],
  [55799, 'd9 d9f7 01'], [2 ** 32, 'db 0000000100000000 01'],
] as const) {
  DECODE_TABLE.push([`tag ${tag} as a counter`, pingWithSeqItem(hex(hexTag)), 'forbidden-cbor']);
  DECODE_TABLE.push([`tag ${tag} around the packet`, concat(hex(hexTag.split(' ')[0]!), packetOf([3, 1])), 'forbidden-cbor']);
}

test('malformed and hostile datagrams: a typed reason each', () => {
  for (const [what, bytes, want] of DECODE_TABLE) assert.is(reasonOf(decodePacket(bytes, CLUSTER)), want, what);
  assert.is(({} as Record<string, unknown>)['polluted'], undefined, 'Object.prototype untouched');
});

test('the largest valid packets pass the gate', () => {
  const pushPull = (count: number, name: (i: number) => string): Message => ({
    type: 'pushPull', reqId: 1, join: false, reply: true, part: 4095, parts: 4096,
    members: Array.from({ length: count }, (_, i): MemberState => ({
      node: nodeId(i.toString(16).padStart(16, '0')), name: name(i), addr: address(`10.0.${i >> 8}.${i & 255}:7946`), incarnation: 2 ** 40, state: 'suspect',
    })),
  });
  const cases: Message[][] = [
    [pushPull(LIMITS.maxMembersPerPushPull, (i) => `node-${i}.example.net`)],
    [pushPull(LIMITS.maxCborNonAsciiTextStrings - 1, (i) => `bürö ${'ü'.repeat(i % 55)}`)],
    Array.from({ length: LIMITS.maxMessagesPerPacket }, () => alive('a-fairly-long-node-name.example.net')),
  ];
  for (const messages of cases) assert.ok(decodePacket(encodePacket(HEADER, messages), CLUSTER).ok);
});

test('the gate on its own: maps when allowed, text keys only, counts bounded', () => {
  const limits = { maxDepth: 4, maxArrayLength: 8, maxMapEntries: 2, maxItems: 20, maxTextStrings: 4, maxNonAsciiTextStrings: 2, maxNonAsciiTextBytes: 8 };
  const table: [string, Uint8Array, CborVerdict][] = [
    ['map with text keys', raw({ a: 1, b: [2] }), 'ok'],
    ['__proto__ key', concat(hex('a1'), raw('__proto__'), hex('a0')), 'ok'],
    ['integer key', hex('a1 01 01'), 'forbidden'],
    ['array key', hex('a1 80 01'), 'forbidden'],
    ['three entries', raw({ a: 1, b: 2, c: 3 }), 'forbidden'],
    ['depth 4', raw([[[[1]]]]), 'ok'],
    ['depth 5', raw([[[[[1]]]]]), 'forbidden'],
    ['map at depth 5', raw([[[[{}]]]]), 'forbidden'],
    ['9 items in an array', raw(Array(9).fill(0)), 'forbidden'],
    ['21 items in all', raw([Array(8).fill(0), Array(8).fill(0), [0, 0]]), 'forbidden'],
    ['5 text strings', raw(['a', 'b', 'c', 'd', 'e']), 'forbidden'],
    ['byte strings do not count as text', hex('85 40 40 40 40 40'), 'ok'],
    ['2 non-ASCII strings, 8 bytes', raw(['é', 'ééé', 'ascii']), 'ok'],
    ['3 non-ASCII strings', raw(['é', 'é', 'é']), 'forbidden'],
    ['9 non-ASCII bytes', raw(['é', 'éééa']), 'forbidden'],
    ['map entry count past the end', hex('a2 61 61 01'), 'malformed'],
    ['key without value', hex('a1 61 61'), 'malformed'],
    ['half, single and double floats', hex('83 f93c00 fa3fc00000 fb3ff8000000000000'), 'ok'],
    ['false true null', hex('83 f4 f5 f6'), 'ok'],
    ['largest safe 8-byte integer', hex('1b 001fffff ffffffff'), 'ok'],
  ];
  for (const [what, bytes, want] of table) assert.is(scanCbor(bytes, limits), want, what);
});

test('truncating a valid packet anywhere is malformed, never a crash', () => {
  const bytes = encodePacket(HEADER, [ping(), alive(), { type: 'pushPull', reqId: 1, join: true, reply: false, part: 0, parts: 1, members: [] }]);
  for (let n = 0; n < bytes.length; n++) assert.is(reasonOf(decodePacket(bytes.subarray(0, n), CLUSTER)), 'malformed', `cut at ${n}`);
});

test('not even bytes: malformed, not a throw', () => {
  for (const v of [null, undefined, 'text', 42, {}, [1, 2]]) assert.is(reasonOf(decodePacket(v as unknown as Uint8Array, CLUSTER)), 'malformed');
});

test('unknown message types are skipped, the rest kept and counted', () => {
  const r = decodePacket(packetOf([200, 'anything', [1, 2]], [3, 5], [999_999]), CLUSTER);
  assert.equal(r, { ok: true, packet: { ...HEADER, messages: [{ type: 'ack', seq: 5 }] }, unknownMessages: 2 });
  assert.equal(decodePacket(packetOf([200]), CLUSTER), { ok: true, packet: { ...HEADER, messages: [] }, unknownMessages: 1 });
});

test('cbor-x stays as it was for everyone else (no global extensions or limits)', () => {
  assert.is(cborxDecode(hex('c2 42 0100')), 256n);
});

test('protocol/wire does no I/O and reads no clock', () => {
  const dir = new URL('../../protocol/wire/', import.meta.url);
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const src = readFileSync(new URL(file, dir), 'utf8');
    assert.not.match(src, /from 'node:(?!crypto)|Date\.now|setTimeout|setInterval|Math\.random|performance\.now/, file);
  }
});

// ---------------------------------------------------------------- fuzz

const SEED = process.env.SEED ? Number(process.env.SEED) : Math.floor(Math.random() * 2 ** 31);

test(`fuzz: 20,000 random and mutated datagrams (SEED=${SEED})`, () => {
  console.log(`codec fuzz seed=${SEED} (replay: SEED=${SEED} node --import tsx test/run.ts codec)`);
  const rng = new SeededRng(SEED);
  const corpus = fc
    .sample(fc.tuple(arbHeader, fc.array(arbMessage, { minLength: 1, maxLength: 12 })), { seed: SEED, numRuns: 200 })
    .map(([h, ms]) => ({ cluster: h.cluster, bytes: encodePacket(h, ms) }));
  const INTERESTING = [0x00, 0x17, 0x18, 0x1b, 0x1f, 0x3b, 0x5a, 0x7f, 0x9f, 0x9b, 0xbf, 0xc2, 0xc3, 0xd9, 0xf7, 0xf9, 0xfb, 0xff];
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)]!;
  const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => rng.int(256));
  const mutate = (src: Uint8Array): Uint8Array => {
    const b = Uint8Array.from(src);
    switch (rng.int(7)) {
      case 0: for (let k = 1 + rng.int(8); k > 0; k--) b[rng.int(b.length)]! ^= 1 << rng.int(8); return b;
      case 1: for (let k = 1 + rng.int(4); k > 0; k--) b[rng.int(b.length)] = pick(INTERESTING); return b;
      case 2: return b.subarray(0, rng.int(b.length));
      case 3: { const other = pick(corpus).bytes; return concat(b.subarray(0, rng.int(b.length)), other.subarray(rng.int(other.length))); }
      case 4: { const at = rng.int(b.length); return concat(b.subarray(0, at), randomBytes(1 + rng.int(8)), b.subarray(at)); }
      case 5: { const at = rng.int(b.length); return concat(b.subarray(0, at), b.subarray(at + 1 + rng.int(8))); }
      default: { const at = rng.int(b.length); const len = rng.int(b.length - at); return concat(b.subarray(0, at + len), b.subarray(at)); }
    }
  };
  const seen = new Map<string, number>();
  for (let i = 0; i < 20_000; i++) {
    const base = pick(corpus);
    const kind = rng.int(10);
    const bytes = kind === 0 ? randomBytes(rng.int(rng.int(20) === 0 ? 65_536 : 256)) : kind === 1 ? mutate(mutate(base.bytes)) : mutate(base.bytes);
    let r: DecodeResult;
    try {
      r = decodePacket(bytes, base.cluster);
    } catch (err) {
      throw new Error(`seed ${SEED} case ${i}: decodePacket threw ${String(err)} on ${toHex(bytes).slice(0, 200)}`);
    }
    const reason = reasonOf(r);
    seen.set(reason, (seen.get(reason) ?? 0) + 1);
    assert.is.not(reason, 'internal-error', `seed ${SEED} case ${i}: ${toHex(bytes).slice(0, 200)}`);
    if (r.ok) {
      // Schema-valid means: it encodes again without complaint, to the same packet.
      const again = decodePacket(encodePacket(r.packet, r.packet.messages), base.cluster);
      assert.equal(again, { ok: true, packet: r.packet, unknownMessages: 0 }, `seed ${SEED} case ${i}`);
    }
  }
  console.log(`codec fuzz outcomes: ${JSON.stringify(Object.fromEntries(seen))}`);
});

// ---------------------------------------------------------------- packing

test('packMessages: within budget, each message once, in order, fewest datagrams', () => {
  fc.assert(
    fc.property(fc.array(arbMessage, { maxLength: 60 }), fc.integer({ min: 0, max: 1400 }), (messages, slack) => {
      const encoded = messages.map(encodeMessage);
      const largest = Math.max(0, ...encoded.map((m) => m.length));
      const budget = packetOverhead(HEADER, 1) + largest + slack;
      const datagrams = packMessages(HEADER, encoded, budget);
      const out: Message[] = [];
      for (const d of datagrams) {
        assert.ok(d.length <= budget, `${d.length} > ${budget}`);
        const r = decodePacket(d, CLUSTER);
        assert.ok(r.ok && r.packet.messages.length > 0);
        if (r.ok) out.push(...r.packet.messages);
      }
      assert.equal(out, messages);
      assert.is(datagrams.length, fewestDatagrams(encoded, budget));
    }),
    { numRuns: 200 },
  );
});

/** The optimum by dynamic programming over consecutive runs, to check the greedy packer against. */
function fewestDatagrams(encoded: Uint8Array[], budget: number): number {
  const best = [0];
  for (let end = 1; end <= encoded.length; end++) {
    best[end] = Infinity;
    let body = 0;
    for (let start = end - 1; start >= 0; start--) {
      body += encoded[start]!.length;
      if (packetOverhead(HEADER, end - start) + body > budget) break;
      best[end] = Math.min(best[end]!, best[start]! + 1);
    }
  }
  return best[encoded.length]!;
}

test('packMessages fills a datagram to the exact byte and splits past it', () => {
  const m = encodeMessage(ping());
  const exact = packetOverhead(HEADER, 3) + 3 * m.length;
  assert.is(packMessages(HEADER, [m, m, m], exact).length, 1);
  assert.is(packMessages(HEADER, [m, m, m], exact - 1).length, 2);
  assert.equal(packMessages(HEADER, [], 1400), []);
  const many = packMessages(HEADER, Array(600).fill(encodeMessage({ type: 'ack', seq: 1 })), LIMITS.maxDatagramBytes);
  assert.equal(many.map((d) => (decodePacket(d, CLUSTER) as { packet: { messages: unknown[] } }).packet.messages.length), [256, 256, 88]);
});

test('packMessages: a message larger than the budget is our bug, and says so', () => {
  const big = encodeMessage(alive('x'.repeat(LIMITS.maxNodeNameLength)));
  assert.throws(() => packMessages(HEADER, [encodeMessage(ping()), big], 100), (e: unknown) => e instanceof MessageTooLargeError && e.budgetBytes === 100);
  for (const budget of [0, -1, 1.5, LIMITS.maxDatagramBytes + 1]) assert.throws(() => packMessages(HEADER, [big], budget), isEncodeError);
});

test.run();
