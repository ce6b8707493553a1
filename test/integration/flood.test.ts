/**
 * A flood on loopback: 100,000 unauthenticated datagrams (plain pings that
 * would draw an ack from a node without a key, sealed-looking junk under
 * the cluster's real key id, random bytes) from 16 sockets, as fast as
 * this process sends them, at a keyed contactd. It must send not one byte
 * back to the flooders, keep its peer's view of it clean (no suspicion: its
 * acks kept within the probe timeout), answer a client in the middle of
 * it, and keep its memory bounded. Client requests are the one kind of
 * unauthenticated datagram that is answered (one small auth-required, so a
 * wrong credential never looks like a dead cluster): a flood of forged ones
 * draws a few answers a second per source, each smaller than its request.
 * Prints what it measured.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  freeTcpPort, freeUdpPort, killAll, memberRecord, metric, startNode, tempDir, waitForLog, waitForMetric, type NodeProc,
} from './contactd-harness.ts';
import { ContactsClient, credentialToken, parseCredential } from '../../tui/client.ts';
import { generateKeyText } from '../../daemon/keys.ts';
import { nodeCrypto } from '../../daemon/node-crypto.ts';
import { credentialKey } from '../../protocol/security/client-envelope.ts';
import { hexOf } from '../../protocol/security/envelope.ts';
import { encodePacket } from '../../protocol/wire/codec.ts';
import { nodeId } from '../../protocol/types.ts';

const FLOOD = 100_000;
const SOCKETS = 16;
const sockets: Socket[] = [];

test.after(async () => {
  for (const s of sockets) s.close();
  await killAll();
});

const rssKiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

test('100,000 unauthenticated datagrams: zero bytes back, no suspicion at the peer, a client served, memory bounded', async () => {
  const base = tempDir();
  writeFileSync(join(base, 'k'), generateKeyText(), { mode: 0o600 });
  const [pa, pb, metricsPort] = await Promise.all([freeUdpPort(), freeUdpPort(), freeTcpPort()]);
  const a: NodeProc = startNode({ name: 'a', port: pa, dataDir: join(base, 'a'), metricsPort, extraArgs: ['--key-file', join(base, 'k')] });
  await waitForLog(a, 'joined', (r) => r.event === 'joined');
  const keyId = parseInt(String((await waitForLog(a, 'encryption', (r) => r.event === 'encryption')).primary), 16);
  const b: NodeProc = startNode({ name: 'b', port: pb, dataDir: join(base, 'b'), join: [a.addr], extraArgs: ['--key-file', join(base, 'k')] });
  const aId = String((await waitForLog(a, 'started', (r) => r.event === 'started')).id);
  await waitForLog(b, 'a alive', memberRecord(aId, 'alive'));

  // A client with a credential (the first admin, bootstrapped from this host).
  const cred = { id: randomBytes(8).toString('hex'), secret: new Uint8Array(randomBytes(32)) };
  const anon = new ContactsClient({ servers: [a.addr] });
  await anon.request('credentials.bootstrap', { id: cred.id, name: 'flood-test', key: hexOf(credentialKey(nodeCrypto, cred.id, cred.secret)) });
  anon.close();
  const client = new ContactsClient({ servers: [a.addr], credential: parseCredential(credentialToken(cred)) });

  // The flooders, listening for any reply.
  let repliedBytes = 0;
  for (let i = 0; i < SOCKETS; i++) {
    const s = createSocket('udp4');
    s.on('message', (m) => (repliedBytes += m.length));
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
    sockets.push(s);
  }
  const ping = encodePacket({ cluster: 'contacts', from: nodeId('f1f1f1f1f1f1f1f1') }, [{ type: 'ping', seq: 7, target: nodeId(aId) }]);
  const sealedJunk = (): Uint8Array => {
    const d = new Uint8Array(randomBytes(120));
    d[0] = 0xc5;
    new DataView(d.buffer).setUint32(1, keyId);
    return d;
  };
  const junk = (): Uint8Array => {
    const d = new Uint8Array(randomBytes(64));
    if (d[0] === 0xc6) d[0] = 0; // that would be a client request: see the next test
    return d;
  };
  const kinds = [() => ping, sealedJunk, junk];

  const rssBefore = rssKiB(a.child.pid!);
  const started = Date.now();
  let served: Promise<unknown> | undefined;
  for (let sent = 0; sent < FLOOD; ) {
    const batch: Promise<void>[] = [];
    for (let k = 0; k < 2000 && sent < FLOOD; k++, sent++) {
      const s = sockets[sent % SOCKETS]!;
      const d = kinds[sent % kinds.length]!();
      batch.push(new Promise((resolve) => s.send(d, pa, '127.0.0.1', () => resolve())));
    }
    await Promise.all(batch);
    // Mid-flood, a client asks.
    if (sent >= FLOOD / 2 && !served) served = client.request('list');
  }
  const floodMs = Date.now() - started;
  const answer = (await served) as { result: unknown };
  assert.ok(Array.isArray(answer.result), 'the client was served during the flood');
  client.close();

  // Let the node work through what the kernel kept, then look.
  const counted = async () => {
    let n = 0;
    for (const r of ['rate-limited', 'unauthenticated', 'unknown-key', 'bad-seal', 'stale-receiver', 'malformed']) n += await metric(metricsPort, `contactd_datagrams_dropped_total{direction="in",reason="${r}"}`);
    return n;
  };
  let last = -1;
  for (let now = await counted(); now !== last; now = await counted()) {
    last = now;
    await waitForMetric(metricsPort, 'contactd_datagrams_received_total', () => false, 300);
  }
  const rssAfter = rssKiB(a.child.pid!);
  const limited = await metric(metricsPort, 'contactd_datagrams_dropped_total{direction="in",reason="rate-limited"}');
  const sources = await metric(metricsPort, 'contactd_rate_limited_sources');
  console.log(`flood: ${FLOOD} datagrams in ${floodMs} ms (${Math.round(FLOOD / (floodMs / 1000))}/s); node counted ${last} dropped (${limited} rate-limited; the rest lost in the kernel's buffer); ` +
    `${repliedBytes} bytes replied; RSS ${Math.round(rssBefore / 1024)} → ${Math.round(rssAfter / 1024)} MiB; ${sources} sources with state`);

  assert.is(repliedBytes, 0, 'not one byte to the flooders');
  assert.ok(last > FLOOD / 10, `the node saw and dropped the flood (${last})`);
  assert.ok(rssAfter - rssBefore < 64 * 1024, `RSS grew ${rssAfter - rssBefore} KiB`);
  assert.ok(sources <= 3 * 4096, `${sources} sources with state`);
  assert.not.ok(b.records.some((r) => r.event === 'member' && r.id === aId && r.state !== 'alive'), 'b never suspected a');
  assert.is(a.exitStatus, undefined);
  floodTarget = a;
});

let floodTarget: NodeProc;

test('10,000 forged client requests from one source: a few small auth-required answers, none larger than its request', async () => {
  const s = sockets[0]!;
  let answers = 0;
  let largest = 0;
  s.removeAllListeners('message');
  s.on('message', (m) => {
    answers++;
    largest = Math.max(largest, m.length);
  });
  const request = new Uint8Array(randomBytes(100));
  request[0] = 0xc6; // a request envelope naming a credential nobody has
  const started = Date.now();
  for (let i = 0; i < 10_000; i += 1000) {
    await Promise.all(Array.from({ length: 1000 }, () => new Promise<void>((resolve) => s.send(request, floodTarget.port, '127.0.0.1', () => resolve()))));
  }
  // The last answers, if any, are on their way: wait on a real request's round trip to the node.
  const probe = new ContactsClient({ servers: [floodTarget.addr] });
  await probe.request('hello').catch(() => undefined);
  probe.close();
  const seconds = (Date.now() - started) / 1000;
  console.log(`forged client requests: 10000 in ${seconds.toFixed(1)} s drew ${answers} answers, largest ${largest} bytes (request ${request.length})`);
  assert.ok(largest <= request.length);
  assert.ok(answers <= 4 + 2 * Math.ceil(seconds + 1), `${answers} answers`);
});

test.run();
