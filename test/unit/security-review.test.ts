/**
 * One regression test per finding of the security review of the merged
 * security work (what each finding's proof of concept did, replayed on a
 * few keyed nodes in process with the real AES-256-GCM): each failed before
 * its fix. Findings about client requests live in client-auth.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodePacket } from '../../protocol/wire/codec.ts';
import type { Message, SecState } from '../../protocol/wire/messages.ts';
import type { ClusterNode, NodeEvent } from '../../protocol/node.ts';
import { Keyring, keyIdOf } from '../../protocol/security/keyring.ts';
import { nodeCrypto } from '../../daemon/node-crypto.ts';
import { KEY, KeyedCluster } from './keyed-cluster.ts';

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

test.run();
