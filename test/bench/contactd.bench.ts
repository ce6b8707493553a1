/**
 * contactd on real processes on 127.0.0.1, through the client protocol
 * (tui/client.ts, what the CLI uses).
 *
 * replication latency 10: ten members; writes go round-robin to each
 * member, first paced (one at a time, 20 a second), then as fast as the
 * members answer with CONCURRENCY in flight: the first is the latency, the
 * second the latency at saturation (queueing for the 2 cores the ten
 * members share). A write is acknowledged when its answer
 * arrives here; it is visible at a member when that member applies it, which
 * it logs at debug level (`event: contact`, node-events.ts) stamped with its
 * own clock (the machine's one wall clock, read by every process), so the
 * figure does not depend on how soon this process reads the logs. Latency =
 * the last member's apply time - the ack's arrival, 0 when every member had
 * it before the ack arrived. Goal: p99 under 50 ms.
 *
 * writes and memory 10k: three members; CLIENTS clients (a socket each)
 * create 10,000 contacts through one member as fast as it answers: the
 * first WARMUP_WRITES untimed (the members' JIT compiler and caches warm
 * up on them), then acknowledged writes per second (each answer comes
 * after the write's SQLite transaction committed, synchronous FULL) and
 * per-write latency, and the CPU every process spent per write: all of
 * them share this machine's cores, so the rate is what the whole cluster
 * and its clients leave room for, not what one member can take (its main
 * thread's CPU per write says that). Then, once every member holds the
 * 10,000 (its `stats`), resident memory (VmRSS) per member, beside the
 * same figure before the writes, and the CPU each member uses when idle
 * (probing and gossiping, no writes).
 *
 * import 10k: three keyed members (a cluster key, a write credential made
 * by a bootstrapped admin, as in production: an anonymous client is paced
 * to a server's limit for strangers, ~300 contacts a second, see
 * tui/import.ts); `contacts import` (the CLI as users run it:
 * dist/contacts.js, a process of its own) reads IMPORT_CONTACTS sample
 * contacts from a JSON lines file and sends them to one member in putMany
 * requests (~20 KB, ~33 contacts each, 4 in flight): the wall time of the
 * whole command (start-up included) and contacts per second; then how long
 * until every member holds them all.
 */
import { once } from 'node:events';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { newContactId, sampleContact } from '../../daemon/store/sample.ts';
import { ContactsClient, parseCredential, type ClientCredential } from '../../tui/client.ts';
import { generateKeyText } from '../../daemon/keys.ts';
import { freeUdpPort, killAll, memberRecord, runScript, startNode, tempDir, waitForLog, type NodeProc } from '../integration/contactd-harness.ts';
import { median, percentile, recordLoad, type Bench, type Record } from './harness.ts';
import { cpuSeconds, mainThreadCpuSeconds, rssBytes, runQueueWaitMs } from './real-cluster.ts';

const LATENCY_MEMBERS = 10;
const LATENCY_WARMUP = 20;
const LATENCY_WRITES = 500;
const CONCURRENCY = 4;
/** The paced run: one write at a time, one started every PACED_INTERVAL_MS (20 a second: well below what the members can take). */
const PACED_WRITES = 300;
const PACED_INTERVAL_MS = 50;
const THROUGHPUT_MEMBERS = 3;
const THROUGHPUT_WRITES = 10_000;
/** Written first, untimed: a member's first writes run unoptimised code. */
const WARMUP_WRITES = 1_000;
const CLIENTS = 16;
/** How long the idle members' CPU is watched (they gossip and probe, nothing else). */
const IDLE_MS = 10_000;
/** Bounds on waits (failures, not targets): starting Node processes on a busy 2-core machine is slow. */
const START_TIMEOUT_MS = 600_000;
const SETTLE_TIMEOUT_MS = 180_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts `n` members (the first is the seed) and waits until each has logged every other alive. */
async function cluster(n: number, logLevel: 'debug' | 'info', extraArgs: string[] = []): Promise<NodeProc[]> {
  const base = tempDir('contacts-bench-');
  const ports = await Promise.all(Array.from({ length: n }, () => freeUdpPort()));
  const level = { omit: ['log-level' as const], extraArgs: ['--log-level', logLevel, ...extraArgs] };
  const nodes = [startNode({ name: 'm0', port: ports[0]!, dataDir: join(base, 'm0'), ...level })];
  await waitForLog(nodes[0]!, 'joined', (r) => r.event === 'joined', START_TIMEOUT_MS);
  for (let i = 1; i < n; i++) nodes.push(startNode({ name: `m${i}`, port: ports[i]!, dataDir: join(base, `m${i}`), join: [nodes[0]!.addr], ...level }));
  const ids = await Promise.all(nodes.map(async (m) => String((await waitForLog(m, 'started', (r) => r.event === 'started', START_TIMEOUT_MS)).id)));
  await Promise.all(nodes.flatMap((m, i) => ids.filter((_, j) => j !== i).map((id) =>
    waitForLog(m, `${id} alive`, memberRecord(id, 'alive'), START_TIMEOUT_MS))));
  return nodes;
}

