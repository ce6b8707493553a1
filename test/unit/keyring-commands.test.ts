/**
 * The rotation commands of protocol/security/security-service.ts on a small
 * simulated cluster: what each refuses and why, what `keys list` reports,
 * and that keyring news counts only from sealed datagrams.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ClusterNode } from '../../protocol/node.ts';
import { encodePacket } from '../../protocol/wire/codec.ts';
import { keyIdOf } from '../../protocol/security/keyring.ts';
import { toSecState } from '../../protocol/security/security-state.ts';
import { Keyring } from '../../protocol/security/keyring.ts';
import { CredentialStore } from '../../protocol/security/credentials.ts';
import { keyIdText, type KeyId } from '../../protocol/security/envelope.ts';
import { addStaggered, allSee, newCluster, nodeIdOf, range } from '../sim/membership-harness.ts';
import { simCrypto } from '../sim/sim-crypto.ts';
import type { Simulation } from '../sim/sim.ts';

const K1 = new Uint8Array(32).fill(1);
const K2 = new Uint8Array(32).fill(2);
const K3 = new Uint8Array(32).fill(3);
const id = (k: Uint8Array) => keyIdOf(simCrypto, k);

function cluster(n: number, mode: 'accept' | 'require' = 'require'): Simulation<ClusterNode> {
  const sim = newCluster({ seed: 7, quiet: true, security: () => ({ crypto: simCrypto, keyFileKey: K1, mode }) });
  addStaggered(sim, n, 1000);
  assert.ok(sim.runUntilCondition(() => allSee(sim, range(n), range(n), 'alive'), 30_000));
  sim.runFor(5_000); // key statuses gossiped
  return sim;
}

const sec = (sim: Simulation<ClusterNode>, i: number) => sim.core(i)!.security!;

test('install, use, remove: each refused until it is safe, with the reason and what to do', () => {
  const sim = cluster(4);
  const codeOf = (r: { ok: boolean; code?: string }) => (r.ok ? 'ok' : r.code);
  assert.is(codeOf(sec(sim, 0).installKey(new Uint8Array(5))), 'invalid');
  assert.is(codeOf(sec(sim, 0).installKey(K1)), 'exists');
  // Node 3 is cut off before the install reaches it: `use` must wait for it.
  sim.network.partition([[3], [0, 1, 2]]);
  sim.poke(0, (core) => assert.ok(core.security!.installKey(K2).ok));
  sim.runFor(2_000);
  const use = sec(sim, 1).useKey(id(K2));
  assert.not.ok(use.ok);
  if (!use.ok) {
    assert.is(use.code, 'not-confirmed');
    assert.match(use.message, 'n3');
    assert.match(use.message, keyIdText(id(K2)));
  }
  // Once node 3 is marked dead it no longer holds the rotation up.
  assert.ok(sim.runUntilCondition(() => allSee(sim, [0, 1, 2], [3], 'dead'), 30_000));
  sim.poke(1, (core) => assert.ok(core.security!.useKey(id(K2)).ok));
  sim.runFor(3_000);
  assert.is(codeOf(sec(sim, 2).removeKey(id(K2))), 'is-primary');
  sim.poke(2, (core) => assert.ok(core.security!.removeKey(id(K1)).ok, 'every live member seals with K2'));
  sim.runFor(3_000);
  for (const i of [0, 1, 2]) {
    assert.equal(sec(sim, i).keyring.ids(), [id(K2)]);
    assert.ok(sec(sim, i).keyring.isRemoved(id(K1)));
  }
  assert.is(codeOf(sec(sim, 0).installKey(K1)), 'removed', 'a removed key never comes back');
  // Node 3 never got K2: locked out, and it says so.
  const alerts: string[] = [];
  sim.onEvent((e, i) => {
    if (e.type === 'key-alert' && i === 3) alerts.push(keyIdText(e.keyId));
  });
  sim.network.heal();
  sim.runFor(40_000);
  assert.ok(alerts.includes(keyIdText(id(K2))), `node 3 was told it lacks K2: ${alerts}`);
  assert.ok(allSee(sim, [0, 1, 2], [3], 'dead'), 'and stays out');
});

test('keys list: every key with who holds it and who seals with it', () => {
  const sim = cluster(3);
  sim.poke(0, (core) => assert.ok(core.security!.installKey(K3).ok));
  sim.runFor(3_000);
  const r = sec(sim, 1).keyReport();
  assert.is(r.primary, keyIdText(id(K1)));
  assert.equal(r.keys.map((k) => [k.id, k.primary, k.heldBy.sort(), k.sealingWith.sort()]), [
    [keyIdText(id(K1)), true, ['n0', 'n1', 'n2'], ['n0', 'n1', 'n2']],
    [keyIdText(id(K3)), false, ['n0', 'n1', 'n2'], []],
  ].sort((a, b) => parseInt(a[0] as string, 16) - parseInt(b[0] as string, 16)));
  assert.is(r.members.length, 3);
});

test('keyring news in a plain datagram is refused, even where plain gossip is still taken (accept mode)', () => {
  const sim = cluster(2, 'accept');
  const forged = new Keyring();
  forged.install({ id: id(K3), secret: K3 });
  forged.use(id(K3), nodeIdOf(1));
  const msg = toSecState(forged, new CredentialStore(), false);
  msg.primaryVersion = 1_000;
  const before = sim.core(0)!.stats.dropped.unauthenticated ?? 0;
  sim.poke(0, (core, now) => core.handleDatagram(now, sim.address(1), encodePacket({ cluster: 'contacts', from: nodeIdOf(1) }, [msg])));
  assert.is(sim.core(0)!.stats.dropped.unauthenticated, before + 1);
  assert.equal(sec(sim, 0).keyring.ids(), [id(K1)]);
  assert.is(sec(sim, 0).keyring.primary()!.id, id(K1) as KeyId);
});

test('a member that missed `use` and `remove` while cut off, holding the new key, catches up even when its first introductions are lost', () => {
  const sim = cluster(4);
  sim.poke(0, (core) => assert.ok(core.security!.installKey(K2).ok));
  sim.runFor(3_000);
  assert.ok(sec(sim, 3).keyring.key(id(K2)), 'node 3 holds K2 before it is cut off');
  sim.network.partition([[3], [0, 1, 2]]);
  assert.ok(sim.runUntilCondition(() => allSee(sim, [0, 1, 2], [3], 'dead'), 30_000));
  sim.poke(1, (core) => assert.ok(core.security!.useKey(id(K2)).ok));
  sim.runFor(3_000);
  sim.poke(2, (core) => assert.ok(core.security!.removeKey(id(K1)).ok));
  sim.runFor(3_000);
  // Back, but what node 3 sends is lost for a while: the introductions it makes on hearing K2 go nowhere.
  sim.network.heal();
  sim.network.blockOneWay([3], [0, 1, 2]);
  const before = sec(sim, 3).stats.catchUps;
  assert.ok(sim.runUntilCondition(() => sec(sim, 3).stats.catchUps - before >= 3, 60_000), 'node 3 introduced itself three times, all lost');
  assert.is(sec(sim, 3).keyring.primary()!.id, id(K1) as KeyId, 'still sealing with K1 (nobody reads it)');
  sim.network.heal();
  assert.ok(sim.runUntilCondition(() => sec(sim, 3).keyring.primary()!.id === (id(K2) as KeyId) && sec(sim, 3).keyring.isRemoved(id(K1)), 30_000),
    'node 3 seals with K2 and knows K1 was removed');
  assert.ok(sim.runUntilCondition(() => allSee(sim, range(4), range(4), 'alive'), 60_000), 'and is a member again');
});

test.run();
