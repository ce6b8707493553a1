/**
 * Sealed cluster datagrams (protocol/security/packet-security.ts) with the
 * real AES-256-GCM: round trips, and every way a datagram can be refused —
 * a flipped bit anywhere, a wrong key, another cluster, a replay in the
 * same epoch, from an older epoch, and after the receiver restarts — each
 * refused for the reason it deserves and never accepted.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeCrypto } from '../../daemon/node-crypto.ts';
import { PacketSecurity, type OpenResult } from '../../protocol/security/packet-security.ts';
import { Keyring, keyIdOf, keyringFromJson, keyringToJson, type ClusterKey } from '../../protocol/security/keyring.ts';
import { SEAL_OVERHEAD_BYTES, SEALED_HEADER_BYTES, parseSealedHeader } from '../../protocol/security/envelope.ts';
import { ReplayWindow, WINDOW } from '../../protocol/security/replay-window.ts';
import { simCrypto } from '../sim/sim-crypto.ts';
import { address, nodeId, type Address, type NodeId } from '../../protocol/types.ts';

const A = nodeId('00000000000000aa');
const B = nodeId('00000000000000bb');
const ADDR_A = address('10.0.0.1:7700');
const ADDR_B = address('10.0.0.2:7700');

function keyOf(fill: number): ClusterKey {
  const secret = new Uint8Array(32).fill(fill);
  return { id: keyIdOf(nodeCrypto, secret), secret };
}
const K1 = keyOf(1);
const K2 = keyOf(2);

function ring(...keys: ClusterKey[]): Keyring {
  const r = new Keyring();
  for (const k of keys) r.install(k);
  r.use(keys[0]!.id, A);
  return r;
}

/** A boot salt (in the daemon, random at every start). */
const SALT = new Uint8Array(8).fill(0x5a);

function party(self: NodeId, epoch: number, keys: Keyring, opts: { cluster?: string; peerEpochs?: Record<string, number>; salt?: Uint8Array } = {}): PacketSecurity {
  return new PacketSecurity({ crypto: nodeCrypto, cluster: opts.cluster ?? 'contacts', self, epoch, salt: opts.salt ?? SALT, keys, peerEpochs: opts.peerEpochs });
}

const PACKET = new TextEncoder().encode('\x83\x01any plain packet bytes, as the codec would make them');
const reason = (r: OpenResult) => (r.ok ? 'ok' : r.reason);

test('seal then open: the packet comes back, with its sender, epoch and key id; 59 bytes of overhead', () => {
  const a = party(A, 5, ring(K1));
  const b = party(B, 9, ring(K1));
  const sealed = a.seal(ADDR_B, PACKET);
  assert.is(sealed.length, PACKET.length + SEAL_OVERHEAD_BYTES);
  assert.is(SEAL_OVERHEAD_BYTES, 59);
  const r = b.open(ADDR_A, sealed);
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.equal([...r.packet], [...PACKET]);
  assert.equal([r.sender, r.epoch, r.keyId], [A, 5, K1.id]);
  // The plaintext does not appear in the datagram.
  assert.not.ok(Buffer.from(sealed).includes(Buffer.from('plain packet')));
});

test('a flipped bit anywhere (header, ciphertext, tag) is refused, never accepted', () => {
  const a = party(A, 5, ring(K1));
  const sealed = a.seal(ADDR_B, PACKET);
  const seen = new Map<string, number>();
  for (let i = 0; i < sealed.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const b = party(B, 9, ring(K1));
      const bad = Uint8Array.from(sealed);
      bad[i]! ^= 1 << bit;
      const why = reason(b.open(ADDR_A, bad));
      assert.is.not(why, 'ok', `byte ${i} bit ${bit}`);
      seen.set(why, (seen.get(why) ?? 0) + 1);
    }
  }
  // Most flips fail the tag; flips in the kind byte, key id or receiver epoch are refused before it.
  assert.ok((seen.get('bad-seal') ?? 0) > sealed.length * 6, JSON.stringify(Object.fromEntries(seen)));
  assert.ok([...seen.keys()].every((r) => ['bad-seal', 'unauthenticated', 'unknown-key', 'stale-receiver'].includes(r)), JSON.stringify([...seen.keys()]));
});

