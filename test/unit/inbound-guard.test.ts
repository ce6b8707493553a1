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
import { KeyedCluster, credKeyHex, newCred, request } from './keyed-cluster.ts';

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
  g.authenticated(1000, src);
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

test('strangers are limited per IP: a flooder cycling ports gets no fresh burst', () => {
  const g = new InboundGuard();
  let ok = 0;
  for (let port = 1; port <= 1000; port++) ok += g.admit(0, address(`192.0.2.1:${port}`)) ? 1 : 0;
  assert.is(ok, DEFAULT_INBOUND_LIMITS.strangerBurst);
});

test('the trusted lane forgets the least recently used: a client that keeps talking outlives a crowd of one-shot runs', () => {
  const g = new InboundGuard({ ...DEFAULT_INBOUND_LIMITS, maxSources: 8 });
  const steady = at(1);
  g.authenticated(0, steady);
  for (let i = 2; i < 100; i++) {
    g.authenticated(0, at(i));
    assert.ok(g.admit(0, steady));
  }
  let ok = 0;
  for (let i = 0; i < 5000; i++) ok += g.admit(0, steady) ? 1 : 0;
  assert.is(ok, 5000, 'still in the wide lane');
});

test('review 4: client churn and a stranger flood never starve members: members have a lane of their own', () => {
  // The review's attack scaled down (64 sources, 500 strangers a second): more client runs than sources, then a flood.
  const limits = { maxSources: 64, strangersPerSecond: 500, strangersBurst: 100 };
  const c = new KeyedCluster();
  const a = c.add(0, {}, { inboundLimits: limits });
  c.add(1, {}, { inboundLimits: limits }).join(c.now, [KeyedCluster.addr(0)]);
  a.join(c.now, []);
  c.pump(5_000);
  const admin = newCred();
  a.handleDatagram(c.now, address('127.0.0.1:5000'), request('credentials.bootstrap', { id: admin.id, key: credKeyHex(admin) }, undefined, { timeMs: c.now }).bytes);
  for (let p = 0; p < 100; p++) a.handleDatagram(c.now, address(`10.0.0.50:${20000 + p}`), request('hello', {}, admin, { timeMs: c.now }).bytes);
  const junk = new Uint8Array(64).fill(7);
  let k = 0;
  for (; k < 200; k++) a.handleDatagram(c.now, address(`198.18.0.${k}:9`), junk); // the strangers' burst, spent at once
  c.pump(20_000, (now) => {
    for (let i = 0; i < 6; i++, k++) a.handleDatagram(now, address(`203.0.113.${k % 250}:${1000 + k}`), junk); // 600 a second
  });
  assert.ok((a.stats.dropped['rate-limited'] ?? 0) > 1_000, 'the flood was limited');
  for (const v of c.views()) assert.not.match(v, /suspect|dead/, 'A and B kept each other alive');
});

test('sealed junk under our key id: key derivations for unverified headers are rationed; members already known are unaffected', () => {
  const c = KeyedCluster.joined(2, 3_000, { config: { strangerDerivationsPerSecond: 100 } });
  const a = c.node(0);
  const keyId = a.security!.keyring.primary().id;
  const junk = (i: number) => {
    const d = new Uint8Array(120).fill(i & 0xff);
    d[0] = 0xc5;
    new DataView(d.buffer).setUint32(1, keyId);
    d[16] = 1; // a well-formed header: epoch and counter non-zero
    d[30] = 1;
    d[5] = i >> 8; // a new sender each time: no derived key to reuse
    return d;
  };
  const before = a.security!.packets.stats.opened;
  // 10,000 in a second, from 100 addresses: within the strangers' rate limits (their burst), so all reach security.
  c.pump(1_000, (now) => {
    for (let i = 0; i < 100; i++) a.handleDatagram(now, address(`203.0.113.${i}:9`), junk(i));
  });
  assert.is(a.stats.dropped['rate-limited'] ?? 0, 0);
  const d = a.stats.dropped;
  assert.ok((d['bad-seal'] ?? 0) <= 300, `${d['bad-seal']} derivations for 10,000 junk datagrams in 1 s (budget 100/s, burst 200)`);
  assert.ok((d['derive-limited'] ?? 0) >= 9_700, `${d['derive-limited']} refused before any cryptography`);
  assert.ok(a.security!.packets.stats.opened > before, 'the member kept talking');
  for (const v of c.views()) assert.not.match(v, /suspect|dead/);
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