/** Creates sample contact `i`; resolves with its id once acknowledged. */
function put(client: ContactsClient, i: number): Promise<string> {
  const id = newContactId();
  return client.request('put', { opId: newContactId(), patch: { kind: 'create', contact: sampleContact(id, i) } }).then(() => id);
}

interface Write { id: string; sentAtMs: number; ackedAtMs: number }

/** Creates contacts `first`..`count - 1`, `loops` at a time, write i of loop k through `clientFor(i, k)`; when each was sent and acknowledged. */
async function writeMany(count: number, loops: number, clientFor: (i: number, loop: number) => ContactsClient, first = 0): Promise<Write[]> {
  const writes: Write[] = [];
  let next = first;
  await Promise.all(Array.from({ length: loops }, async (_, k) => {
    while (next < count) {
      const i = next++;
      const sentAtMs = Date.now();
      const id = await put(clientFor(i, k), i);
      writes.push({ id, sentAtMs, ackedAtMs: Date.now() });
    }
  }));
  return writes;
}

/** Creates `count` contacts one at a time, starting one every `intervalMs` (or when the last is acknowledged, if later). */
async function writePaced(count: number, intervalMs: number, clientFor: (i: number) => ContactsClient): Promise<Write[]> {
  const writes: Write[] = [];
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const wait = start + i * intervalMs - performance.now();
    if (wait > 0) await sleep(wait);
    const sentAtMs = Date.now();
    const id = await put(clientFor(i), i);
    writes.push({ id, sentAtMs, ackedAtMs: Date.now() });
  }
  return writes;
}

/** When each member applied each of `ids` (its own log time), once all have; fails after SETTLE_TIMEOUT_MS. */
async function appliedTimes(nodes: NodeProc[], ids: Set<string>): Promise<Map<string, number>[]> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  return Promise.all(nodes.map(async (node) => {
    const seen = new Map<string, number>();
    let cursor = 0;
    for (;;) {
      for (; cursor < node.records.length; cursor++) {
        const r = node.records[cursor]!;
        if (r.event === 'contact' && ids.has(String(r.id)) && !seen.has(String(r.id))) seen.set(String(r.id), Date.parse(String(r.time)));
      }
      if (seen.size === ids.size) return seen;
      if (Date.now() > deadline) throw new Error(`${node.name} applied ${seen.size} of ${ids.size} writes within ${SETTLE_TIMEOUT_MS} ms`);
      await Promise.race([once(node.child.stderr!, 'data'), sleep(1000)]);
    }
  }));
}

/** Resolves once every member's `stats` counts `count` contacts; fails after SETTLE_TIMEOUT_MS. */
async function untilHeld(nodes: NodeProc[], count: number, credential?: ClientCredential): Promise<void> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  for (const n of nodes) {
    const client = new ContactsClient({ servers: [n.addr], credential });
    try {
      for (;;) {
        const held = ((await client.request('stats')).result as { contacts: number }).contacts;
        if (held >= count) break;
        if (Date.now() > deadline) throw new Error(`${n.name} holds ${held} of ${count} contacts after ${SETTLE_TIMEOUT_MS} ms`);
        await sleep(500);
      }
    } finally {
      client.close();
    }
  }
}

