/**
 * Flood limits (protocol/security/inbound-guard.ts) and what a keyed node
 * does with junk: per-source and global buckets in bounded memory, the
 * trusted lane for sources that proved a key, no answer at all to what
 * fails authentication, and ping-reqs relayed only to members we know.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { InboundGuard, DEFAULT_INBOUND_LIMITS } from '../../protocol/security/inbound-guard.ts';
import { ClusterNode } from '../../protocol/node.ts';
import { SeededRng } from '../../protocol/rng.ts';
import { encodePacket } from '../../protocol/wire/codec.ts';
import { address, nodeId, type Address } from '../../protocol/types.ts';
import { nodeCrypto } from '../../daemon/node-crypto.ts';

const at = (i: number) => address(`10.1.${(i >> 8) & 255}.${i & 255}:${1000 + (i >> 16)}`);

test('one source: its burst, then its rate; a source that proved a key gets the wide lane', () => {
  const g = new InboundGuard();
  const src = at(1);
  let ok = 0;
  for (let i = 0; i < 1000; i++) ok += g.admit(0, src) ? 1 : 0;
  assert.is(ok, DEFAULT_INBOUND_LIMITS.strangerBurst);
  ok = 0;
  for (let i = 0; i < 1000; i++) ok += g.admit(1000, src) ? 1 : 0;
  assert.is(ok, DEFAULT_INBOUND_LIMITS.strangerPerSecond);
  g.authenticated(src);
  ok = 0;
  for (let i = 0; i < 5000; i++) ok += g.admit(1000, src) ? 1 : 0;
  assert.is(ok, 5000);
  assert.is(g.stats.limited, 600 + 800);
});

test('many sources: all strangers share one bucket, and memory stays bounded', () => {
  const g = new InboundGuard();
  let ok = 0;
  for (let i = 0; i < 100_000; i++) ok += g.admit(0, at(i)) ? 1 : 0;
  assert.is(ok, DEFAULT_INBOUND_LIMITS.strangersBurst);
  assert.ok(g.sources <= DEFAULT_INBOUND_LIMITS.maxSources * 2, `${g.sources} sources kept`);
});

test('a keyed node answers no unauthenticated datagram, relays probes only to members, and counts what it dropped', () => {
  const node = new ClusterNode({
    id: nodeId('00000000000000a1'), addr: address('10.0.0.1:7700'), rng: new SeededRng(1), now: 0,
    security: { crypto: nodeCrypto, epoch: 1, keyFileKey: new Uint8Array(32).fill(4) },
  });
  node.join(0, []);
  while (node.pollTransmit());
  const from = nodeId('0000000000000bad');
  const ping = encodePacket({ cluster: 'contacts', from }, [{ type: 'ping', seq: 1, target: node.id }]);
  const pingReq = encodePacket({ cluster: 'contacts', from }, [{ type: 'pingReq', seq: 2, target: nodeId('00000000000000c3'), targetAddr: address('192.0.2.99:53'), wantNack: false }]);
  const sealedJunk = Uint8Array.from([0xc5, ...new Uint8Array(80).fill(7)]);
  const datagrams = [ping, pingReq, sealedJunk, new Uint8Array([1, 2, 3])];
  for (let i = 0; i < 4000; i++) node.handleDatagram(1, at(i % 5) as Address, datagrams[i % 4]!);
  assert.is(node.pollTransmit(), undefined, 'not one byte in reply');
  const d = node.stats.dropped;
  assert.is((d['rate-limited'] ?? 0) + (d.unauthenticated ?? 0) + (d['unknown-key'] ?? 0), 4000);
  assert.is(d['rate-limited'], 4000 - 5 * DEFAULT_INBOUND_LIMITS.strangerBurst);
});

test('a ping-req naming anyone but a live member we know is not relayed: no probes of third parties', () => {
  const node = new ClusterNode({ id: nodeId('00000000000000a1'), addr: address('10.0.0.1:7700'), rng: new SeededRng(1), now: 0 });
  node.join(0, []);
  while (node.pollTransmit());
  const from = nodeId('00000000000000b2');
  const victim = address('192.0.2.99:53');
  for (const target of [nodeId('00000000000000c3'), node.id]) {
    node.handleDatagram(1, address('10.0.0.2:7700'), encodePacket({ cluster: 'contacts', from }, [{ type: 'pingReq', seq: 2, target, targetAddr: victim, wantNack: true }]));
  }
  for (let t = node.pollTransmit(); t; t = node.pollTransmit()) assert.is.not(t.to, victim);
});

test.run();
