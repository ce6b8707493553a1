/**
 * Client credentials and key rotation through the `contacts` CLI, against two
 * keyed contactd processes on 127.0.0.1: no credential → exit 4 saying what
 * to do; the first admin bootstrapped from this host; a read-only client
 * cannot write; a revoked one cannot read, at either node; then a rotation
 * (install, use, remove) while both keep serving, after which a node given
 * only the old key is locked out and the cluster says why. What the person
 * sees goes through the CLI; setup and polling go through the same client
 * library in this process (a CLI run costs a Node start). Waits poll (each
 * poll a real request) or wait on log records.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freeUdpPort, killAll, memberRecord, runScript, startNode, tempDir, waitForLog, type NodeProc, type RunResult } from './contactd-harness.ts';
import { ContactsClient, credentialToken, parseCredential } from '../../tui/client.ts';
import { generateKeyText } from '../../daemon/keys.ts';
import { nodeCrypto } from '../../daemon/node-crypto.ts';
import { credentialKey } from '../../protocol/security/client-envelope.ts';
import { hexOf } from '../../protocol/security/envelope.ts';

let base = '';
let a: NodeProc;
let b: NodeProc;
const cred: Record<string, string> = {};

test.after(killAll);

/** Runs `contacts ...args` as `who` (a credential file name in `cred`, or nobody). */
function cli(who: string | undefined, ...args: string[]): Promise<RunResult> {
  const env = { ...process.env };
  for (const k of ['CONTACTS_SERVER', 'CONTACTS_CREDENTIAL', 'CONTACTS_CREDENTIAL_FILE']) delete env[k];
  if (who) env.CONTACTS_CREDENTIAL_FILE = cred[who]!;
  return runScript('tui/bin.js', args, env);
}

function keep(name: string, token: string): void {
  cred[name] = join(base, `${name}.cred`);
  writeFileSync(cred[name]!, token, { mode: 0o600 });
  tokens[name] = token;
}
const tokens: Record<string, string> = {};

/** `op` at node `n` as `who`, through the client library in this process. */
async function ask(who: string, n: NodeProc, op: string, args: Record<string, unknown> = {}): Promise<unknown> {
  const client = new ContactsClient({ servers: [n.addr], credential: parseCredential(tokens[who]!), attemptTimeoutMs: 200, attemptsPerServer: 5 });
  try {
    return (await client.request(op, args)).result;
  } finally {
    client.close();
  }
}

/** Asks until `done` holds (each try a real request, 100 ms apart, at most 10 s). */
async function askUntil(what: string, done: (r: unknown) => boolean, who: string, n: NodeProc, op: string, args: Record<string, unknown> = {}): Promise<unknown> {
  let last: unknown;
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    try {
      last = await ask(who, n, op, args);
    } catch (err) {
      last = err;
    }
    if (done(last)) return last;
  }
  throw new Error(`${what}: not within 10 s; last answer ${last instanceof Error ? last.message : JSON.stringify(last)}`);
}

test('two keyed nodes; without a credential the CLI exits 4 and says what to do', async () => {
  base = tempDir();
  writeFileSync(join(base, 'k1'), generateKeyText(), { mode: 0o600 });
  const [pa, pb] = await Promise.all([freeUdpPort(), freeUdpPort()]);
  a = startNode({ name: 'a', port: pa, dataDir: join(base, 'a'), extraArgs: ['--key-file', join(base, 'k1')] });
  await waitForLog(a, 'joined', (r) => r.event === 'joined');
  b = startNode({ name: 'b', port: pb, dataDir: join(base, 'b'), join: [a.addr], extraArgs: ['--key-file', join(base, 'k1')] });
  const bId = String((await waitForLog(b, 'started', (r) => r.event === 'started')).id);
  await waitForLog(a, 'b alive', memberRecord(bId, 'alive'));
  const none = await cli(undefined, 'list', '--server', a.addr);
  assert.is(none.code, 4, none.stderr);
  assert.match(none.stderr, 'contacts credentials bootstrap');
});

test('bootstrap the first admin; it makes a reader and a writer; anonymous requests now get auth-required', async () => {
  const boot = await cli(undefined, 'credentials', 'bootstrap', '--name', 'ops', '--server', a.addr);
  assert.is(boot.code, 0, boot.stderr);
  keep('admin', boot.stdout.trim());
  const create = await cli('admin', 'credentials', 'create', '--role', 'read', '--name', 'reader', '--server', a.addr);
  assert.is(create.code, 0, create.stderr);
  keep('read', create.stdout.trim());
  const writer = { id: 'aaaaaaaaaaaaaaaa', secret: new Uint8Array(32).fill(5) };
  await ask('admin', a, 'credentials.create', { id: writer.id, role: 'write', name: 'writer', key: hexOf(credentialKey(nodeCrypto, writer.id, writer.secret)) });
  keep('write', credentialToken(writer));
  const anon = await cli(undefined, 'list', '--server', a.addr);
  assert.is(anon.code, 4);
  assert.match(anon.stderr, 'requires a credential');
  assert.match(anon.stderr, 'CONTACTS_CREDENTIAL');
  const roles = (r: unknown) => (r as { role: string }[]).map((c) => c.role).sort().join();
  await askUntil('credentials replicated to b', (r) => Array.isArray(r) && roles(r) === 'admin,read,write', 'admin', b, 'credentials.list');
});