test('a wrong key, another cluster, a forged tag under our key id: refused', () => {
  const sealed = party(A, 5, ring(K2)).seal(ADDR_B, PACKET);
  assert.is(reason(party(B, 9, ring(K1)).open(ADDR_A, sealed)), 'unknown-key');
  const other = party(A, 5, ring(K1), { cluster: 'other-cluster' }).seal(ADDR_B, PACKET);
  assert.is(reason(party(B, 9, ring(K1)).open(ADDR_A, other)), 'bad-seal', 'the cluster name is in the key derivation');
  // Same key id, another secret: an attacker who copies a header learns nothing that helps.
  const forged = party(A, 5, ring({ id: K1.id, secret: new Uint8Array(32).fill(7) })).seal(ADDR_B, PACKET);
  assert.is(reason(party(B, 9, ring(K1)).open(ADDR_A, forged)), 'bad-seal');
  assert.is(reason(party(B, 9, ring(K1)).open(ADDR_A, PACKET)), 'unauthenticated', 'a plain packet is not a sealed one');
  assert.is(reason(party(B, 9, ring(K1)).open(ADDR_A, sealed.subarray(0, SEAL_OVERHEAD_BYTES - 1))), 'unauthenticated');
});

test('replays: the same datagram twice, an older epoch, our own datagram sent back', () => {
  const b = party(B, 9, ring(K1));
  const a5 = party(A, 5, ring(K1));
  const first = a5.seal(ADDR_B, PACKET);
  assert.is(reason(b.open(ADDR_A, first)), 'ok');
  assert.is(reason(b.open(ADDR_A, first)), 'replay');
  // A restarts: epoch 6. Its old datagrams are refused from then on, even unseen ones.
  const unseen = a5.seal(ADDR_B, PACKET);
  assert.is(reason(b.open(ADDR_A, party(A, 6, ring(K1)).seal(ADDR_B, PACKET))), 'ok');
  assert.is(reason(b.open(ADDR_A, unseen)), 'stale-epoch');
  assert.is(reason(b.open(ADDR_B, b.seal(ADDR_B, PACKET))), 'from-self');
});

test('after the receiver restarts, nothing recorded before is taken: first-contact and addressed forms', () => {
  const a = party(A, 5, ring(K1));
  const b1 = party(B, 9, ring(K1));
  const firstContact = a.seal(ADDR_B, PACKET); // A has not heard from B: receiver epoch 0
  assert.is(parseSealedHeader(firstContact)!.toEpoch, 0);
  assert.is(reason(b1.open(ADDR_A, firstContact)), 'ok');
  assert.is(reason(a.open(ADDR_B, b1.seal(ADDR_A, PACKET))), 'ok'); // now A knows B's epoch 9
  const addressed = a.seal(ADDR_B, PACKET);
  assert.is(parseSealedHeader(addressed)!.toEpoch, 9);
  assert.is(reason(b1.open(ADDR_A, addressed)), 'ok');
  const persisted = b1.takeChangedPeerEpochs();
  assert.equal(persisted, { [A]: 5 });
  assert.is(b1.takeChangedPeerEpochs(), undefined, 'reported once');

  // B restarts (epoch 10) with what it persisted; the recordings are replayed at it.
  const b2 = party(B, 10, ring(K1), { peerEpochs: persisted });
  assert.is(reason(b2.open(ADDR_A, firstContact)), 'stale-receiver');
  // Authentic but stale: reported so, so the node can introduce itself; a forged one is just bad.
  assert.equal(b2.open(ADDR_A, addressed), { ok: false, reason: 'stale-receiver', sender: A, epoch: 5, keyId: K1.id, authentic: true });
  const forgedStale = Uint8Array.from(addressed);
  forgedStale[forgedStale.length - 1]! ^= 1;
  assert.is(reason(b2.open(ADDR_A, forgedStale)), 'bad-seal');
  assert.is(reason(b2.open(ADDR_A, addressed)), 'stale-receiver');
  // A's live traffic resumes as soon as A hears B's new epoch.
  const lateButLive = a.seal(ADDR_B, PACKET); // sent before A heard B's new epoch: addressed to B's earlier life
  assert.is(reason(a.open(ADDR_B, b2.seal(ADDR_A, PACKET))), 'ok');
  assert.is(reason(b2.open(ADDR_A, a.seal(ADDR_B, PACKET))), 'ok');
  assert.is(reason(b2.open(ADDR_A, lateButLive)), 'stale-receiver');
  // Once live traffic has rebuilt the window, the recordings are still refused (the window starts above them).
  assert.is(reason(b2.open(ADDR_A, firstContact)), 'replay');
  assert.is(reason(b2.open(ADDR_A, addressed)), 'stale-receiver');
  const rebuilt = new ReplayWindow(500);
  assert.equal([rebuilt.check(500), rebuilt.check(400), rebuilt.check(501)], ['too-old', 'too-old', 'fresh']);
  // A new life of A may introduce itself with a first-contact datagram.
  assert.is(reason(b2.open(ADDR_A, party(A, 6, ring(K1)).seal(ADDR_B, PACKET))), 'ok');
});

