/**
 * One regression test per finding of the security review of the merged
 * security work (what each finding's proof of concept did, replayed on a
 * few keyed nodes in process with the real AES-256-GCM): each failed before
 * its fix. Findings about client requests live in client-auth.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeMessage, encodePacket } from '../../protocol/wire/codec.ts';
import type { Message, SecState } from '../../protocol/wire/messages.ts';
import { ClusterNode, type NodeEvent } from '../../protocol/node.ts';
import { Keyring, keyIdOf } from '../../protocol/security/keyring.ts';
import { parseSealedHeader, SEALED_V1 } from '../../protocol/security/envelope.ts';
import type { KeyAlert } from '../../protocol/security/security-service.ts';
import { SeededRng } from '../../protocol/rng.ts';
import { address, nodeId, type Address } from '../../protocol/types.ts';
import { nodeCrypto } from '../../daemon/node-crypto.ts';
import { KEY, KeyedCluster, T0, answersTo, code, request } from './keyed-cluster.ts';

/** `msgs` sealed by `from` for `to`, as `from` would send them. */
function sealedBy(from: ClusterNode, to: ClusterNode, toAddr = KeyedCluster.addr(0), msgs: Message[] = []): Uint8Array {
  return from.security!.packets.seal(toAddr, encodePacket({ cluster: 'contacts', from: from.id }, msgs));
}

function drainEvents(n: ClusterNode): NodeEvent[] {
  const out: NodeEvent[] = [];
  for (let e = n.pollEvent(); e; e = n.pollEvent()) out.push(e);
  return out;
}

const evilState = (by: ClusterNode, patch: Partial<SecState>): SecState => ({
  type: 'secState', reply: true, primary: 0, primaryVersion: 0, primaryBy: by.id, keys: [], removed: [], creds: [], revoked: [], ...patch,
});

test('review 3: a sealed state naming every key removed leaves the primary in place (and nothing throws)', () => {
  const c = KeyedCluster.joined(2);
  const [a, b] = [c.node(0), c.node(1)];
  const K2 = new Uint8Array(32).fill(0x22);
  assert.ok(a.security!.installKey(K2).ok);
  c.pump(2_000);
  const ids = a.security!.keyring.ids();
  const primary = a.security!.keyring.primary().id;
  a.handleDatagram(c.now, KeyedCluster.addr(1), sealedBy(b, a, undefined, [evilState(b, { removed: [...ids, 12345] })]));
  assert.is(a.security!.keyring.primary().id, primary, 'still seals with its primary');
  assert.equal(a.security!.keyring.ids(), [primary], 'the other key went (its removal is genuine news)');
  const persisted = drainEvents(a).filter((e) => e.type === 'persist' && e.key === 'security');
  for (const e of persisted) assert.ok((e as { value: { keyring: { keys: unknown[] } } }).value.keyring.keys.length > 0, 'never persists an empty ring');
  // The cluster carries on.
  c.pump(10_000);
  for (const v of c.views()) assert.not.match(v, /suspect|dead/);
});

test('review 3: a state whose key id is not the id of its secret is refused', () => {
  const c = KeyedCluster.joined(2);
  const [a, b] = [c.node(0), c.node(1)];
  const id = keyIdOf(nodeCrypto, KEY);
  const before = a.security!.stats.statesRefused;
  const planted = evilState(b, { keys: [{ id: id + 1, secret: new Uint8Array(32).fill(0x33) }], primary: id + 1, primaryVersion: 99, primaryBy: b.id });
  a.handleDatagram(c.now, KeyedCluster.addr(1), sealedBy(b, a, undefined, [planted]));
  assert.is(a.security!.stats.statesRefused, before + 1);
  assert.equal(a.security!.keyring.ids(), [id]);
  assert.is(a.security!.keyring.primary().id, id);
});

test('review 3: merge keeps the key the register names and the last key; use drops a removed one', () => {
  const k = (fill: number) => {
    const secret = new Uint8Array(32).fill(fill);
    return { id: keyIdOf(nodeCrypto, secret), secret };
  };
  const [k1, k2, k3] = [k(1), k(2), k(3)];
  const r = new Keyring();
  r.install(k1);
  r.install(k2);
  r.use(k1.id, KeyedCluster.id(0));
  assert.ok(r.merge({ keys: [], removed: [k1.id, k2.id], primary: undefined }));
  assert.equal([r.ids(), r.primary().id, r.isRemoved(k1.id)], [[k1.id], k1.id, true]);
  assert.equal([r.install(k1), r.install(k2)], ['removed', 'removed'], 'kept, but never installed again');
  r.install(k3);
  r.use(k3.id, KeyedCluster.id(0));
  assert.equal(r.ids(), [k3.id], 'once the register names another key, the removed one goes');
  // A last key that is not the register's stays too.
  const lone = new Keyring({ keys: [k2], removed: [], primary: { id: k1.id, version: 1, by: KeyedCluster.id(0) } });
  lone.merge({ keys: [], removed: [k2.id], primary: undefined });
  assert.equal(lone.ids(), [k2.id]);
});

