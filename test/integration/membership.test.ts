/**
 * Real contactd processes on 127.0.0.1: five nodes join through one seed, a
 * kill -9'd node is found dead and rejoins from its data dir alone, SIGTERM
 * leaves gracefully, SIGHUP reloads, garbage datagrams are dropped and
 * counted, sd_notify and journald prefixes work. The steps share one
 * cluster and run in order; every wait is on a log record (or a metric),
 * never a fixed sleep.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSocket as createUnixSocket, type UnixDgramSocket } from 'unix-dgram';
import { encode } from 'cbor-x';
import {
  freeTcpPort, freeUdpPort, killAll, loggedAfter, memberRecord, startNode, tail, tempDir, waitForLog, type NodeProc,
} from './contactd-harness.ts';

const N = 5;
const nodes: NodeProc[] = [];
const ids: string[] = [];
let metricsPort = 0;
let configFile = '';
const notifications: string[] = [];
let notifySocket: UnixDgramSocket | undefined;

test.after(async () => {
  notifySocket?.close();
  await killAll();
});

const others = (i: number) => nodes.filter((_, j) => j !== i && nodes[j]!.exitStatus === undefined);

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.slice(name.length + 1)) : NaN;
}

test('five nodes join through one seed, and each logs every other alive', async () => {
  const base = tempDir();
  const ports = await Promise.all(Array.from({ length: N }, () => freeUdpPort()));
  metricsPort = await freeTcpPort();
  configFile = join(base, 'seed.json');
  writeFileSync(configFile, JSON.stringify({ name: 'n0', 'log-level': 'debug' }));
  // The seed runs as under systemd: a notify socket to report to, journald line prefixes.
  const notifyPath = join(base, 'notify.sock');
  notifySocket = createUnixSocket('unix_dgram', (buf) => notifications.push(buf.toString()));
  notifySocket.bind(notifyPath);
  nodes.push(startNode({
    name: 'n0', port: ports[0]!, dataDir: join(base, 'n0'), metricsPort, extraArgs: ['--config', configFile], omit: ['name', 'log-level'],
    env: { NOTIFY_SOCKET: notifyPath, JOURNAL_STREAM: '8:12345' },
  }));
  await waitForLog(nodes[0]!, 'joined', (r) => r.event === 'joined');
  for (let i = 1; i < N; i++) nodes.push(startNode({ name: `n${i}`, port: ports[i]!, dataDir: join(base, `n${i}`), join: [nodes[0]!.addr] }));
  for (const n of nodes) ids.push(String((await waitForLog(n, 'started', (r) => r.event === 'started')).id));
  await Promise.all(nodes.map((n) => waitForLog(n, 'joined', (r) => r.event === 'joined')));
  await Promise.all(nodes.flatMap((n, i) => others(i).map((o) =>
    waitForLog(n, `${o.name} alive`, memberRecord(ids[nodes.indexOf(o)]!, 'alive')))));
  assert.ok(notifications.some((m) => m.startsWith('READY=1')), `READY=1 not sent: ${JSON.stringify(notifications)}`);
  assert.is(new Set(ids).size, N, 'distinct node ids');
});

test('kill -9 one node: every other logs it dead', async () => {
  const victim = nodes[4]!;
  // The core saves its member list at once on joining and batches later changes (a few
  // seconds after them): wait for the save that follows the last member it learned, or
  // the victim would come back knowing only some of them.
  let lastLearned = await waitForLog(victim, 'joined', (r) => r.event === 'joined');
  for (const [i] of others(4).map((n) => [nodes.indexOf(n)] as const)) {
    const r = await waitForLog(victim, `n${i} alive`, memberRecord(ids[i]!, 'alive'));
    if (victim.records.indexOf(r) > victim.records.indexOf(lastLearned)) lastLearned = r;
  }
  await waitForLog(victim, 'members persisted after learning them all', loggedAfter(victim, lastLearned, (r) => r.event === 'persisted'));
  victim.child.kill('SIGKILL');
  await victim.exited;
  await Promise.all(others(4).map((n) => waitForLog(n, 'n4 dead', memberRecord(ids[4]!, 'dead'))));
});

test('restarted with its data dir and no --join, it rejoins at a higher incarnation', async () => {
  const before = Number((nodes[4]!.records.find((r) => r.event === 'started'))!.incarnation);
  const again = startNode({ name: 'n4', port: nodes[4]!.port, dataDir: nodes[4]!.dataDir });
  nodes[4] = again;
  const started = await waitForLog(again, 'started', (r) => r.event === 'started');
  assert.is(started.id, ids[4], 'same node id from the data dir');
  assert.equal(started.seeds, [], 'no seeds given');
  assert.ok(Number(started.knownMembers) >= N - 1, `restored the members it knew: ${JSON.stringify(started)}`);
  assert.ok(Number(started.incarnation) > before, `incarnation ${started.incarnation} > ${before}`);
  await waitForLog(again, 'joined', (r) => r.event === 'joined');
  await Promise.all(others(4).map((n) => waitForLog(n, 'n4 alive again',
    memberRecord(ids[4]!, 'alive', (r) => r.previous === 'dead' && Number(r.incarnation) > before))));
});

test('SIGTERM: the node leaves, exits 0, and every other logs it left', async () => {
  const leaver = nodes[3]!;
  await waitForLog(leaver, 'joined', (r) => r.event === 'joined');
  leaver.child.kill('SIGTERM');
  const status = await leaver.exited;
  assert.equal(status, { code: 0, signal: null }, tail(leaver));
  assert.ok(leaver.records.some((r) => r.event === 'stopped' && r.left === true), 'leave confirmed before exit');
  await Promise.all(others(3).map((n) => waitForLog(n, 'n3 left', memberRecord(ids[3]!, 'left'))));
});

test('garbage datagrams are dropped and counted, and the node keeps running', async () => {
  const seed = nodes[0]!;
  const sock = createSocket('udp4');
  const send = (bytes: Uint8Array) => new Promise<void>((resolve, reject) => sock.send(bytes, seed.port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  try {
    const malformedBefore = await metric('contactd_datagrams_dropped_total{direction="in",reason="malformed"}');
    const foreignBefore = await metric('contactd_datagrams_dropped_total{direction="in",reason="foreign-cluster"}');
    for (let i = 0; i < 20; i++) await send(Buffer.from(`garbage ${i} \xff\xfe`, 'latin1'));
    await send(new Uint8Array(0));
    await send(encode([1, 'another-cluster', '0123456789abcdef']));
    // Poll the metric until the datagrams are counted: a wait on a condition, bounded.
    const deadline = Date.now() + 10_000;
    let malformed = malformedBefore;
    let foreign = foreignBefore;
    while ((malformed < malformedBefore + 21 || foreign < foreignBefore + 1) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      malformed = await metric('contactd_datagrams_dropped_total{direction="in",reason="malformed"}');
      foreign = await metric('contactd_datagrams_dropped_total{direction="in",reason="foreign-cluster"}');
    }
    assert.ok(malformed >= malformedBefore + 21, `malformed ${malformedBefore} → ${malformed}`);
    assert.ok(foreign >= foreignBefore + 1, `foreign-cluster ${foreignBefore} → ${foreign}`);
  } finally {
    sock.close();
  }
  assert.is(seed.exitStatus, undefined, tail(seed));
  assert.is(await metric('contactd_members{state="alive"}'), N - 1, 'n0, n1, n2, n4 alive');
});

test('SIGHUP reloads the config file: new log level, and the new name reaches the others', async () => {
  const seed = nodes[0]!;
  writeFileSync(configFile, JSON.stringify({ 'log-level': 'info', name: 'n0-renamed', 'datagram-budget': 1300 }));
  seed.child.kill('SIGHUP');
  const r = await waitForLog(seed, 'reloaded', (x) => x.event === 'reloaded');
  assert.is(r.logLevel, 'info');
  assert.equal(r.needRestart, ['datagramBudgetBytes']);
  await Promise.all(others(0).map((n) => waitForLog(n, 'n0 renamed', memberRecord(ids[0]!, 'alive', (x) => x.name === 'n0-renamed'))));
});

test('a second SIGINT exits at once with 130; the seed reports STOPPING=1 on SIGTERM', async () => {
  const n2 = nodes[2]!;
  n2.child.kill('SIGINT');
  await waitForLog(n2, 'stopping', (r) => r.event === 'stopping');
  n2.child.kill('SIGINT');
  assert.equal(await n2.exited, { code: 130, signal: null }, tail(n2));
  const seed = nodes[0]!;
  seed.child.kill('SIGTERM');
  assert.equal(await seed.exited, { code: 0, signal: null }, tail(seed));
  assert.ok(notifications.some((m) => m.startsWith('STOPPING=1')), JSON.stringify(notifications));
  assert.ok(notifications.some((m) => /^STATUS=\d+ members alive/.test(m)), JSON.stringify(notifications));
});

test.run();
