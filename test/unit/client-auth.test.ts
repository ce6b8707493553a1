/**
 * Client credentials at a keyed node (protocol/security/client-auth.ts and
 * admin-ops.ts), with the real AES-256-GCM: roles, the one small
 * auth-required answer (never larger than the request), replays, clock
 * skew, revocation, the first-admin bootstrap, and answers sealed to the
 * client's own key.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ClusterNode } from '../../protocol/node.ts';
import { SeededRng } from '../../protocol/rng.ts';
import { address, nodeId, type Address } from '../../protocol/types.ts';
import { credentialKey, openAnswer, CLIENT_ANSWER_V1, type RequestTarget } from '../../protocol/security/client-envelope.ts';
import { SEALED_V1 } from '../../protocol/security/envelope.ts';
import { ClientGate, roleNeeded } from '../../protocol/security/client-auth.ts';
import { CredentialStore } from '../../protocol/security/credentials.ts';
import { nodeCrypto } from '../../daemon/node-crypto.ts';
import {
  KeyedCluster, answersTo, code, credKeyHex, newCred, ok, request as requestAt, targetOf, type Cred, type Outcome,
} from './keyed-cluster.ts';

const SERVER = nodeId('00000000000000a1');
const LOOPBACK = address('127.0.0.1:50001');
const REMOTE = address('192.0.2.7:50001');
let now = 1_700_000_000_000;

function keyedNode(): ClusterNode {
  return new ClusterNode({
    id: SERVER, addr: address('127.0.0.1:7700'), rng: new SeededRng(1), now,
    security: { crypto: nodeCrypto, epoch: 3, keyFileKey: new Uint8Array(32).fill(9) },
  });
}

/** A request meant for `node` (SERVER in epoch 3) unless `opts` says otherwise. */
const request = (op: string, args: unknown, cred: Cred | undefined, opts: { timeMs?: number; secret?: Uint8Array; target?: RequestTarget } = {}) =>
  requestAt(op, args, cred, { timeMs: now, target: { server: SERVER, epoch: 3 }, ...opts });

/** Sends `bytes` from `from` and reads what comes back to `from` as that client would. */
function exchange(node: ClusterNode, bytes: Uint8Array, cred: Cred | undefined, from: Address = LOOPBACK): Outcome {
  node.handleDatagram(now, from, bytes);
  return answersTo(node, from, cred);
}

function ask(node: ClusterNode, op: string, args: unknown, cred: Cred | undefined, from?: Address): Outcome {
  return exchange(node, request(op, args, cred).bytes, cred, from);
}

/** Registers `cred` with `role` through admin `admin` (or bootstraps it as the first admin). */
function register(node: ClusterNode, cred: Cred, role: string, admin?: Cred): void {
  const key = credKeyHex(cred);
  ok(admin ? ask(node, 'credentials.create', { id: cred.id, role, key, name: role }, admin) : ask(node, 'credentials.bootstrap', { id: cred.id, key, name: 'first' }, undefined));
}

const node = keyedNode();
const admin = newCred();
const reader = newCred();
const writer = newCred();

test('bootstrap: only from this host and only while the cluster has no credential', () => {
  const far = ask(node, 'credentials.bootstrap', { id: admin.id, key: '00'.repeat(32) }, undefined, REMOTE);
  assert.is(far.authRequired, 'credential-required');
  assert.is(code(ask(node, 'list', {}, undefined)), 'forbidden', 'before the first admin, an anonymous request may only bootstrap');
  register(node, admin, 'admin');
  register(node, reader, 'read', admin);
  register(node, writer, 'write', admin);
  const again = ask(node, 'credentials.bootstrap', { id: newCred().id, key: '00'.repeat(32) }, undefined);
  assert.is(again.authRequired, 'credential-required', 'once there are credentials, anonymous requests get auth-required');
  assert.equal(ok(ask(node, 'credentials.list', {}, admin)).map((c: { role: string }) => c.role).sort(), ['admin', 'read', 'write']);
});

