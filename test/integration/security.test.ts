/**
 * Keyed contactd processes on 127.0.0.1: `contactd keygen`, a bad key file,
 * two nodes sealing everything they send, and replays of recorded
 * datagrams — in the same epoch, after the receiver restarts, after the
 * sender restarts — plus a forged plain membership message: each dropped
 * and counted under its reason, never acted on. B joins A through a small
 * UDP relay that records what B sends. Waits are on log records and
 * metrics, never a fixed sleep.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSocket, type Socket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodePacket } from '../../protocol/wire/codec.ts';
import { nodeId } from '../../protocol/types.ts';
import {
  freeTcpPort, freeUdpPort, killAll, loggedAfter, loggedSince, memberRecord, metric, runScript, startNode, tail, tempDir, waitForLog, waitForMetric,
  type NodeProc, type StartOptions,
} from './contactd-harness.ts';

const dropped = (reason: string) => `contactd_datagrams_dropped_total{direction="in",reason="${reason}"}`;

let base = '';
let keyFile = '';
let a: NodeProc;
let b: NodeProc;
let aOpts: StartOptions;
let bOpts: StartOptions;
let aId = '';
let bId = '';
let metricsPort = 0;
let relay: Socket | undefined;
const recorded: Buffer[] = [];

test.after(async () => {
  relay?.close();
  await killAll();
});

const run = (args: string[]) => runScript('daemon/bin.js', args);

/** Sends `datagrams` to A from a fresh socket. */
async function sendToA(datagrams: Uint8Array[]): Promise<void> {
  const s = createSocket('udp4');
  for (const d of datagrams) await new Promise<void>((resolve, reject) => s.send(d, a.port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  s.close();
}

/** A relay on loopback: what B sends to it goes to A (recorded), what A answers goes back to B. */
async function startRelay(aPort: number): Promise<number> {
  const s = createSocket('udp4');
  let bPort = 0;
  s.on('message', (msg, rinfo) => {
    if (rinfo.port === aPort) return void s.send(msg, bPort, '127.0.0.1');
    bPort = rinfo.port;
    recorded.push(Buffer.from(msg));
    s.send(msg, aPort, '127.0.0.1');
  });
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  relay = s;
  return s.address().port;
}

test('contactd keygen prints a fresh 32-byte key; a bad key file stops the start with what to do', async () => {
  const [k1, k2] = await Promise.all([run(['keygen']), run(['keygen'])]);
  for (const k of [k1, k2]) {
    assert.is(k.code, 0, k.stderr);
    assert.is(Buffer.from(k.stdout.trim(), 'base64').length, 32);
  }
  assert.is.not(k1.stdout, k2.stdout);
  base = tempDir();
  keyFile = join(base, 'cluster.key');
  writeFileSync(keyFile, k1.stdout, { mode: 0o600 });
  const badFile = join(base, 'bad.key');
  writeFileSync(badFile, 'not a key\n');
  const bad = startNode({ name: 'bad', port: await freeUdpPort(), dataDir: join(base, 'bad'), extraArgs: ['--key-file', badFile] });
  const status = await bad.exited;
  assert.is(status.code, 1, tail(bad));
  assert.match(String(bad.records.find((r) => r.event === 'start-failed')?.msg), 'not base64');
});

test('two keyed nodes join (B through a recording relay); both seal everything', async () => {
  const [aPort, bPort] = await Promise.all([freeUdpPort(), freeUdpPort()]);
  metricsPort = await freeTcpPort();
  aOpts = { name: 'a', port: aPort, dataDir: join(base, 'a'), metricsPort, extraArgs: ['--key-file', keyFile] };
  a = startNode(aOpts);
  await waitForLog(a, 'joined', (r) => r.event === 'joined');
  const encryption = await waitForLog(a, 'encryption', (r) => r.event === 'encryption');
  assert.is(encryption.mode, 'require');
  assert.not.ok(a.records.some((r) => r.event === 'unencrypted'));
  const relayPort = await startRelay(aPort);
  bOpts = { name: 'b', port: bPort, dataDir: join(base, 'b'), join: [`127.0.0.1:${relayPort}`], extraArgs: ['--key-file', keyFile] };
  b = startNode(bOpts);
  aId = String((await waitForLog(a, 'started', (r) => r.event === 'started')).id);
  bId = String((await waitForLog(b, 'started', (r) => r.event === 'started')).id);
  await waitForLog(a, 'b alive', memberRecord(bId, 'alive'));
  await waitForLog(b, 'a alive', memberRecord(aId, 'alive'));
  assert.ok(recorded.length > 0, 'the relay saw B join');
  assert.ok(recorded.every((d) => d[0] === 0xc5), 'everything B sent was sealed');
  assert.ok(await waitForMetric(metricsPort, 'contactd_datagrams_opened_total', (v) => v > 0) > 0);
});

test('replayed datagrams (same epoch) and a forged plain "dead" about B: dropped and counted; B stays alive', async () => {
  const replaysBefore = await metric(metricsPort, dropped('replay'));
  await sendToA(recorded);
  const replays = await waitForMetric(metricsPort, dropped('replay'), (v) => v >= replaysBefore + recorded.length);
  assert.is(replays, replaysBefore + recorded.length);
  const plainBefore = await metric(metricsPort, dropped('unauthenticated'));
  const forger = nodeId('f00df00df00df00d');
  await sendToA([encodePacket({ cluster: 'contacts', from: forger }, [{ type: 'dead', node: nodeId(bId), incarnation: 1_000, from: forger }])]);
  assert.is(await waitForMetric(metricsPort, dropped('unauthenticated'), (v) => v > plainBefore), plainBefore + 1);
  assert.not.ok(a.records.some(memberRecord(bId, 'dead')), 'the forged death was not acted on');
  assert.is(await metric(metricsPort, 'contactd_members{state="alive"}'), 2);
});

test('after A restarts, the same recordings are refused (addressed to its earlier life, or below the rebuilt window)', async () => {
  // A must have saved B as a member, or it would come back knowing nobody.
  const bAlive = a.records.find(memberRecord(bId, 'alive'))!;
  await waitForLog(a, 'membership saved with b', loggedAfter(a, bAlive, (r) => r.event === 'persisted' && r.key === 'membership'));
  a.child.kill('SIGTERM');
  assert.equal(await a.exited, { code: 0, signal: null }, tail(a));
  a = startNode(aOpts);
  await waitForLog(a, 'started', (r) => r.event === 'started');
  await waitForLog(a, 'b alive again', memberRecord(bId, 'alive'));
  const refused = async () => (await metric(metricsPort, dropped('stale-receiver'))) + (await metric(metricsPort, dropped('replay')));
  const before = await refused();
  await sendToA(recorded);
  const deadline = Date.now() + 10_000;
  while ((await refused()) < before + recorded.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.is(await refused(), before + recorded.length, 'every recording refused (a datagram taken is not counted as dropped)');
});

test('after B restarts (a new epoch), its old datagrams are refused as from an older epoch', async () => {
  // B must have saved A (back from its restart) as a member, or it would come back knowing nobody.
  const aBack = b.records.filter(memberRecord(aId, 'alive')).pop()!;
  await waitForLog(b, 'membership saved with a', loggedAfter(b, aBack, (r) => r.event === 'persisted' && r.key === 'membership'));
  b.child.kill('SIGKILL');
  await b.exited;
  const beforeRestart = a.records.length;
  b = startNode({ ...bOpts, join: [] }); // rejoins through the members it knew
  await waitForLog(b, 'started', (r) => r.event === 'started');
  // A saves the epoch of each sender it opens a datagram from: once it saved B's new one, B's recordings are from an older epoch.
  // (Not "A logs B alive at a higher incarnation": B back within a probe interval was never suspected, and alive to alive logs nothing.)
  await waitForLog(a, "b's new epoch opened", loggedSince(a, beforeRestart, (r) => r.event === 'persisted' && r.key === 'peer-epochs'));
  const before = await metric(metricsPort, dropped('stale-epoch'));
  await sendToA(recorded);
  assert.is(await waitForMetric(metricsPort, dropped('stale-epoch'), (v) => v >= before + recorded.length), before + recorded.length);
  assert.is(a.exitStatus, undefined);
});

test.run();
