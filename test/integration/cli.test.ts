/**
 * The `contacts` CLI against three real contactd processes on 127.0.0.1:
 * add at one, read at another once replication brings it there, then
 * kill -9 the first and ask with `--server A --server B`: the CLI fails
 * over to B, and a CLI that was pointed at A alone goes through a member
 * an earlier run heard of. Waits poll the CLI a bounded number of times (each poll is a
 * real request, so it waits on the cluster, not on the clock).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, cliIn, killAll, startCluster, tempDir, type CliRun, type NodeProc } from './contactd-harness.ts';

const nodes: NodeProc[] = [];
let id = '';

test.after(killAll);

/** Runs the CLI until `done` says yes, at most `attempts` times; the last run otherwise fails the test. */
async function cliUntil(what: string, attempts: number, done: (r: CliRun) => boolean, ...args: string[]): Promise<CliRun> {
  let r: CliRun | undefined;
  for (let i = 0; i < attempts; i++) {
    r = await cli(...args);
    if (done(r)) return r;
  }
  throw new Error(`${what}: not after ${attempts} runs of contacts ${args.join(' ')}; last: ${JSON.stringify(r)}`);
}

test('three nodes form a cluster', async () => {
  nodes.push(...(await startCluster(['a', 'b', 'c'])));
});

test('add at A prints the new id; members --json at A lists all three', async () => {
  const [a] = nodes;
  const r = await cli('add', '--name', 'Zoë Émile', '--phone', '+1 555 0100', '--email', 'zoe@example.org', '--server', a!.addr);
  assert.is(r.code, 0, r.stderr);
  id = r.stdout.trim();
  assert.match(id, /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/);
  const m = await cli('members', '--json', '--server', a!.addr);
  assert.is(m.code, 0, m.stderr);
  const members = JSON.parse(m.stdout) as Record<string, unknown>[];
  assert.equal(members.map((x) => x.name).sort(), ['a', 'b', 'c']);
  for (const x of members) {
    assert.is(x.state, 'alive');
    assert.type(x.address, 'string');
    assert.type(x.incarnation, 'number');
    assert.ok('lastHeardMsAgo' in x);
  }
});

test('get and list --json at C return it once replicated', async () => {
  const c = nodes[2]!;
  const got = await cliUntil('the contact at C', 50, (r) => r.code === 0, 'get', id, '--json', '--server', c.addr);
  assert.is(JSON.parse(got.stdout).formattedName, 'Zoë Émile');
  const list = await cli('list', '--json', '--server', c.addr);
  assert.is(list.code, 0, list.stderr);
  const all = JSON.parse(list.stdout) as { id: string; name: string; formattedName: string }[];
  assert.equal(all.map((x) => [x.id, x.formattedName]), [[id, 'Zoë Émile']]);
  assert.equal(all.map((x) => x.name), ['Zoë Émile'], 'list --json objects carry `name`, the display name');
  const found = await cli('search', 'zoe', 'EMILE', '--server', c.addr);
  assert.is(found.code, 0, found.stderr);
  assert.match(found.stdout, id);
});

test('history at C tells the create made at A: node, kind, fields', async () => {
  const c = nodes[2]!;
  const r = await cli('history', id, '--json', '--server', c.addr);
  assert.is(r.code, 0, r.stderr);
  const h = JSON.parse(r.stdout) as { deleted: boolean; entries: { nodeName: string; kind: string; fields: string[]; atMs: number }[] };
  assert.is(h.deleted, false);
  assert.equal(h.entries.map((e) => [e.nodeName, e.kind, e.fields]), [['a', 'create', ['emails', 'formattedName', 'phones']]]);
  assert.ok(Math.abs(h.entries[0]!.atMs - Date.now()) < 600_000, 'atMs is wall-clock time');
  const text = await cli('history', id, '--server', c.addr);
  assert.match(text.stdout, /^WHEN +NODE +KIND +FIELDS +OP\n.* a \([0-9a-f]{16}\) +create +emails, formattedName, phones +[0-9A-Z]{26}\n$/);
});

test('with A killed -9, --server A --server B still answers through B', async () => {
  const [a, b] = nodes;
  // A CLI run through A alone, so that the next one has only the members it heard of then.
  const remembered = tempDir('contacts-state-');
  assert.is((await cliIn(remembered, 'get', id, '--server', a!.addr)).code, 0);
  a!.child.kill('SIGKILL');
  await a!.exited;
  // Pointed at dead A alone: the next command goes through a member the previous one heard of.
  const next = await cliIn(remembered, 'get', id, '--json', '--server', a!.addr);
  assert.is(next.code, 0, next.stderr);
  assert.is(JSON.parse(next.stdout).id, id);
  assert.match(next.stderr, new RegExp(`${a!.addr} did not answer; trying 127\\.0\\.0\\.1:\\d+ \\(a member an earlier command heard of\\)`));
  const r = await cli('get', id, '--json', '--server', a!.addr, '--server', b!.addr);
  assert.is(r.code, 0, r.stderr);
  assert.is(JSON.parse(r.stdout).id, id);
  assert.match(r.stderr, `${a!.addr} did not answer; trying ${b!.addr}`);
  // A write through failover, then read back at C.
  const add = await cli('add', '--name', 'After Failover', '--json', '--server', a!.addr, '--server', b!.addr);
  assert.is(add.code, 0, add.stderr);
  const newId = (JSON.parse(add.stdout) as { id: string }).id;
  await cliUntil('the second contact at C', 50, (x) => x.code === 0, 'get', newId, '--server', nodes[2]!.addr);
});

test('exit codes: not found 1, usage 2, no server 3', async () => {
  const b = nodes[1]!;
  assert.is((await cli('get', '01HZZZZZZZZZZZZZZZZZZZZZZZ', '--server', b.addr)).code, 1);
  assert.is((await cli('add', '--server', b.addr)).code, 2);
  assert.is((await cli('frobnicate')).code, 2);
  const none = await cliIn(tempDir('contacts-state-'), 'list', '--server', nodes[0]!.addr);
  assert.is(none.code, 3);
  assert.match(none.stderr, 'no server answered');
});

test.run();