test('roles: a reader reads but cannot write; a writer writes but cannot administer', () => {
  const id = '01HZZZZZZZZZZZZZZZZZZZZZZZ';
  const put = { opId: 'op-1', patch: { kind: 'create', contact: { id, formattedName: 'Ada' } } };
  assert.is(code(ask(node, 'put', put, reader)), 'forbidden');
  assert.is(ok(ask(node, 'put', put, writer)).outcome, 'applied');
  assert.is(ok(ask(node, 'get', { id }, reader)).formattedName, 'Ada');
  assert.is(code(ask(node, 'keys.list', {}, writer)), 'forbidden');
  assert.is(code(ask(node, 'credentials.create', { id: newCred().id, role: 'admin', key: '00'.repeat(32) }, writer)), 'forbidden');
  assert.ok(ok(ask(node, 'keys.list', {}, admin)).keys.length === 1);
});

test('answers are sealed to the client: the contact is not in the clear, and another key cannot open them', () => {
  const id = '01HZZZZZZZZZZZZZZZZZZZZZZZ';
  const { bytes } = request('get', { id }, reader);
  node.handleDatagram(now, LOOPBACK, bytes);
  const t = node.pollTransmit()!;
  assert.not.ok(Buffer.from(t.bytes).includes(Buffer.from('Ada')));
  assert.is(openAnswer(nodeCrypto, credentialKey(nodeCrypto, writer.id, writer.secret), t.bytes, new Map()).kind, 'invalid');
  assert.is(openAnswer(nodeCrypto, credentialKey(nodeCrypto, reader.id, reader.secret), t.bytes, new Map()).kind, 'packet');
});

test('bad credentials get one small auth-required answer, never larger than the request; replays get nothing', () => {
  const cases: [string, Uint8Array][] = [
    ['unknown-credential', request('list', {}, newCred()).bytes],
    ['bad-seal', request('list', {}, reader, { secret: new Uint8Array(32) }).bytes],
    ['clock-skew', request('list', {}, reader, { timeMs: now - 3_600_000 }).bytes],
    ['credential-required', request('list', {}, undefined).bytes],
  ];
  for (const [i, [reason, bytes]] of cases.entries()) {
    now += 1_000; // past the per-source answer limit
    const o = exchange(node, bytes, undefined, address(`127.0.0.2:${40000 + i}`));
    assert.is(o.authRequired, reason);
    assert.is(o.datagrams, 1);
    assert.ok(o.bytesOut <= bytes.length, `${o.bytesOut} > ${bytes.length}`);
  }
  const { bytes } = request('list', {}, reader);
  assert.ok(exchange(node, bytes, reader).answer);
  const before = node.stats.dropped['client-replay'] ?? 0;
  const replayed = exchange(node, bytes, reader);
  assert.equal([replayed.datagrams, node.stats.dropped['client-replay']], [0, before + 1]);
});

test('auth-required answers are rate-limited per source', () => {
  const stranger = address('127.0.0.3:40000');
  let answers = 0;
  for (let i = 0; i < 100; i++) answers += exchange(node, request('list', {}, newCred()).bytes, undefined, stranger).datagrams;
  assert.ok(answers <= 4, `${answers} answers to 100 bad requests in the same instant`);
});

