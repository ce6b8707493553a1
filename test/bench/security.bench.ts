/**
 * What security costs: AES-256-GCM sealing and opening per datagram (real
 * node:crypto), bytes added, a datagram's whole way (encode, seal, open,
 * decode) with and without encryption, what a junk datagram under our own
 * key id costs a keyed node (with and without the derivation budget), a
 * client request and its answer, and the simulator's run time plain, with
 * its checksum stand-in, and with real GCM. Run: `npm run bench -- security`.
 */
import { microsPerCall, type Bench } from './harness.ts';
import { TYPICAL } from './codec.bench.ts';
import { decodePacket, encodePacket } from '../../protocol/wire/codec.ts';
import type { PacketHeader } from '../../protocol/wire/messages.ts';
import { address, nodeId } from '../../protocol/types.ts';
import { PacketSecurity } from '../../protocol/security/packet-security.ts';
import { Keyring, keyIdOf } from '../../protocol/security/keyring.ts';
import { SEAL_OVERHEAD_BYTES, SEALED_HEADER_BYTES } from '../../protocol/security/envelope.ts';
import { ANSWER_OVERHEAD_BYTES, REQUEST_HEADER_BYTES, answerKey, credentialKey, openAnswer, openRequest, sealAnswer, sealRequest } from '../../protocol/security/client-envelope.ts';
import { TAG_BYTES, type SecurityCrypto } from '../../protocol/security/crypto.ts';
import { nodeCrypto } from '../../daemon/node-crypto.ts';
import { ClusterNode } from '../../protocol/node.ts';
import { SeededRng } from '../../protocol/rng.ts';
import { simCrypto } from '../sim/sim-crypto.ts';
import { addStaggered, newCluster } from '../sim/membership-harness.ts';

const A = nodeId('00000000000000aa');
const B = nodeId('00000000000000bb');
const HEADER: PacketHeader = { cluster: 'bench', from: A };
const KEY = new Uint8Array(32).fill(7);

function pair(crypto: SecurityCrypto): { a: PacketSecurity; b: PacketSecurity } {
  const ring = new Keyring();
  const keyId = keyIdOf(crypto, KEY);
  ring.install({ id: keyId, secret: KEY });
  ring.use(keyId, A);
  const mk = (self: typeof A) => new PacketSecurity({ crypto, cluster: 'bench', self, epoch: 1, salt: new Uint8Array(8), keys: ring });
  return { a: mk(A), b: mk(B) };
}

const TO = address('10.0.0.2:7700');
const FROM = address('10.0.0.1:7700');

