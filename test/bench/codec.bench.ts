/**
 * The wire codec's cost: encoding and decoding a typical gossip datagram, and
 * the worst time any input up to 64 KiB can make `decodePacket` spend, with
 * cbor-x's own decoding of a 64 KiB bignum (quadratic) as the baseline the
 * gate exists to beat. Run: `npm run bench -- codec`.
 */
import { Encoder, decode as cborxDecode } from 'cbor-x';
import { median, microsPerCall, type Bench } from './harness.ts';
import { assemblePacket, decodePacket, encodeMessage, encodePacket, type DecodeFailure } from '../../protocol/wire/codec.ts';
import { LIMITS, PROTOCOL_VERSION, type Message, type PacketHeader } from '../../protocol/wire/messages.ts';
import { address, nodeId } from '../../protocol/types.ts';

const CLUSTER = 'bench';
const FROM = nodeId('00000000000000aa');
const HEADER: PacketHeader = { cluster: CLUSTER, from: FROM };
const id = (i: number) => nodeId(i.toString(16).padStart(16, '0'));
const raw = (v: unknown): Uint8Array => new Uint8Array(new Encoder({ useRecords: false }).encode(v));
const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));
const taggedBytes = (tag: number, n: number): Uint8Array => {
  const b = new Uint8Array(6 + n).fill(0xff);
  b.set([0xc0 | tag, 0x5a, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
  return b;
};
const packetOf = (...wires: unknown[]): Uint8Array => raw([PROTOCOL_VERSION, CLUSTER, FROM, ...wires]);

/** A ping carrying six piggybacked membership updates: what most datagrams look like (~400 bytes). */
export const TYPICAL: Message[] = [
  { type: 'ping', seq: 48_213, target: id(7) },
  ...[1, 2, 3].map((i): Message => ({ type: 'alive', node: id(i), incarnation: 4 + i, name: `node-${i}.example.net`, addr: address(`10.0.0.${i}:7946`) })),
  { type: 'suspect', node: id(4), incarnation: 2, from: id(5) },
  { type: 'suspect', node: id(6), incarnation: 9, from: id(1) },
  { type: 'dead', node: id(8), incarnation: 1, from: id(8) },
];

/** The pushPull of the most members named `name(i)` that fits one datagram and the gate. */
function largestValidPacket(name: (i: number) => string): Uint8Array {
  const pushPull = (n: number): Message => ({
    type: 'pushPull', reqId: 1, join: false, reply: true, part: 0, parts: 1,
    members: Array.from({ length: n }, (_, i) => ({ node: id(i), name: name(i), addr: address(`node-${i}.example.net:7946`), incarnation: 2 ** 40 + i, state: 'alive' as const })),
  });
  const fits = (n: number) => {
    try {
      return encodePacket(HEADER, [pushPull(n)]).length > 0;
    } catch {
      return false; // over the datagram size or the gate's counts
    }
  };
  let members = 1;
  while (members < LIMITS.maxMembersPerPushPull && fits(members + 1)) members++;
  return encodePacket(HEADER, [pushPull(members)]);
}

/** The packet of the most unknown messages `message(i)` that the codec still accepts (the item and byte limits bite first). */
function flood(message: unknown): Uint8Array {
  const make = (n: number) => packetOf(...Array.from({ length: n }, () => message));
  let lo = 1;
  let hi = LIMITS.maxMessagesPerPacket;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    const bytes = make(mid);
    if (bytes.length <= LIMITS.maxDatagramBytes && decodePacket(bytes, CLUSTER).ok) lo = mid;
    else hi = mid - 1;
  }
  return make(lo);
}

/** Inputs chosen to make a decoder work hard, each up to 64 KiB, with the outcome each must get. */
function adversarialInputs(): [string, Uint8Array, DecodeFailure | 'ok'][] {
  const many = (n: number, item: unknown) => Array.from({ length: n }, () => item);
  return [
    ['bignum tag 2, 64 KiB', taggedBytes(2, 65_000), 'forbidden-cbor'],
    ['bignum tag 3, 64 KiB', taggedBytes(3, 65_000), 'forbidden-cbor'],
    ['bignum tag 2 as a counter', concat(new Uint8Array([0x84]), raw(PROTOCOL_VERSION), raw(CLUSTER), raw(FROM), new Uint8Array([0x83, 0x01]), taggedBytes(2, 65_000), raw(id(1))), 'forbidden-cbor'],
    ['arrays nested 64 KiB deep', concat(new Uint8Array(65_000).fill(0x81), new Uint8Array(1)), 'forbidden-cbor'],
    ['64 KiB of one-byte items', packetOf(...many(16, [200, ...many(4060, 0)])), 'forbidden-cbor'],
    ['largest valid pushPull, 128-char ASCII names', largestValidPacket(() => 'n'.repeat(LIMITS.maxNodeNameLength)), 'ok'],
    ['largest valid pushPull, 32-char non-ASCII names', largestValidPacket(() => 'ü'.repeat(32)), 'ok'],
    ['unknown messages of integers, most items accepted', flood([200, ...many(28, 0)]), 'ok'],
    ['unknown messages of empty arrays, most items accepted', flood([200, ...many(28, [])]), 'ok'],
    ['unknown messages of float64s, most items accepted', flood([200, ...many(28, 0.1)]), 'ok'],
    ['unknown messages of one-char strings, most strings accepted', flood([200, ...many(28, 'a')]), 'ok'],
    ['unknown messages of 4-char non-ASCII strings, most accepted', flood([200, ...many(28, 'éééé')]), 'ok'],
    ['unknown messages of 12-char non-ASCII strings, most accepted', flood([200, ...many(28, 'é'.repeat(12))]), 'ok'],
    ['unknown messages of emoji strings, most accepted', flood([200, ...many(28, '😀😀')]), 'ok'],
    ['unknown messages of non-ASCII strings and empty arrays, most accepted', flood([200, ...many(14, 'éééé'), ...many(14, [])]), 'ok'],
    ['unknown messages of 8-char strings and empty arrays, most accepted', flood([200, ...many(14, 'abcdefgh'), ...many(14, [])]), 'ok'],
    ['maps of 60 keys (no message has maps)', packetOf(...many(60, [200, Object.fromEntries(many(60, 0).map((_, i) => [`k${i}`, i]))])), 'forbidden-cbor'],
    ['one non-ASCII string at the byte limit', packetOf([200, 'é'.repeat(LIMITS.maxCborNonAsciiTextBytes / 2)]), 'ok'],
    ['non-ASCII strings at both limits, the rest empty arrays', atEveryLimit(), 'ok'],
    ['one 64 KB ASCII string', packetOf([200, 'a'.repeat(64_000)]), 'ok'],
    ['fan-out 4 at depth 5', packetOf([200, nest(4)]), 'ok'],
    ['64 KiB of random bytes', Uint8Array.from({ length: 65_000 }, (_, i) => (i * 2_654_435_761) >>> 24), 'malformed'],
    ['just over the size limit', new Uint8Array(LIMITS.maxDatagramBytes + 1), 'too-large'],
  ];
}

/** Non-ASCII strings at both limits (one long, the rest one 'é' each), then empty arrays up to ~3,500 items. */
function atEveryLimit(): Uint8Array {
  const many = (n: number, item: unknown) => Array.from({ length: n }, () => item);
  const short = LIMITS.maxCborNonAsciiTextStrings - 1;
  const long = 'é'.repeat((LIMITS.maxCborNonAsciiTextBytes - 2 * short) / 2);
  return packetOf([200, long], ...many(short / 5, [200, ...many(5, 'é')]), ...many(16, [200, ...many(200, [])]));
}

function nest(depth: number): unknown {
  return depth === 0 ? [1, 2, 3, 4] : [nest(depth - 1), nest(depth - 1), nest(depth - 1), nest(depth - 1)];
}

const benches: Bench[] = [
  {
    name: 'codec: typical datagram',
    run(record) {
      const encoded = TYPICAL.map(encodeMessage);
      const bytes = encodePacket(HEADER, TYPICAL);
      record({ name: 'codec: typical datagram size', value: bytes.length, unit: 'bytes' });
      record({ name: 'codec: encode typical datagram (7 messages)', value: microsPerCall(() => encodePacket(HEADER, TYPICAL)), unit: 'µs' });
      record({ name: 'codec: assemble typical datagram from encoded messages', value: microsPerCall(() => assemblePacket(HEADER, encoded)), unit: 'µs' });
      record({ name: 'codec: decode typical datagram (7 messages)', value: microsPerCall(() => decodePacket(bytes, CLUSTER)), unit: 'µs' });
    },
  },
  {
    name: 'codec: worst case',
    run(record) {
      let worst = 0;
      for (const [what, bytes, want] of adversarialInputs()) {
        const got = decodePacket(bytes, CLUSTER);
        const reason = got.ok ? 'ok' : got.reason;
        if (reason !== want) throw new Error(`${what}: expected ${want}, got ${reason}`);
        const us = microsPerCall(() => decodePacket(bytes, CLUSTER), 150);
        worst = Math.max(worst, us);
        record({ name: `codec: decode ${what} (${bytes.length} B, ${reason})`, value: us, unit: 'µs' });
      }
      // The baseline: cbor-x's own decoder on the 64 KiB bignum; slow by design, so three runs.
      const bignum = taggedBytes(2, 65_000);
      const baseline = median([0, 1, 2].map(() => {
        const t0 = performance.now();
        cborxDecode(bignum);
        return (performance.now() - t0) * 1000;
      }));
      record({ name: 'codec: worst decode/reject of any input up to 64 KiB', value: worst, unit: 'µs', baseline, goal: 1000 });
    },
  },
];

export default benches;