test('review 2: a removed member that kept the old key learns no new key and no credential; an outsider learns nothing', () => {
  const c = KeyedCluster.joined(3);
  const [a, removed] = [c.node(0), c.node(2)];
  c.nodes.delete(KeyedCluster.addr(2)); // gone: the others mark it dead (an operator removing it would then rotate)
  c.pump(40_000);
  assert.match(c.views()[0]!, /10\.0\.0\.3:7700:dead/);
  const K2 = new Uint8Array(32).fill(0x22);
  assert.ok(a.security!.installKey(K2).ok);
  c.pump(2_000);
  const asked = (n: ClusterNode, fromAddr: Address) => {
    while (a.pollTransmit());
    a.handleDatagram(c.now, fromAddr, sealedBy(n, a, undefined, [{ type: 'secDigest', digest: new Uint8Array(8) }]));
    const out: { to: Address; bytes: Uint8Array }[] = [];
    for (let t = a.pollTransmit(); t; t = a.pollTransmit()) out.push(t);
    return out;
  };
  // The removed member asks (from anywhere: the answer goes to its address in A's table).
  const answers = asked(removed, address('192.0.2.66:7700'));
  assert.equal(answers.map((t) => t.to), [KeyedCluster.addr(2)]);
  for (const t of answers) removed.handleDatagram(c.now, KeyedCluster.addr(0), t.bytes);
  assert.equal(removed.security!.keyring.ids(), [keyIdOf(nodeCrypto, KEY)], 'no new key');
  assert.is(removed.security!.credentials.size, 0);
  assert.is(asked(removed, KeyedCluster.addr(2)).length, 0, 'and at most one public answer per interval');
  // A node A never knew, holding the key: nothing at all.
  const stranger = new KeyedCluster().add(7);
  assert.equal(asked(stranger, KeyedCluster.addr(7)), []);
  assert.ok(a.security!.stats.statesWithheld >= 1);
  // Nor does A take a state from it: its removals would drop K2.
  a.handleDatagram(c.now, KeyedCluster.addr(7), sealedBy(stranger, a, undefined, [evilState(stranger, { removed: a.security!.keyring.ids() })]));
  assert.is(a.security!.keyring.ids().length, 2);
});

test('review 10: a new key in the key file of a restarted node is installed and spreads, but is not made primary there', () => {
  const c = KeyedCluster.joined(3);
  const old = c.node(2);
  const saved = { keyring: old.security!.keyring.state(), credentials: old.security!.credentials.state() };
  const K2 = new Uint8Array(32).fill(0x22);
  const k1 = keyIdOf(nodeCrypto, KEY);
  const k2 = keyIdOf(nodeCrypto, K2);
  // The operator "rotates" node 2 by putting a new key in its key file and restarting it with its data dir.
  const restarted = c.add(2, { epoch: 6, keyFileKey: K2, restored: { state: saved } }, {
    restored: { membership: { incarnation: 1, members: [0, 1].map((i) => ({ id: KeyedCluster.id(i), name: `n${i}`, addr: KeyedCluster.addr(i) })) } },
  });
  const told = drainEvents(restarted).find((e) => e.type === 'key-file-unused');
  assert.equal(told && { ...told }, { type: 'key-file-unused', keyId: k2, reason: 'not-primary', primary: k1 });
  restarted.join(c.now, [KeyedCluster.addr(0)]);
  c.pump(40_000);
  for (const v of c.views()) assert.not.match(v, /suspect|dead/, 'node 2 still talks to the cluster');
  for (let i = 0; i < 3; i++) {
    assert.is(c.node(i).security!.keyring.primary().id, k1, `node ${i} seals with the cluster's primary`);
    assert.equal(c.node(i).security!.keyring.ids(), [k1, k2].sort((a, b) => a - b), `node ${i} holds the new key: \`keys use\` can proceed`);
  }
  // An empty ring (a new node) takes the key file's key as its primary.
  const fresh = new KeyedCluster().add(0, { keyFileKey: K2 });
  assert.is(fresh.security!.keyring.primary().id, k2);
});