test('review 8: a datagram names its receiver: good at that node only, first contact aside', () => {
  const C = nodeId('00000000000000cc');
  const a = party(A, 5, ring(K1));
  const b = party(B, 5, ring(K1));
  const c = party(C, 5, ring(K1)); // the same epoch as B: nodes started in the same second share one
  // A has heard from B and from C: it knows who is at each address.
  assert.is(reason(a.open(ADDR_B, b.seal(ADDR_A, PACKET))), 'ok');
  assert.is(reason(a.open(address('10.0.0.3:7700'), c.seal(ADDR_A, PACKET))), 'ok');
  assert.is(reason(c.open(ADDR_A, a.seal(address('10.0.0.3:7700'), PACKET))), 'ok');
  const toB = a.seal(ADDR_B, PACKET);
  assert.equal([parseSealedHeader(toB)!.to, parseSealedHeader(toB)!.toEpoch], [B, 5]);
  assert.equal(c.open(ADDR_A, toB), { ok: false, reason: 'wrong-receiver', sender: A, epoch: 5, keyId: K1.id, authentic: true });
  assert.is(reason(b.open(ADDR_A, toB)), 'ok');
  // Before it has heard from an address, a sender names the member its table has there (epoch 0), or nobody.
  const fresh = party(A, 6, ring(K1));
  assert.equal(parseSealedHeader(fresh.seal(ADDR_B, PACKET, undefined, B))!.to, B);
  assert.equal(parseSealedHeader(fresh.seal(ADDR_B, PACKET))!.to, nodeId('0000000000000000'));
  assert.is(reason(c.open(ADDR_A, fresh.seal(ADDR_B, PACKET, undefined, B))), 'wrong-receiver');
});

test('review 9: two lives with the same id and epoch (a cloned data dir) never share a key: the boot salt tells them apart', () => {
  const clone1 = party(A, 5, ring(K1), { salt: new Uint8Array(8).fill(1) });
  const clone2 = party(A, 5, ring(K1), { salt: new Uint8Array(8).fill(2) });
  const [x, y] = [clone1.seal(ADDR_B, PACKET), clone2.seal(ADDR_B, PACKET)];
  assert.equal([parseSealedHeader(x)!.counter, parseSealedHeader(y)!.counter], [1, 1], 'the same counter: the same nonce');
  // Same plaintext, same nonce: under one key the ciphertexts would be equal (and GCM broken); under two they differ.
  assert.not.equal([...x.subarray(SEALED_HEADER_BYTES)], [...y.subarray(SEALED_HEADER_BYTES)]);
  assert.is(reason(party(B, 9, ring(K1)).open(ADDR_A, x)), 'ok');
  assert.is(reason(party(B, 9, ring(K1)).open(ADDR_A, y)), 'ok');
  // A flipped salt bit makes the key another one: the tag fails.
  const bad = Uint8Array.from(x);
  bad[20]! ^= 1;
  assert.is(reason(party(B, 9, ring(K1)).open(ADDR_A, bad)), 'bad-seal');
});

