/**
 * Fuzzing (fast-check) of everything that reads bytes from the network:
 * the packet and message decoder, the sealed-datagram and client envelope
 * parsers, and whole nodes, keyed and plain, fed arbitrary and mutated
 * datagrams. 100,000 cases in all (120,000 datagrams decoded); a failure prints fast-check's seed and
 * path (replay: FUZZ_SEED=<seed>). Nothing may throw, nothing unauthentic
 * may be taken, and what decodes must encode back to itself.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { ClusterNode } from '../../protocol/node.ts';
import { SeededRng } from '../../protocol/rng.ts';
import { decodePacket, encodePacket } from '../../protocol/wire/codec.ts';
import type { Message } from '../../protocol/wire/messages.ts';
import { address, nodeId, type Address } from '../../protocol/types.ts';
import { parseSealedHeader, SEALED_V1 } from '../../protocol/security/envelope.ts';
import { openAnswer, parseRequestHeader, CLIENT_ANSWER_V1, CLIENT_REQUEST_V1 } from '../../protocol/security/client-envelope.ts';
import { keyIdOf } from '../../protocol/security/keyring.ts';
import { nodeCrypto } from '../../daemon/node-crypto.ts';

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() % 2 ** 31;
const KEY = new Uint8Array(32).fill(0x5a);
const KEY_ID = keyIdOf(nodeCrypto, KEY);
const CLUSTER = 'contacts';
const FROM = nodeId('0123456789abcdef');
const unlimited = { strangerPerSecond: 1e9, strangerBurst: 1e9, strangersPerSecond: 1e9, strangersBurst: 1e9 };

/** Valid packets to mutate: a corpus of real messages. */
const corpus: Uint8Array[] = ([
  [{ type: 'ping', seq: 1, target: FROM }],
  [{ type: 'alive', node: FROM, incarnation: 3, name: 'n1', addr: address('10.0.0.1:7700') }],
  [{ type: 'pushPull', reqId: 1, join: true, reply: false, part: 0, parts: 1, members: [{ node: FROM, name: 'x', addr: address('10.0.0.2:1'), incarnation: 1, state: 'alive' }] }],
  [{ type: 'clientReq', reqId: 9, op: 'list', args: '{}' }],
  [{ type: 'keyStatus', node: FROM, version: 5, primary: KEY_ID, holds: [KEY_ID] }],
  [{ type: 'secDigest', digest: new Uint8Array(8) }],
  [{ type: 'secState', reply: false, primary: KEY_ID, primaryVersion: 1, primaryBy: FROM, keys: [{ id: KEY_ID, secret: KEY }], removed: [], creds: [], revoked: [] }],
  [{ type: 'frag', xid: 1, part: 0, parts: 2, bytes: new Uint8Array(10) }],
] as Message[][]).map((ms) => encodePacket({ cluster: CLUSTER, from: FROM }, ms));

/** Bytes worth throwing at a decoder: random, a valid packet mutated, or junk behind a kind byte we know. */
const arbDatagram = fc.oneof(
  fc.uint8Array({ maxLength: 1500 }),
  fc.tuple(fc.constantFrom(...corpus), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 8 }), fc.nat(), fc.boolean()).map(([base, flips, cut, truncate]) => {
    const b = Uint8Array.from(base);
    for (const [at, v] of flips) b[at % b.length] = v;
    return truncate ? b.subarray(0, cut % (b.length + 1)) : b;
  }),
  fc.tuple(fc.constantFrom(SEALED_V1, CLIENT_REQUEST_V1, CLIENT_ANSWER_V1, 0x83), fc.uint8Array({ maxLength: 300 }), fc.boolean()).map(([kind, rest, ourKey]) => {
    const b = Uint8Array.from([kind, ...rest]);
    if (ourKey && b.length >= 5) new DataView(b.buffer).setUint32(1, KEY_ID);
    return b;
  }),
);

const arbFrom = fc.tuple(fc.nat(255), fc.integer({ min: 1, max: 65535 })).map(([h, p]) => address(`10.9.0.${h}:${p}`) as Address);

test(`fuzz: the packet decoder, 50,000 cases (FUZZ_SEED=${SEED})`, () => {
  fc.assert(
    fc.property(arbDatagram, (bytes) => {
      const r = decodePacket(bytes, CLUSTER);
      assert.is.not(r.ok ? 'ok' : r.reason, 'internal-error');
      if (r.ok) assert.equal(decodePacket(encodePacket(r.packet, r.packet.messages), CLUSTER), { ok: true, packet: r.packet, unknownMessages: 0 });
    }),
    { numRuns: 50_000, seed: SEED },
  );
});

test(`fuzz: envelope parsers and the client's answer opener, 30,000 cases (FUZZ_SEED=${SEED})`, () => {
  const cache = new Map();
  fc.assert(
    fc.property(arbDatagram, (bytes) => {
      const h = parseSealedHeader(bytes);
      if (h) assert.ok(h.epoch >= 1 && h.counter >= 1);
      parseRequestHeader(bytes);
      // A client without the server's answer key takes nothing sealed; plain answers only when anonymous.
      const opened = openAnswer(nodeCrypto, KEY, bytes, cache);
      assert.ok(opened.kind !== 'packet', 'an answer opened without its key');
    }),
    { numRuns: 30_000, seed: SEED + 1 },
  );
});

test(`fuzz: whole nodes, keyed and plain, 20,000 cases (each datagram to both) (FUZZ_SEED=${SEED})`, () => {
  const keyed = new ClusterNode({
    id: nodeId('00000000000000a1'), addr: address('10.0.0.1:7700'), rng: new SeededRng(SEED), now: 0, inboundLimits: unlimited,
    security: { crypto: nodeCrypto, epoch: 1, keyFileKey: KEY },
  });
  const plain = new ClusterNode({ id: nodeId('00000000000000a2'), addr: address('10.0.0.2:7700'), rng: new SeededRng(SEED), now: 0, inboundLimits: unlimited });
  for (const n of [keyed, plain]) n.join(0, []);
  let now = 0;
  fc.assert(
    fc.property(arbDatagram, arbFrom, (bytes, from) => {
      now += 10;
      keyed.handleDatagram(now, from, bytes);
      plain.handleDatagram(now, from, bytes);
      while (keyed.pollTransmit());
      while (plain.pollTransmit());
      while (keyed.pollEvent());
      while (plain.pollEvent());
    }),
    { numRuns: 20_000, seed: SEED + 2 },
  );
  // Nothing forged got in: the keyed node opened no sealed datagram and knows no member but itself.
  assert.is(keyed.security!.packets.stats.opened, 0);
  assert.is(keyed.membership.members().length, 1);
  assert.equal(keyed.security!.keyring.ids(), [KEY_ID]);
});

test.run();
