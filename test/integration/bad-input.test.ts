/**
 * Bad input at a running contactd: a few thousand random and mutated
 * datagrams (seeded; the seed is printed) sent at its port on 127.0.0.1.
 * It must stay up and keep answering, count what it dropped by reason in
 * `contacts stats --json`, and never count an internal error. The corpus
 * holds no message that carries an address (alive, pingReq, pushPull), so
 * no mutation can point the daemon anywhere but back at us on loopback;
 * the test checks that afterwards too.
 *
 * Also here: an invalid contact is refused by the CLI with an error that
 * names the field.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSocket, type Socket } from 'node:dgram';
import { join } from 'node:path';
import { freeUdpPort, killAll, startNode, tail, tempDir, waitForLog, type NodeProc } from './contactd-harness.ts';
import { SeededRng } from '../../protocol/rng.ts';
import { corpus, junk } from '../fuzz-datagrams.ts';
import { run } from '../../tui/cli.ts';
import { ContactsClient } from '../../tui/client.ts';
const SEED = Number(process.env.BAD_INPUT_SEED ?? Date.now() % 1_000_000);
const DATAGRAMS = 4000;
let node: NodeProc;

test.after(killAll);

interface CliRun { code: number | null; stdout: string; stderr: string }

/** Runs `contacts ...args --server NODE` in this process (the binary itself is tested in cli.test.ts). */
async function cli(...args: string[]): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await run([...args, '--server', node.addr], { out: (t) => void (stdout += t), err: (t) => void (stderr += t), env: {} });
  return { code, stdout, stderr };
}

type Stats = { badInput: { total: number; byReason: Record<string, number> }; node: { datagramsIn: number } };

async function stats(): Promise<Stats> {
  const r = await cli('stats', '--json');
  assert.is(r.code, 0, `${r.stderr}contactd: ${JSON.stringify(node.exitStatus ?? 'running')}; its last lines:\n${tail(node)}`);
  return JSON.parse(r.stdout) as Stats;
}

function send(sock: Socket, bytes: Uint8Array, port: number): Promise<void> {
  return new Promise((resolve) => sock.send(bytes, port, '127.0.0.1', () => resolve()));
}

test('contactd starts', async () => {
  const port = await freeUdpPort();
  node = startNode({ name: 'target', port, dataDir: join(tempDir(), 'target') });
  await waitForLog(node, 'joined', (r) => r.event === 'joined');
});

test(`${DATAGRAMS} random and mutated datagrams: still up and answering, drops counted by reason`, async () => {
  console.log(`bad input: SEED=${SEED} (rerun with BAD_INPUT_SEED=${SEED})`);
  const before = await stats();
  const rng = new SeededRng(SEED);
  const packets = corpus(rng);
  // A stranger's datagrams are rate-limited (burst 400, then 200/s) before anything decodes them: so that the
  // decoders see the junk, it comes from a new loopback address every PER_SOURCE datagrams.
  const PER_SOURCE = 350;
  const socks: Socket[] = [];
  for (let k = 0; k * PER_SOURCE < DATAGRAMS; k++) {
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, `127.0.0.${2 + k}`, () => r()));
    sock.on('message', () => undefined); // acks and answers to our junk
    socks.push(sock);
  }
  // After each burst, a request on another socket: its answer says the daemon read the burst, so the
  // kernel's receive buffer never fills (a dropped datagram there would test nothing).
  const probe = new ContactsClient({ servers: [node.addr] });
  try {
    for (let i = 0; i < DATAGRAMS; i++) {
      await send(socks[Math.floor(i / PER_SOURCE)]!, junk(rng, packets), node.port);
      if (i % 50 === 49) await probe.request('hello');
    }
  } finally {
    for (const sock of socks) sock.close();
    probe.close();
  }
  const after = await stats();
  assert.is(node.exitStatus, undefined, `contactd exited: ${JSON.stringify(node.exitStatus)}\n${tail(node)}`);
  const rose = (r: string) => (after.badInput.byReason[r] ?? 0) - (before.badInput.byReason[r] ?? 0);
  const received = after.node.datagramsIn - before.node.datagramsIn;
  const counted = Object.keys(after.badInput.byReason).filter((r) => rose(r) > 0).map((r) => `${r} ${rose(r)}`);
  console.log(`bad input: contactd read ${received} datagrams (${DATAGRAMS} of junk, the rest probes), dropped ${after.badInput.total - before.badInput.total}: ${counted.join(', ')}`);
  assert.ok(received >= DATAGRAMS, `contactd read ${received} datagrams, fewer than the ${DATAGRAMS} sent`);
  for (const r of ['malformed', 'foreign-cluster', 'bad-version', 'bad-schema', 'unknown-message', 'stray-client-message']) assert.ok(rose(r) > 0, `no ${r} counted: ${JSON.stringify(after.badInput)}`);
  assert.ok(after.badInput.total - before.badInput.total >= DATAGRAMS / 3, `only ${after.badInput.total - before.badInput.total} counted`);
  assert.is(after.badInput.byReason['internal-error'], 0, 'the codec never threw');
  const text = await cli('stats');
  assert.match(text.stdout, /^bad input dropped +\d+/m);
  assert.match(text.stdout, /^ {2}foreign-cluster +[1-9]\d*$/m);
  // Still a working server, and it was never pointed off loopback.
  const add = await cli('add', '--name', 'Still Here');
  assert.is(add.code, 0, add.stderr);
  assert.is((await cli('get', add.stdout.trim())).code, 0);
  const members = JSON.parse((await cli('members', '--json')).stdout) as { address: string }[];
  for (const m of members) assert.match(m.address, /^127\./);
});

test('an invalid contact is refused by the CLI with an error naming the field', async () => {
  const cases: [string[], RegExp][] = [
    [['add', '--name', 'Bad Email', '--email', 'not-an-email'], /emails\[0\]\.value/],
    [['add', '--name', 'Bad Phone', '--phone', 'call me'], /phones\[0\]\.value/],
    [['add', '--name', 'x'.repeat(300)], /formattedName/],
  ];
  for (const [args, field] of cases) {
    const r = await cli(...args);
    assert.is(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, field);
  }
});

test.run();