test('review 11: datagrams under random key ids raise at most one key-alert a minute, and the key a member uses is the one named', () => {
  const unlimited = { strangerPerSecond: 1e9, strangerBurst: 1e9, strangersPerSecond: 1e9, strangersBurst: 1e9 };
  const c = new KeyedCluster();
  const a = c.add(0, {}, { inboundLimits: unlimited });
  a.join(c.now, []);
  const rng = new SeededRng(11);
  const sealedUnder = (keyId: number): Uint8Array => {
    const d = new Uint8Array(120);
    for (let i = 0; i < d.length; i++) d[i] = rng.int(256);
    d[0] = SEALED_V1;
    new DataView(d.buffer).setUint32(1, keyId);
    d[16] = 1; // epoch and counter non-zero: a well-formed header
    d[30] = 1;
    return d;
  };
  const theirs = 0x1234abcd;
  const alerts: KeyAlert[] = [];
  for (let i = 0; i < 10_000; i++) {
    if (i % 100 === 0) c.now += 1_000; // 100 s in all
    a.handleDatagram(c.now, address(`203.0.113.${i % 250}:9`), sealedUnder(i % 50 === 0 ? theirs : rng.nextU32()));
    for (const e of drainEvents(a)) if (e.type === 'key-alert') alerts.push(e);
  }
  assert.ok(alerts.length <= 2, `${alerts.length} alerts for 10,000 datagrams in 100 s`);
  const last = alerts[alerts.length - 1]!;
  assert.is(last.keyId, theirs, 'the key that came most often, not a forged one');
  assert.ok(last.datagrams >= 100 && last.otherDatagrams > 5_000 && last.otherKeys === 64, JSON.stringify({ ...last, held: undefined }));
});

test('review 12: where plain datagrams count, a stranger\'s gets back no more than it sent; an anonymous client on another host too', () => {
  const victim = address('198.51.100.9:53');
  const ping = (to: ClusterNode) => encodePacket({ cluster: 'contacts', from: nodeId('f1f1f1f1f1f1f1f1') }, [{ type: 'ping', seq: 7, target: to.id }]);
  const plain = new ClusterNode({ id: KeyedCluster.id(9), addr: address('10.0.0.10:7700'), rng: new SeededRng(9), now: T0 });
  const nodes = { send: KeyedCluster.joined(2, 3_000, { mode: 'send' }).node(0), accept: KeyedCluster.joined(2, 3_000, { mode: 'accept' }).node(0), plain };
  plain.join(T0, []);
  for (const [mode, n] of Object.entries(nodes)) {
    while (n.pollTransmit());
    for (let i = 0; i < 50; i++) n.membership.enqueueBroadcast(`x${i}`, encodeMessage({ type: 'alive', node: KeyedCluster.id(20 + i), incarnation: 1, name: 'a-rather-long-node-name', addr: address(`10.1.0.${i}:7700`) }));
    const p = ping(n);
    n.handleDatagram(T0 + 10_000, victim, p);
    const back = sentTo(n, (t) => t === victim);
    assert.ok(back.bytes <= p.length, `${mode}: ${back.bytes} bytes back for a ${p.length}-byte ping`);
    if (mode === 'send') assert.is(back.datagrams, 0, 'a sealed ack would be larger: nothing');
    else assert.is(back.datagrams, 1, `${mode}: a bare ack`);
  }
  // An anonymous `list` (the CLI pads requests to 600 bytes) from another host, and from this one.
  for (let i = 0; i < 30; i++) {
    const contact = { id: `01HZZZZZZZZZZZZZZZZZZZZZ${String(i).padStart(2, '0')}`.slice(0, 26), formattedName: `Person number ${i} with a long name` };
    plain.replication.write(T0, { opId: `op-${i}`, patch: { kind: 'create', contact } } as never);
  }
  const list = request('list', {}, undefined, { timeMs: T0 }).bytes;
  plain.handleDatagram(T0 + 10_000, victim, list);
  const far = answersTo(plain, victim, undefined);
  assert.ok(far.bytesOut <= list.length, `${far.bytesOut} bytes back for ${list.length}`);
  assert.is(code(far), 'too-large');
  const here = address('127.0.0.1:40000');
  plain.handleDatagram(T0 + 10_000, here, list);
  const near = answersTo(plain, here, undefined);
  assert.ok(near.bytesOut > 5 * list.length, `on this host, the whole page (${near.bytesOut} bytes in ${near.datagrams} pieces)`);
});

