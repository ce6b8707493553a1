/**
 * Fuzzing (fast-check) of everything that reads bytes from the network:
 * the packet and message decoder, the sealed-datagram and client envelope
 * parsers, and whole nodes, keyed and plain, fed arbitrary and mutated
 * datagrams, and a keyed node fed mutated packets under a valid seal (what
 * only a key holder can send: the handlers behind the tag). 110,000 cases
 * in all (130,000 datagrams decoded). The seed is printed at the start
 * (replay: FUZZ_SEED=<seed>); a failure also prints fast-check's path.
 * Nothing may throw, nothing unauthentic may be taken, what decodes must
 * encode back to itself, and a node fed sealed junk still works.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { ClusterNode } from '../../protocol/node.ts';
import { SeededRng } from '../../protocol/rng.ts';
import { decodePacket, encodePacket } from '../../protocol/wire/codec.ts';
import type { Message } from '../../protocol/wire/messages.ts';
import { address, nodeId, type Address, type NodeId } from '../../protocol/types.ts';
import { parseSealedHeader, SEALED_V1 } from '../../protocol/security/envelope.ts';
import { openAnswer, parseRequestHeader, CLIENT_ANSWER_V1, CLIENT_REQUEST_V1 } from '../../protocol/security/client-envelope.ts';
import { Keyring, keyIdOf } from '../../protocol/security/keyring.ts';
import { PacketSecurity } from '../../protocol/security/packet-security.ts';
import { corpus as fuzzCorpus } from '../fuzz-datagrams.ts';
import { nodeCrypto } from '../../daemon/node-crypto.ts';

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() % 2 ** 31;
console.log(`fuzz: SEED=${SEED} (rerun with FUZZ_SEED=${SEED})`);
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

/** A packet of `packets` with a few bytes changed, perhaps cut short. */
const arbMutated = (packets: Uint8Array[]) =>
  fc.tuple(fc.constantFrom(...packets), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 8 }), fc.nat(), fc.boolean()).map(([base, flips, cut, truncate]) => {
    const b = Uint8Array.from(base);
    for (const [at, v] of flips) b[at % b.length] = v;
    return truncate ? b.subarray(0, cut % (b.length + 1)) : b;
  });

/** Bytes worth throwing at a decoder: random, a valid packet mutated, or junk behind a kind byte we know. */
const arbDatagram = fc.oneof(
  fc.uint8Array({ maxLength: 1500 }),
  arbMutated(corpus),
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

test(`fuzz: behind a valid seal, mutated packets of every kind from a member, 10,000 cases (FUZZ_SEED=${SEED})`, () => {
  const node = new ClusterNode({
    id: nodeId('00000000000000a1'), addr: address('10.0.0.1:7700'), rng: new SeededRng(SEED), now: 0, inboundLimits: unlimited,
    security: { crypto: nodeCrypto, epoch: 1, keyFileKey: KEY },
  });
  node.join(0, []);
  // Every kind of packet (test/fuzz-datagrams.ts, and ours), from one sender that holds the key.
  const packets = [...fuzzCorpus(new SeededRng(SEED + 3)), ...corpus];
  const member = (p: Uint8Array) => {
    const r = decodePacket(p, CLUSTER);
    return r.ok ? r.packet.from : undefined;
  };
  const senders = new Map<NodeId, PacketSecurity>();
  const ring = new Keyring();
  ring.install({ id: KEY_ID, secret: KEY });
  const sealer = (id: NodeId) => {
    let s = senders.get(id);
    if (!s) senders.set(id, (s = new PacketSecurity({ crypto: nodeCrypto, cluster: CLUSTER, self: id, epoch: 1, salt: new Uint8Array(8), keys: ring })));
    return s;
  };
  const to = address('10.0.0.1:7700');
  let now = 0;
  fc.assert(
    fc.property(fc.constantFrom(...packets), arbMutated(packets), fc.boolean(), (original, mutated, intact) => {
      now += 10;
      // Sealed by the sender the original names, so most get past the sender check and reach the handlers.
      const sender = member(original) ?? FROM;
      node.handleDatagram(now, address('10.0.0.9:7700'), sealer(sender).seal(to, intact ? original : mutated));
      if (now % 1000 === 0) node.handleTimeout(now);
      while (node.pollTransmit());
      while (node.pollEvent());
    }),
    { numRuns: 10_000, seed: SEED + 3 },
  );
  const opened = node.security!.packets.stats.opened;
  const bad = node.badInput();
  console.log(`fuzz behind the seal: ${opened} opened, ${bad.total} dropped after opening (${Object.entries(bad.byReason).filter(([, n]) => n > 0).map(([r, n]) => `${r} ${n}`).join(', ')})`);
  assert.is(opened, 10_000, 'every seal was valid');
  assert.is(bad.byReason['internal-error'], 0);
  // The node still works: its key is the primary, and a member's sealed ping is acked.
  assert.is(node.security!.keyring.primary().id, KEY_ID);
  const pinger = nodeId('00000000000000b7');
  node.handleDatagram(now + 10, address('10.0.0.7:7700'), sealer(pinger).seal(to, encodePacket({ cluster: CLUSTER, from: pinger }, [{ type: 'ping', seq: 99, target: node.id }])));
  let acked = false;
  for (let t = node.pollTransmit(); t; t = node.pollTransmit()) {
    const r = senders.get(pinger)!.open(to, t.bytes);
    if (r.ok) acked ||= decodePacket(r.packet, CLUSTER).ok;
  }
  assert.ok(acked, 'a sealed ping after the fuzz is still acked');
});

test.run();