export default [
  {
    name: 'security: AES-256-GCM per datagram',
    run(record) {
      const { a, b } = pair(nodeCrypto);
      record({ name: `bytes added to a cluster datagram (header ${SEALED_HEADER_BYTES}, tag ${TAG_BYTES})`, value: SEAL_OVERHEAD_BYTES, unit: 'B' });
      record({ name: 'bytes added to a client request / answer', value: REQUEST_HEADER_BYTES + TAG_BYTES, unit: 'B', baseline: ANSWER_OVERHEAD_BYTES });
      for (const size of [100, 400, 1400 - SEAL_OVERHEAD_BYTES]) {
        const packet = new Uint8Array(size).fill(0x83);
        record({ name: `seal a ${size}-byte packet`, value: microsPerCall(() => a.seal(TO, packet)), unit: 'µs' });
        // Opening needs a fresh datagram each time (the window refuses a replay): seal a batch first.
        const batch = Array.from({ length: 50_000 }, () => a.seal(TO, packet));
        let k = 0;
        record({ name: `open a ${size}-byte packet`, value: microsPerCall(() => b.open(FROM, batch[k++ % batch.length]!), 200), unit: 'µs' });
      }
    },
  },
  {
    name: 'security: a typical datagram end to end, with and without encryption',
    run(record) {
      const plainUs = microsPerCall(() => decodePacket(encodePacket(HEADER, TYPICAL), 'bench'));
      const { a, b } = pair(nodeCrypto);
      const sealedUs = microsPerCall(() => {
        const r = b.open(FROM, a.seal(TO, encodePacket(HEADER, TYPICAL)));
        if (r.ok) decodePacket(r.packet, 'bench');
      });
      const sim = pair(simCrypto);
      const simUs = microsPerCall(() => {
        const r = sim.b.open(FROM, sim.a.seal(TO, encodePacket(HEADER, TYPICAL)));
        if (r.ok) decodePacket(r.packet, 'bench');
      });
      record({ name: 'encode + decode, plain', value: plainUs, unit: 'µs' });
      record({ name: 'encode + seal + open + decode, AES-256-GCM', value: sealedUs, unit: 'µs', baseline: plainUs });
      record({ name: 'throughput on one core, plain', value: Math.round(1e6 / plainUs), unit: 'datagrams/s' });
      record({ name: 'throughput on one core, AES-256-GCM', value: Math.round(1e6 / sealedUs), unit: 'datagrams/s', baseline: Math.round(1e6 / plainUs) });
      record({ name: 'encode + seal + open + decode, the simulator\'s stand-in', value: simUs, unit: 'µs', baseline: sealedUs });
    },
  },
  {
    name: 'security: what junk costs a keyed node',
    run(record) {
      // Sealed-looking junk under the node's own key id (anyone can copy it from a header), each from a new sender:
      // without a budget each cost a key derivation (HKDF and a key schedule) before its tag failed.
      const junkUs = (strangerDerivationsPerSecond: number): number => {
        const node = new ClusterNode({
          id: A, addr: FROM, rng: new SeededRng(1), now: 0, inboundLimits: { strangerPerSecond: 1e9, strangerBurst: 1e9, strangersPerSecond: 1e9, strangersBurst: 1e9 },
          security: { crypto: nodeCrypto, epoch: 1, keyFileKey: KEY, config: { strangerDerivationsPerSecond } },
        });
        const keyId = keyIdOf(nodeCrypto, KEY);
        const junk = Array.from({ length: 1024 }, (_, i) => {
          const d = new Uint8Array(120).fill(i & 0xff);
          d[0] = 0xc5;
          new DataView(d.buffer).setUint32(1, keyId);
          d[16] = 1;
          d[30] = 1;
          d[5] = i >> 8;
          return d;
        });
        let k = 0;
        return microsPerCall(() => {
          node.handleDatagram(1, TO, junk[k++ % junk.length]!);
          node.pollTransmit();
        });
      };
      const unrationed = junkUs(1e9);
      record({ name: 'sealed junk under our key id, every derivation allowed', value: unrationed, unit: 'µs' });
      record({ name: 'sealed junk under our key id, derivations rationed (the default)', value: junkUs(100), unit: 'µs', baseline: unrationed });
    },
  },
  {
    name: 'security: a client request and its answer',
    run(record) {
      const cred = '0123456789abcdef';
      const kc = credentialKey(nodeCrypto, cred, KEY);
      const packet = encodePacket(HEADER, [{ type: 'clientReq', reqId: 1, op: 'get', args: '{"id":"01HZZZZZZZZZZZZZZZZZZZZZZZ"}' }]);
      const nonce = new Uint8Array(12);
      const aead = nodeCrypto.aead(kc);
      const answerAead = nodeCrypto.aead(answerKey(nodeCrypto, kc, A, 1));
      let counter = 0;
      record({ name: 'client: seal a request', value: microsPerCall(() => sealRequest(nodeCrypto, { credential: cred, timeMs: 1, nonce }, kc, packet)), unit: 'µs' });
      const req = sealRequest(nodeCrypto, { credential: cred, timeMs: 1, nonce }, kc, packet);
      record({ name: 'server: open it (key by credential, cached AEAD)', value: microsPerCall(() => aead.open(req.subarray(15, 27), req.subarray(0, 27), req.subarray(27))), unit: 'µs' });
      record({ name: 'server: open it (AEAD built per request)', value: microsPerCall(() => openRequest(nodeCrypto.aead(kc), req)), unit: 'µs' });
      const answer = new Uint8Array(1200).fill(0x83);
      record({ name: 'server: seal a 1,200-byte answer', value: microsPerCall(() => sealAnswer(answerAead, nonce, A, 1, ++counter, answer)), unit: 'µs' });
      const sealed = sealAnswer(answerAead, nonce, A, 1, ++counter, answer);
      const cache = new Map();
      record({ name: 'client: open it', value: microsPerCall(() => openAnswer(nodeCrypto, kc, sealed, cache)), unit: 'µs' });
    },
  },
  {
    name: 'security: simulator run time, 50 nodes for 2 virtual minutes',
    run(record) {
      const run = (crypto: SecurityCrypto | undefined) => {
        const sim = newCluster({ seed: 1, quiet: true, security: crypto ? () => ({ crypto, keyFileKey: KEY }) : undefined });
        addStaggered(sim, 50, 3000);
        const t0 = performance.now();
        sim.runFor(120_000);
        return performance.now() - t0;
      };
      run(undefined); // warm up
      const plain = Math.min(run(undefined), run(undefined));
      const sim = Math.min(run(simCrypto), run(simCrypto));
      const gcm = Math.min(run(nodeCrypto), run(nodeCrypto));
      record({ name: 'plain', value: Math.round(plain), unit: 'ms' });
      record({ name: 'keyed, checksum stand-in (sim-crypto.ts)', value: Math.round(sim), unit: 'ms', baseline: Math.round(plain) });
      record({ name: 'keyed, real AES-256-GCM', value: Math.round(gcm), unit: 'ms', baseline: Math.round(plain) });
    },
  },
] satisfies Bench[];
