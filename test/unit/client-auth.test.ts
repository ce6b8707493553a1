/**
 * Client credentials at a keyed node (protocol/security/client-auth.ts and
 * admin-ops.ts), with the real AES-256-GCM: roles, the one small
 * auth-required answer (never larger than the request), replays, clock
 * skew, revocation, the first-admin bootstrap, and answers sealed to the
 * client's own key.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { ClusterNode } from '../../protocol/node.ts';
import { SeededRng } from '../../protocol/rng.ts';
import { decodePacket, encodePacket } from '../../protocol/wire/codec.ts';
import type { ClientRes } from '../../protocol/wire/messages.ts';
import { address, nodeId, type Address } from '../../protocol/types.ts';
import { ANONYMOUS, credentialKey, openAnswer, sealRequest } from '../../protocol/security/client-envelope.ts';
import { hexOf } from '../../protocol/security/envelope.ts';
import { roleNeeded } from '../../protocol/security/client-auth.ts';
import type { Aead } from '../../protocol/security/crypto.ts';
import { nodeCrypto } from '../../daemon/node-crypto.ts';

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

interface Cred { id: string; secret: Uint8Array }
const newCred = (): Cred => ({ id: randomBytes(8).toString('hex'), secret: new Uint8Array(randomBytes(32)) });
let reqIds = 0;

/** One request datagram from `cred` (anonymous when undefined), padded as tui/client.ts pads them (room for an error to a stranger). */
function request(op: string, args: unknown, cred: Cred | undefined, opts: { timeMs?: number; secret?: Uint8Array } = {}): { bytes: Uint8Array; reqId: number } {
  const reqId = ++reqIds;
  const text = JSON.stringify(args);
  const packet = encodePacket({ cluster: 'contacts', from: nodeId('c1c1c1c1c1c1c1c1') }, [{ type: 'clientReq', reqId, op, args: text + ' '.repeat(Math.max(0, 600 - text.length)) }]);
  const kc = cred && credentialKey(nodeCrypto, cred.id, opts.secret ?? cred.secret);
  const bytes = sealRequest(nodeCrypto, { credential: cred?.id ?? ANONYMOUS, timeMs: opts.timeMs ?? now, nonce: new Uint8Array(randomBytes(12)) }, kc, packet);
  return { bytes, reqId };
}

interface Outcome { answer?: ClientRes; authRequired?: string; bytesOut: number; datagrams: number }

/** Sends `bytes` from `from` and reads what comes back to `from` as that client would. */
function exchange(node: ClusterNode, bytes: Uint8Array, cred: Cred | undefined, from: Address = LOOPBACK): Outcome {
  node.handleDatagram(now, from, bytes);
  const kc = cred && credentialKey(nodeCrypto, cred.id, cred.secret);
  const cache = new Map<string, Aead>();
  const out: Outcome = { bytesOut: 0, datagrams: 0 };
  for (let t = node.pollTransmit(); t; t = node.pollTransmit()) {
    if (t.to !== from) continue;
    out.bytesOut += t.bytes.length;
    out.datagrams++;
    const opened = openAnswer(nodeCrypto, kc, t.bytes, cache);
    if (opened.kind === 'auth-required') out.authRequired = opened.reason;
    if (opened.kind !== 'packet') continue;
    const r = decodePacket(opened.packet, 'contacts');
    assert.ok(r.ok);
    if (r.ok && r.packet.messages[0]?.type === 'clientRes') out.answer = r.packet.messages[0];
  }
  return out;
}

function ask(node: ClusterNode, op: string, args: unknown, cred: Cred | undefined, from?: Address): Outcome {
  return exchange(node, request(op, args, cred).bytes, cred, from);
}

function ok(o: Outcome): any {
  assert.ok(o.answer, `no answer: ${JSON.stringify(o)}`);
  assert.ok(o.answer!.ok, o.answer!.result);
  return JSON.parse(o.answer!.result);
}

function code(o: Outcome): string {
  assert.ok(o.answer && !o.answer.ok, `expected an error answer: ${JSON.stringify(o)}`);
  return JSON.parse(o.answer!.result).code;
}

/** Registers `cred` with `role` through admin `admin` (or bootstraps it as the first admin). */
function register(node: ClusterNode, cred: Cred, role: string, admin?: Cred): void {
  const key = hexOf(credentialKey(nodeCrypto, cred.id, cred.secret));
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
  for (const [reason, bytes] of cases) {
    now += 1_000; // past the per-source answer limit
    const o = exchange(node, bytes, undefined, address(`127.0.0.2:${40000 + reqIds}`));
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
  ok(ask(node, 'credentials.revoke', { id: victim.id }, admin));
  now += 1_000;
  assert.is(ask(node, 'list', {}, victim, at).authRequired, 'revoked');
  // Anything still queued for its address (a subscription push, say) is withheld, not sent under another key.
  const withheld = node.stats.withheld;
  node.outbox.send(at, [{ type: 'clientRes', reqId: 1, ok: true, result: '[]', cursor: '', more: false }]);
  assert.is(node.pollTransmit(), undefined);
  assert.is(node.stats.withheld, withheld + 1);
});

test('every op the client service serves has a role (a new op must be listed in client-auth.ts, or only admins may use it)', () => {
  const ops = Object.keys((node.client as unknown as { ops: Record<string, unknown> }).ops);
  assert.ok(ops.length >= 10);
  for (const op of ops) assert.is.not(roleNeeded(op), 'admin', `${op} is not classified as a read or a write`);
  assert.equal(['put', 'delete', 'resolve'].map(roleNeeded), ['write', 'write', 'write']);
  assert.equal(['keys.use', 'credentials.create', 'something-new'].map(roleNeeded), ['admin', 'admin', 'admin']);
});

test.run();