test('revoked: refused at once, and nothing more is sent to it', () => {
  const victim = newCred();
  register(node, victim, 'read', admin);
  const at = address('127.0.0.1:50077');
  assert.ok(ask(node, 'list', {}, victim, at).answer);
  // It subscribes (and confirms): pushes go to it on its request's channel.
  const sub = ok(ask(node, 'subscribe', {}, victim, at)).subId;
  assert.ok(ok(ask(node, 'subscribe', { subId: sub }, victim, at)).confirmed);
  ok(ask(node, 'credentials.revoke', { id: victim.id }, admin));
  now += 1_000;
  assert.is(ask(node, 'list', {}, victim, at).authRequired, 'revoked');
  // A change that would be pushed to it is withheld, not sent under another key or in the clear.
  const withheld = node.stats.withheld;
  ok(ask(node, 'put', { opId: 'op-revoked', patch: { kind: 'create', contact: { id: '01HZZZZZZZZZZZZZZZZZZZZZZY', formattedName: 'Bo' } } }, writer));
  assert.is(answersTo(node, at, victim).datagrams, 0);
  assert.is(node.stats.withheld, withheld + 1);
});

test('a request with a forged member source address changes nothing about how gossip goes to that member (review 1)', () => {
  const c = KeyedCluster.joined(3);
  const [a, b] = [c.node(0), c.node(1)];
  const boot = newCred();
  const reader = newCred();
  a.handleDatagram(c.now, LOOPBACK, requestAt('credentials.bootstrap', { id: boot.id, key: credKeyHex(boot), name: 'x' }, undefined, { timeMs: c.now }).bytes);
  a.handleDatagram(c.now, LOOPBACK, requestAt('credentials.create', { id: reader.id, role: 'read', key: credKeyHex(reader), name: 'r' }, boot, { timeMs: c.now, target: targetOf(a) }).bytes);
  c.pump(3_000);
  // A read-only client forges B's address (and every other member's, at every node), then an anonymous one does.
  for (const [, n] of c.nodes) for (const [to] of c.nodes) if (n !== c.nodes.get(to)) n.handleDatagram(c.now, to, requestAt('hello', {}, reader, { timeMs: c.now, target: targetOf(n) }).bytes);
  a.handleDatagram(c.now, KeyedCluster.addr(1), requestAt('hello', {}, undefined, { timeMs: c.now }).bytes);
  const since = c.log.length;
  c.pump(30_000);
  const kinds = new Set(c.log.slice(since).filter((d) => d.from === KeyedCluster.addr(0) && d.to === KeyedCluster.addr(1)).map((d) => d.bytes[0]));
  assert.equal([...kinds], [SEALED_V1], 'A still seals everything to B under the cluster key (no client envelope)');
  assert.not.ok(kinds.has(CLIENT_ANSWER_V1));
  assert.is(b.stats.dropped.unauthenticated ?? 0, 0);
  assert.ok((a.stats.dropped['client-from-member'] ?? 0) >= 3, 'the forged requests were dropped unanswered');
  for (const v of c.views()) assert.not.match(v, /suspect|dead/);
});

test('review 5: a request is good at one server in one life of it: replays elsewhere and after a restart are not run', () => {
  const c = KeyedCluster.joined(2);
  const [a, b] = [c.node(0), c.node(1)];
  const boot = newCred();
  const at = address('10.9.0.1:40000');
  a.handleDatagram(c.now, LOOPBACK, requestAt('credentials.bootstrap', { id: boot.id, key: credKeyHex(boot), name: 'x' }, undefined, { timeMs: c.now }).bytes);
  c.pump(2_000);
  // A first contact names no server: answered with who A is (sealed to the credential, smaller than the request), not run.
  const first = requestAt('keys.list', {}, boot, { timeMs: c.now });
  a.handleDatagram(c.now, at, first.bytes);
  const told = answersTo(a, at, boot);
  assert.equal([told.retarget, told.answer, told.datagrams], [targetOf(a), undefined, 1]);
  assert.ok(told.bytesOut <= first.bytes.length);
  // Named: run.
  const meant = requestAt('credentials.create', { id: newCred().id, role: 'read', key: '00'.repeat(32), name: 'once' }, boot, { timeMs: c.now, target: targetOf(a) });
  a.handleDatagram(c.now, at, meant.bytes);
  ok(answersTo(a, at, boot));
  assert.equal([a, b].map((n) => n.security!.credentials.size), [2, 1], 'made at A (the news to B was not delivered here)');
  // The same datagram replayed at B, and at A after a restart: a retarget at most, never run.
  const replayedAt = (n: ClusterNode) => {
    n.handleDatagram(c.now, at, meant.bytes);
    return answersTo(n, at, boot);
  };
  assert.equal(replayedAt(b).retarget, targetOf(b));
  const a2 = c.add(0, { epoch: 6, restored: { state: { keyring: a.security!.keyring.state(), credentials: a.security!.credentials.state() } } });
  assert.equal(replayedAt(a2).retarget, targetOf(a2));
  assert.equal([b.stats.dropped['client-retarget'], a2.stats.dropped['client-retarget']], [1, 1]);
  assert.equal([a2, b].map((n) => n.security!.credentials.size), [2, 1], 'nothing made again');
});