test('must-show: a forged membership message is never acted on, sealed or not: wrong key, bad tag, or a seal by one member naming another', () => {
  const c = KeyedCluster.joined(3);
  const [a, b] = [c.node(0), c.node(1)];
  const third = KeyedCluster.id(2);
  const dead = { type: 'dead' as const, node: third, incarnation: 99, from: b.id };
  // B seals a packet whose header says it comes from node 2.
  const mismatch = b.security!.packets.seal(KeyedCluster.addr(0), encodePacket({ cluster: 'contacts', from: third }, [dead]));
  // Someone with another key, and a flipped bit in B's own seal.
  const outsider = new KeyedCluster().add(1, { keyFileKey: new Uint8Array(32).fill(0x77) });
  const wrongKey = outsider.security!.packets.seal(KeyedCluster.addr(0), encodePacket({ cluster: 'contacts', from: b.id }, [dead]));
  const flipped = sealedBy(b, a, undefined, [dead]);
  flipped[flipped.length - 20]! ^= 1;
  const plain = encodePacket({ cluster: 'contacts', from: b.id }, [dead]);
  for (const d of [mismatch, wrongKey, flipped, plain]) a.handleDatagram(c.now, KeyedCluster.addr(1), d);
  assert.equal(
    [a.stats.dropped['sender-mismatch'], a.stats.dropped['unknown-key'], a.stats.dropped['bad-seal'], a.stats.dropped.unauthenticated],
    [1, 1, 1, 1],
  );
  assert.is(a.membership.member(third)?.state, 'alive', 'node 2 is not dead');
});

/** Bytes `n` sends to each address in `to` (draining its queue). */
function sentTo(n: ClusterNode, to: (a: Address) => boolean): { datagrams: number; bytes: number } {
  const out = { datagrams: 0, bytes: 0 };
  for (let t = n.pollTransmit(); t; t = n.pollTransmit()) if (to(t.to)) out.datagrams++, (out.bytes += t.bytes.length);
  return out;
}

test('review 7 and 8: recordings replayed at another node, or after a restart, draw nothing to their forged source', () => {
  // Ten seconds of a settled cluster: a dozen or more of B's datagrams to A (probes, acks, catch-up riding on them).
  const c = KeyedCluster.joined(3, 10_000);
  const [b, third] = [c.node(1), c.node(2)];
  const recordings = c.log.filter((d) => d.from === KeyedCluster.addr(1) && d.to === KeyedCluster.addr(0));
  const firstContacts = recordings.filter((d) => parseSealedHeader(d.bytes)!.to === nodeId('0000000000000000')).length;
  assert.ok(recordings.length > 10 && firstContacts < 5, `${recordings.length} recordings, ${firstContacts} first contacts`);
  // B's datagrams to A, replayed at C (same epoch as A) from a forged source.
  const victim = address('198.51.100.9:53');
  const opened = third.security!.packets.stats.opened;
  while (third.pollTransmit());
  for (const r of recordings) third.handleDatagram(c.now, victim, r.bytes);
  assert.ok(third.security!.packets.stats.opened - opened <= firstContacts, 'only a first contact (a join) may be taken, once');
  assert.ok((third.stats.dropped['wrong-receiver'] ?? 0) >= recordings.length - firstContacts);
  assert.equal(sentTo(third, (t) => t === victim), { datagrams: 0, bytes: 0 });
  // A restarts (epoch 6) and rejoins; one recording B made for its earlier life is replayed from 2,000 forged sources.
  const rec = recordings[recordings.length - 1]!.bytes;
  const replay = (n: ClusterNode) => {
    let forged = 0;
    for (let i = 0; i < 2_000; i++) {
      n.handleDatagram(c.now, address(`198.51.${i >> 8}.${i & 255}:53`), rec);
      forged += sentTo(n, (t) => t.startsWith('198.51.')).datagrams;
    }
    return forged;
  };
  const peerEpochs = { [b.id]: 5, [third.id]: 5 };
  const a2 = c.add(0, { epoch: 6, restored: { peerEpochs } });
  a2.join(c.now, [KeyedCluster.addr(1)]);
  c.pump(3_000);
  // B's own datagrams still in flight to A's old life were dropped as stale too while it rejoined: count the replays alone.
  const staleBefore = a2.stats.dropped['stale-receiver'] ?? 0;
  assert.is(replay(a2), 0, 'B is a member: not one datagram to a forged source');
  assert.is((a2.stats.dropped['stale-receiver'] ?? 0) - staleBefore, 2_000);
  // A node that does not know B yet introduces itself where the datagram came from, but once per life of B, not per replay.
  assert.ok(replay(c.add(0, { epoch: 7, restored: { peerEpochs } })) <= 1);
});

test.run();