/** A member's replication counters (`contacts stats`). */
async function replicationStats(n: NodeProc, credential?: ClientCredential): Promise<{ statesIn: number; catchUpStatesSent: number }> {
  const client = new ContactsClient({ servers: [n.addr], credential });
  try {
    return ((await client.request('stats')).result as { replication: { statesIn: number; catchUpStatesSent: number } }).replication;
  } finally {
    client.close();
  }
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
const mb = (bytes: number) => round(bytes / 1e6, 1);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function replicationLatency(record: Record): Promise<void> {
  const label = `replication latency ${LATENCY_MEMBERS}`;
  recordLoad(record, `${label}: at start`);
  const clients: ContactsClient[] = [];
  try {
    const nodes = await cluster(LATENCY_MEMBERS, 'debug');
    clients.push(...nodes.map((n) => new ContactsClient({ servers: [n.addr] })));
    await writeMany(LATENCY_WARMUP, 1, (i) => clients[i % nodes.length]!);
    const clientFor = (i: number) => clients[i % nodes.length]!;
    await measureLatency(record, `${label}, ${1000 / PACED_INTERVAL_MS} writes/s`, nodes, () => writePaced(PACED_WRITES, PACED_INTERVAL_MS, clientFor));
    await measureLatency(record, `${label}, ${CONCURRENCY} in flight`, nodes, () => writeMany(LATENCY_WRITES, CONCURRENCY, clientFor));
    recordLoad(record, `${label}: at end`);
  } finally {
    for (const c of clients) c.close();
    await killAll();
  }
}

/** Runs `write` against the members `nodes`; records how long its writes took to reach them all. */
async function measureLatency(record: Record, label: string, nodes: NodeProc[], write: () => Promise<Write[]>): Promise<void> {
  const waited = nodes.map((n) => runQueueWaitMs(n.child.pid!));
  const t0 = performance.now();
  const writes = await write();
  const waitShare = nodes.reduce((a, n, i) => a + runQueueWaitMs(n.child.pid!) - waited[i]!, 0) / nodes.length / (performance.now() - t0);
  const applied = await appliedTimes(nodes, new Set(writes.map((w) => w.id)));
  const allAt = (id: string) => Math.max(...applied.map((m) => m.get(id)!));
  const fromAck = writes.map((w) => Math.max(0, allAt(w.id) - w.ackedAtMs));
  const fromSend = writes.map((w) => allAt(w.id) - w.sentAtMs);
  record({ name: `${label}: writes measured`, value: writes.length, unit: '' });
  record({ name: `${label}: ack to applied at all, p50`, value: median(fromAck), unit: 'ms' });
  record({ name: `${label}: ack to applied at all, p99`, value: percentile(fromAck, 99), unit: 'ms', goal: 50 });
  record({ name: `${label}: ack to applied at all, max`, value: Math.max(...fromAck), unit: 'ms' });
  record({ name: `${label}: applied at all before the ack arrived`, value: writes.filter((w) => allAt(w.id) <= w.ackedAtMs).length, unit: 'writes' });
  record({ name: `${label}: send to applied at all, p50`, value: median(fromSend), unit: 'ms' });
  record({ name: `${label}: send to applied at all, p99`, value: percentile(fromSend, 99), unit: 'ms' });
  record({ name: `${label}: members waiting for a CPU, share of the time`, value: Math.round(waitShare * 100), unit: '%' });
}

async function writesAndMemory(record: Record): Promise<void> {
  recordLoad(record, 'writes 10k: at start');
  const clients: ContactsClient[] = [];
  try {
    const nodes = await cluster(THROUGHPUT_MEMBERS, 'info');
    await sleep(2000); // let start-up garbage be collected before the empty-store figure
    const rssEmpty = nodes.map((n) => rssBytes(n.child.pid!));
    const idleCpu = nodes.map((n) => cpuSeconds(n.child.pid!));
    await sleep(IDLE_MS);
    const idleMsPerS = nodes.map((n, i) => ((cpuSeconds(n.child.pid!) - idleCpu[i]!) * 1000) / (IDLE_MS / 1000));
    clients.push(...Array.from({ length: CLIENTS }, () => new ContactsClient({ servers: [nodes[0]!.addr], attemptTimeoutMs: 1000 })));
    await writeMany(WARMUP_WRITES, CLIENTS, (_, k) => clients[k]!);
    const timed = THROUGHPUT_WRITES - WARMUP_WRITES;
    const benchCpu = process.cpuUsage();
    const taker = nodes[0]!.child.pid!;
    const nodesCpu = nodes.map((n) => cpuSeconds(n.child.pid!));
    const takerMainCpu = mainThreadCpuSeconds(taker);
    const waited = runQueueWaitMs(taker);
    const t0 = performance.now();
    const writes = await writeMany(THROUGHPUT_WRITES, CLIENTS, (_, k) => clients[k]!, WARMUP_WRITES);
    const elapsedMs = performance.now() - t0;
    const nodesCpuMs = nodes.map((n, i) => (cpuSeconds(n.child.pid!) - nodesCpu[i]!) * 1000);
    const takerMainMs = (mainThreadCpuSeconds(taker) - takerMainCpu) * 1000;
    const waitShare = (runQueueWaitMs(taker) - waited) / elapsedMs;
    const used = process.cpuUsage(benchCpu);
    const clientsMs = (used.user + used.system) / 1000;
    const latencies = writes.map((w) => w.ackedAtMs - w.sentAtMs);
    record({ name: `writes: acknowledged creates per second into one of ${THROUGHPUT_MEMBERS} (${CLIENTS} clients, after ${WARMUP_WRITES} untimed)`, value: Math.round(timed / (elapsedMs / 1000)), unit: '/s' });
    record({ name: 'writes: latency p50', value: median(latencies), unit: 'ms' });
    record({ name: 'writes: latency p99', value: percentile(latencies, 99), unit: 'ms' });
    record({ name: 'writes: CPU of the clients (this process), share of the wall time', value: Math.round((clientsMs / elapsedMs) * 100), unit: '%' });
    // What one write costs the member that takes it and each member it replicates to.
    record({ name: 'writes: CPU of the member taking them, per write (all its threads)', value: round(nodesCpuMs[0]! / timed, 2), unit: 'ms' });
    record({ name: 'writes: CPU of its main thread, per write', value: round(takerMainMs / timed, 3), unit: 'ms' });
    record({ name: 'writes: what one core allows the member taking them (1 / main thread CPU)', value: Math.round(timed / (takerMainMs / 1000)), unit: 'writes/s' });
    record({ name: 'writes: CPU of each other member, per write (while writing)', value: round(Math.max(...nodesCpuMs.slice(1)) / timed, 2), unit: 'ms' });
    record({ name: 'writes: CPU of every process per write (members and clients), all on this machine', value: round((nodesCpuMs.reduce((a, b) => a + b, 0) + clientsMs) / timed, 2), unit: 'ms' });
    record({ name: 'writes: the member taking them, runnable but waiting for a CPU', value: Math.round(waitShare * 100), unit: '% of the time' });

    await untilHeld(nodes, THROUGHPUT_WRITES);
    const rss = nodes.map((n) => rssBytes(n.child.pid!));
    record({ name: `memory: resident per member at ${THROUGHPUT_WRITES.toLocaleString('en')} contacts, mean`, value: mb(mean(rss)), unit: 'MB' });
    record({ name: `memory: resident per member at ${THROUGHPUT_WRITES.toLocaleString('en')} contacts, max`, value: mb(Math.max(...rss)), unit: 'MB' });
    record({ name: 'memory: resident per member with no contacts, mean', value: mb(mean(rssEmpty)), unit: 'MB' });
    record({ name: `idle: CPU per member with no contacts (${THROUGHPUT_MEMBERS} members), mean`, value: round(mean(idleMsPerS), 1), unit: 'ms/s' });
    recordLoad(record, 'writes 10k: at end');
  } finally {
    for (const c of clients) c.close();
    await killAll();
  }
}

const IMPORT_CONTACTS = 10_000;

async function importTenK(record: Record): Promise<void> {
  const dir = tempDir('contacts-import-bench-');
  try {
    writeFileSync(join(dir, 'key'), generateKeyText(), { mode: 0o600 });
    const nodes = await cluster(THROUGHPUT_MEMBERS, 'info', ['--key-file', join(dir, 'key')]);
    const server = ['--server', nodes[0]!.addr];
    const as = (token?: string) => {
      const env = { ...process.env };
      for (const k of ['CONTACTS_SERVER', 'CONTACTS_CREDENTIAL', 'CONTACTS_CREDENTIAL_FILE', 'CONTACTS_STATE_DIR']) delete env[k];
      return { ...env, CONTACTS_STATE_DIR: dir, ...(token ? { CONTACTS_CREDENTIAL: token } : {}) };
    };
    const admin = await runScript('tui/bin.js', ['credentials', 'bootstrap', '--name', 'bench', ...server], as());
    if (admin.code !== 0) throw new Error(`credentials bootstrap: ${admin.stderr}`);
    const writer = await runScript('tui/bin.js', ['credentials', 'create', '--role', 'write', '--name', 'import', ...server], as(admin.stdout.trim()));
    if (writer.code !== 0) throw new Error(`credentials create: ${writer.stderr}`);
    const file = join(dir, 'contacts.jsonl');
    const lines = Array.from({ length: IMPORT_CONTACTS }, (_, i) => {
      const c = sampleContact(newContactId(), i);
      return JSON.stringify({ ...c, name: c.formattedName, structuredName: c.name, formattedName: undefined });
    });
    writeFileSync(file, lines.join('\n') + '\n');
    const pid = nodes[0]!.child.pid!;
    const [main0, cpu0, others0] = [mainThreadCpuSeconds(pid), cpuSeconds(pid), nodes.slice(1).map((n) => cpuSeconds(n.child.pid!))];
    const t = performance.now();
    const r = await runScript('tui/bin.js', ['import', file, ...server], as(writer.stdout.trim()));
    const importS = (performance.now() - t) / 1000;
    const perContactMs = (s0: number, s1: number) => round(((s1 - s0) * 1000) / IMPORT_CONTACTS, 3);
    if (r.code !== 0 || r.stdout !== `imported ${IMPORT_CONTACTS} of ${IMPORT_CONTACTS} contacts\n`) throw new Error(`contacts import: exit ${r.code}: ${r.stdout}${r.stderr}`);
    record({ name: `import ${IMPORT_CONTACTS.toLocaleString('en')} contacts: contacts import, whole command`, value: round(importS, 2), unit: 's' });
    record({ name: 'import: rate (whole command)', value: Math.round(IMPORT_CONTACTS / importS), unit: 'contacts/s' });
    const mainMs = perContactMs(main0, mainThreadCpuSeconds(pid));
    record({ name: 'import: main thread CPU of the member taking them, per contact', value: mainMs, unit: 'ms' });
    record({ name: 'import: what one core allows that member (1 / main thread CPU)', value: Math.round(1000 / mainMs), unit: 'contacts/s' });
    record({ name: 'import: CPU of the member taking them, per contact (all its threads)', value: perContactMs(cpu0, cpuSeconds(pid)), unit: 'ms' });
    record({ name: 'import: CPU of each other member, per contact (while importing)', value: Math.max(...nodes.slice(1).map((n, i) => perContactMs(others0[i]!, cpuSeconds(n.child.pid!)))), unit: 'ms' });
    const credential = parseCredential(admin.stdout.trim());
    await untilHeld(nodes, IMPORT_CONTACTS, credential);
    record({ name: `import: until all ${THROUGHPUT_MEMBERS} members hold every contact`, value: round((performance.now() - t) / 1000, 2), unit: 's' });
    // Each other member needs each contact once: what came beyond that was sent twice (catch-up racing the pushes, or repair).
    const stats = await Promise.all(nodes.map((n) => replicationStats(n, credential)));
    const statesIn = stats.slice(1).reduce((sum, s) => sum + s.statesIn, 0);
    record({ name: 'import: states each other member received, per contact', value: round(statesIn / ((THROUGHPUT_MEMBERS - 1) * IMPORT_CONTACTS), 3), unit: '' });
    record({ name: 'import: states sent by catch-up (all members), per contact', value: round(stats.reduce((sum, s) => sum + s.catchUpStatesSent, 0) / IMPORT_CONTACTS, 3), unit: '' });
    recordLoad(record, 'import 10k: at end');
  } finally {
    await killAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

const benches: Bench[] = [
  { name: 'contactd replication latency 10', run: replicationLatency },
  { name: 'contactd writes and memory 10k', run: writesAndMemory },
  { name: 'contactd import 10k', run: importTenK },
];

export default benches;