test('reordering within the window is fine; older than the window is refused', () => {
  const a = party(A, 5, ring(K1));
  const b = party(B, 9, ring(K1));
  const batch = Array.from({ length: WINDOW + 10 }, () => a.seal(ADDR_B, PACKET));
  assert.is(reason(b.open(ADDR_A, batch[WINDOW + 9]!)), 'ok');
  assert.is(reason(b.open(ADDR_A, batch[20]!)), 'ok', 'late but within the window');
  assert.is(reason(b.open(ADDR_A, batch[5]!)), 'replay', 'below the window: cannot tell it from a replay');
  const w = new ReplayWindow();
  for (const c of [3, 1, 2, 2000, 1500, 977]) assert.is(w.check(c), 'fresh', String(c)), w.accept(c);
  assert.equal([w.check(3), w.check(2000), w.check(976), w.check(977), w.check(1999)], ['too-old', 'replay', 'too-old', 'replay', 'fresh']);
});

test('per-sender state is bounded; the sim stand-in refuses another key, epoch, cluster or header', () => {
  const b = new PacketSecurity({ crypto: nodeCrypto, cluster: 'c', self: B, epoch: 1, salt: SALT, keys: ring(K1), maxPeers: 3 });
  for (let i = 0; i < 10; i++) {
    const id = nodeId(i.toString(16).padStart(16, '0'));
    const s = new PacketSecurity({ crypto: nodeCrypto, cluster: 'c', self: id, epoch: 1, salt: SALT, keys: ring(K1) });
    assert.is(reason(b.open(`10.0.1.${i}:7700` as Address, s.seal(ADDR_B, PACKET))), 'ok');
  }
  assert.is(b.peerCount, 3);
  const sim = (self: NodeId, epoch: number, cluster = 'c') => new PacketSecurity({ crypto: simCrypto, cluster, self, epoch, salt: SALT, keys: ring(K1) });
  const sealed = sim(A, 1).seal(ADDR_B, PACKET);
  assert.is(reason(sim(B, 1).open(ADDR_A, sealed)), 'ok');
  assert.is(reason(sim(B, 1).open(ADDR_A, sim(A, 1, 'd').seal(ADDR_B, PACKET))), 'bad-seal');
  // It covers the header, the tag and the packet's ends, not every byte (sim-crypto.ts says why).
  for (const i of [...Array(SEAL_OVERHEAD_BYTES - 16).keys(), 43, 44, sealed.length - 17, sealed.length - 1]) {
    const bad = Uint8Array.from(sealed);
    bad[i]! ^= 0x10;
    assert.is.not(reason(sim(B, 1).open(ADDR_A, bad)), 'ok', `byte ${i}`);
  }
});

test('keyring: ids from the key, tombstones win, the larger register wins, JSON round trip', () => {
  const a = ring(K1, K2);
  assert.equal(a.ids(), [K1.id, K2.id].sort((x, y) => x - y));
  assert.is(a.primary()!.id, K1.id);
  const b = new Keyring(a.state());
  b.use(K2.id, B);
  b.remove(K1.id);
  assert.ok(a.merge(b.state()));
  assert.equal([a.ids(), a.primary()!.id, a.isRemoved(K1.id)], [[K2.id], K2.id, true]);
  assert.is(a.install(K1), 'removed', 'a removed key never comes back');
  assert.not.ok(a.merge(b.state()), 'idempotent');
  const back = keyringFromJson(JSON.parse(JSON.stringify(keyringToJson(a.state()))));
  assert.equal(back, a.state());
  for (const bad of [null, {}, { keys: [{ id: -1, secret: '00' }], removed: [] }, { keys: [], removed: ['x'] }]) assert.type(keyringFromJson(bad), 'string');
});

test('protocol/ does no I/O, reads no clock and imports nothing of Node (crypto comes in through the seam)', () => {
  const root = fileURLToPath(new URL('../../protocol/', import.meta.url));
  const files = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : f.endsWith('.ts') ? [join(dir, f)] : []));
  for (const file of files(root)) {
    const src = readFileSync(file, 'utf8');
    assert.not.match(src, /from 'node:|require\(|Date\.now|setTimeout|setInterval|Math\.random|performance\.now|process\.(?:env|exit|hrtime|nextTick)/, file);
  }
});

test.run();