test('a read-only client cannot write; a writer can, and the reader reads it at the other node', async () => {
  const denied = await cli('read', 'add', '--name', 'Ada', '--server', a.addr);
  assert.is(denied.code, 4);
  assert.match(denied.stderr, 'role read');
  const added = await cli('write', 'add', '--name', 'Ada', '--server', a.addr);
  assert.is(added.code, 0, added.stderr);
  const id = added.stdout.trim();
  await askUntil('the contact at b', (r) => (r as { id?: string }).id === id, 'read', b, 'get', { id });
});

test('a revoked credential stops working at every node', async () => {
  const reader = tokens.read!.slice(0, 16);
  const revoke = await cli('admin', 'credentials', 'revoke', reader, '--server', a.addr);
  assert.is(revoke.code, 0, revoke.stderr);
  // Wait until b has the news (asked through the library), then show it through the CLI at both.
  await askUntil('revoked at b', (r) => r instanceof Error && r.name === 'AuthRequiredError', 'read', b, 'list');
  for (const n of [a, b]) {
    const r = await cli('read', 'list', '--server', n.addr);
    assert.is(r.code, 4, `at ${n.name}: ${r.stderr}`);
    assert.match(r.stderr, 'refused this credential');
  }
});

test('rotation: install, use, remove while both keep serving; the old key is gone everywhere', async () => {
  type KeyList = { primary: string; keys: { id: string; heldBy: string[]; sealingWith: string[] }[] };
  const old = ((await ask('admin', a, 'keys.list')) as KeyList).primary;
  const k2 = generateKeyText().trim();
  const installed = await cli('admin', 'keys', 'install', k2, '--server', a.addr);
  assert.is(installed.code, 0, installed.stderr);
  const newId = /installed key ([0-9a-f]{8})/.exec(installed.stdout)![1]!;
  await askUntil('every member holds the new key', (r) => (r as KeyList).keys?.find((k) => k.id === newId)?.heldBy.length === 2, 'admin', b, 'keys.list');
  const early = await cli('admin', 'keys', 'remove', old, '--server', b.addr);
  assert.is(early.code, 1, 'the primary cannot be removed');
  assert.match(early.stderr, 'is the primary');
  const use = await cli('admin', 'keys', 'use', newId, '--server', b.addr);
  assert.is(use.code, 0, use.stderr);
  await askUntil('every member seals with the new key', (r) => (r as KeyList).keys?.find((k) => k.id === newId)?.sealingWith.length === 2, 'admin', a, 'keys.list');
  const removed = await cli('admin', 'keys', 'remove', old, '--server', a.addr);
  assert.is(removed.code, 0, removed.stderr);
  await askUntil('the old key is gone at b', (r) => (r as KeyList).keys?.map((k) => k.id).join() === newId, 'admin', b, 'keys.list');
  const id = '01HZZZZZZZZZZZZZZZZZZZZZZY';
  await ask('write', b, 'put', { opId: 'op-after-rotation', patch: { kind: 'create', contact: { id, formattedName: 'After Rotation' } } });
  await askUntil('the new contact at a', (r) => (r as { id?: string }).id === id, 'write', a, 'get', { id });
  writeFileSync(join(base, 'k2'), k2 + '\n', { mode: 0o600 });
});

test('a node with only the old key is locked out, and the cluster says why', async () => {
  const c = startNode({ name: 'c', port: await freeUdpPort(), dataDir: join(base, 'c'), join: [a.addr], extraArgs: ['--key-file', join(base, 'k1')] });
  const alert = await waitForLog(a, 'key-alert', (r) => r.event === 'key-alert' && r.removedByRotation === true);
  assert.match(String(alert.msg), 'missed the rotation');
  assert.match(String(alert.msg), '--key-file');
  assert.not.ok(a.records.some((r) => r.event === 'member' && r.name === 'c'), 'c never joined');
  // c itself hears nothing it can open; after a few tries it says what that may mean.
  const retry = await waitForLog(c, 'join-retry with the key hint', (r) => r.event === 'join-retry' && Number(r.attempt) >= 3);
  assert.match(String(retry.msg), 'key rotation');
  c.child.kill('SIGKILL');
  await c.exited;
  // Given the current key, the same node joins.
  const c2 = startNode({ name: 'c', port: c.port, dataDir: join(base, 'c2'), join: [a.addr], extraArgs: ['--key-file', join(base, 'k2')] });
  await waitForLog(c2, 'joined', (r) => r.event === 'joined' && Number(r.members) === 3);
});

test.run();