test('review 6: a client that floods the replay cache raises only its own floor; every other client keeps working', () => {
  const store = new CredentialStore();
  const evil = newCred();
  const honest = newCred();
  for (const [c, role] of [[evil, 'read'], [honest, 'admin']] as const) store.add({ id: c.id, role, key: credentialKey(nodeCrypto, c.id, c.secret), name: '', created: 0 });
  const gate = new ClientGate({ crypto: nodeCrypto, self: SERVER, epoch: 1, access: () => 'required', credentials: () => store, isLocal: () => false, config: { replayCacheMax: 256 } });
  const target = { server: SERVER, epoch: 1 };
  const admit = (c: Cred, timeMs: number, at = now) => {
    const r = gate.admit(at, REMOTE, requestAt('list', {}, c, { timeMs, target }).bytes);
    return r.ok ? 'ok' : r.reason;
  };
  // One request stamped near the end of the window, then more than the cache holds to push it out.
  assert.is(admit(evil, now + 299_000), 'ok');
  for (let i = 0; i < 300; i++) admit(evil, now);
  assert.is(admit(honest, now + 1_000, now + 1_000), 'ok', 'the honest client is not shut out');
  assert.is(admit(honest, now + 290_000, now + 290_000), 'ok');
  assert.is(admit(evil, now + 1_000, now + 1_000), 'auth-required', 'the flooder shut out only itself');
  // Memory stays bounded however many credentials take part.
  for (let i = 0; i < 300; i++) admit(honest, now + 2_000 + i, now + 2_000);
  assert.ok(gate.noncesKept <= 256, `${gate.noncesKept} nonces kept`);
});

test('review 13: the first admin may come from the address the node binds (a CLI on the same host), not from another host', () => {
  const c = KeyedCluster.joined(1, 100);
  const a = c.node(0); // binds 10.0.0.1:7700
  const first = newCred();
  const bootstrap = (from: Address) => {
    a.handleDatagram(c.now, from, requestAt('credentials.bootstrap', { id: first.id, key: credKeyHex(first), name: 'x' }, undefined, { timeMs: c.now }).bytes);
    return answersTo(a, from, undefined);
  };
  assert.is(bootstrap(address('10.0.0.2:5000')).authRequired, 'credential-required', 'another host');
  assert.equal(ok(bootstrap(address('10.0.0.1:5000'))), { id: first.id, role: 'admin', name: 'x' });
});

test('every op the client service serves has a role (a new op must be listed in client-auth.ts, or only admins may use it)', () => {
  const ops = Object.keys((node.client as unknown as { ops: Record<string, unknown> }).ops);
  assert.ok(ops.length >= 10);
  for (const op of ops) assert.is.not(roleNeeded(op), 'admin', `${op} is not classified as a read or a write`);
  assert.equal(['put', 'delete', 'resolve'].map(roleNeeded), ['write', 'write', 'write']);
  assert.equal(['keys.use', 'credentials.create', 'something-new'].map(roleNeeded), ['admin', 'admin', 'admin']);
});

test.run();
