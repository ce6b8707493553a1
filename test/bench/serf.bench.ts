/**
 * Membership on real processes, contactd against Serf (Debian's `serf`,
 * installed here when missing), both at LAN defaults, at 10 and 30 members,
 * one after the other in network namespaces of their own: the baseline of
 * every contactd figure is Serf's, measured in the same run.
 *
 * What is measured, the same way for both (real-cluster.ts):
 * - time to full membership: from spawning the joiners (all at once,
 *   each given the one seed, which is already up) until every member has
 *   said every other is alive; for contactd also how much of it was process
 *   start (Node takes a few hundred ms of CPU, far more wall time on a busy
 *   machine, where Serf's Go binary takes milliseconds), and the rest: from
 *   the last member's start (its `started` line) to full membership;
 * - resident memory per member (VmRSS), at the end of a quiet window;
 * - bytes per second per member: the namespace's loopback tx counter over
 *   WINDOW_MS with nothing else running inside (IP, UDP and TCP headers
 *   included; Serf's push/pull runs every 30 s, hence the window); and
 *   the CPU each member used in that window (/proc/PID/stat);
 * - detection: KILLS members are kill -9'd one after another; for each,
 *   the time from the kill until every survivor has said it is dead
 *   (contactd `dead`, Serf `EventMemberFailed`), and until the first one
 *   suspected it. Goal: contactd's median at most 0.8 of Serf's;
 * - false positives: live members anyone marked dead (goal 0), and
 *   suspicions of live members (for information).
 * Times are when the bench read each line, for both systems. The load
 * average is recorded before and after: 30 + 30 processes on a shared
 * 2-core machine are heavy, and start-up figures move with it.
 */
import { killAll } from '../integration/contactd-harness.ts';
import { median, recordLoad, type Bench, type Record } from './harness.ts';
import { cpuSeconds, ensureSerf, Netns, rssBytes, startContactd, startSerf, type ContactdMember, type Member, type MemberEvent } from './real-cluster.ts';

const SIZES = [10, 30] as const;
const KILLS = 3;
/** Quiet time after full membership before the window (the join's gossip dies down). */
const SETTLE_MS = 5_000;
/** Long enough to hold one of Serf's 30 s push/pulls. */
const WINDOW_MS = 32_000;
/** Bounds on waits: failures, not targets. */
const JOIN_TIMEOUT_MS = 600_000;
const DETECT_TIMEOUT_MS = 120_000;
const BASE_PORT = 20_000;
const RPC_BASE_PORT = 21_000;

interface Run {
  fullMs: number;
  /** contactd only: from spawning the joiners until the last had started. */
  startupMs?: number;
  rssMeanBytes: number;
  rssMaxBytes: number;
  bytesPerSecPerMember: number;
  packetsPerSecPerMember: number;
  /** CPU (user + system) per member over the quiet window, as a share of one core. */
  cpuShareMean: number;
  detectMs: number[];
  firstSuspectMs: number[];
  falseDeaths: number;
  falseSuspicions: number;
}

type System = 'contactd' | 'serf';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function startMember(system: System, ns: Netns, i: number): Member | ContactdMember {
  const name = `${system === 'serf' ? 's' : 'c'}${i}`;
  const seed = i === 0 ? undefined : `127.0.0.1:${BASE_PORT}`;
  return system === 'serf'
    ? startSerf(ns, name, BASE_PORT + i, RPC_BASE_PORT + i, seed)
    : startContactd(ns, name, BASE_PORT + i, seed ? [seed] : []);
}

async function measure(system: System, n: number): Promise<Run> {
  const ns = Netns.create(`${system}${n}`);
  const members: (Member | ContactdMember)[] = [];
  try {
    const joined = await join(system, ns, n, members);
    await sleep(SETTLE_MS);
    const quiet = await quietWindow(members);
    const detection = await killOneByOne(members);
    const events = members.flatMap((m) => m.log.events).filter((e) => e.atMs >= joined.fullAtMs && !detection.victims.includes(e.subject));
    return {
      ...joined, ...quiet, ...detection,
      falseDeaths: events.filter((e) => e.state === 'dead').length,
      falseSuspicions: events.filter((e) => e.state === 'suspect').length,
    };
  } finally {
    for (const m of members) m.kill();
    await Promise.all(members.map((m) => withTimeout(m.exited, 10_000, `${m.name} exit`).catch(() => undefined)));
    ns.remove();
    await killAll(); // contactd's data directories
  }
}

/** Starts the seed, then the n - 1 others at once, into `members`; waits until every member has every other alive. */
async function join(system: System, ns: Netns, n: number, members: (Member | ContactdMember)[]): Promise<Pick<Run, 'fullMs' | 'startupMs'> & { fullAtMs: number }> {
  members.push(startMember(system, ns, 0));
  await withTimeout(members[0]!.ready, JOIN_TIMEOUT_MS, `${system} seed up`);
  const spawnedAtMs = Date.now();
  for (let i = 1; i < n; i++) members.push(startMember(system, ns, i));
  const names = members.map((m) => m.name);
  const full = await Promise.all(members.map((m) => m.log.allAlive(names.filter((x) => x !== m.name), JOIN_TIMEOUT_MS)));
  const fullAtMs = Math.max(...full.map((e) => e.atMs));
  if (system === 'serf') return { fullMs: fullAtMs - spawnedAtMs, fullAtMs };
  const started = await Promise.all(members.slice(1).map((m) => ('started' in m ? m.started : m.ready)));
  return { fullMs: fullAtMs - spawnedAtMs, startupMs: Math.max(...started) - spawnedAtMs, fullAtMs };
}

/** Over WINDOW_MS with nothing else happening: loopback traffic and CPU per member, then resident memory. */
async function quietWindow(members: Member[]): Promise<Pick<Run, 'bytesPerSecPerMember' | 'packetsPerSecPerMember' | 'cpuShareMean' | 'rssMeanBytes' | 'rssMaxBytes'>> {
  const n = members.length;
  const tx0 = Netns.loopbackTx(members[0]!.pid);
  const cpu0 = members.map((m) => cpuSeconds(m.pid));
  const t0 = performance.now();
  await sleep(WINDOW_MS);
  const tx1 = Netns.loopbackTx(members[0]!.pid);
  const windowS = (performance.now() - t0) / 1000;
  const cpuS = members.reduce((a, m, i) => a + cpuSeconds(m.pid) - cpu0[i]!, 0);
  const rss = members.map((m) => rssBytes(m.pid));
  return {
    bytesPerSecPerMember: (tx1.bytes - tx0.bytes) / windowS / n,
    packetsPerSecPerMember: (tx1.packets - tx0.packets) / windowS / n,
    cpuShareMean: cpuS / n / windowS,
    rssMeanBytes: rss.reduce((a, b) => a + b, 0) / n,
    rssMaxBytes: Math.max(...rss),
  };
}

/** kill -9 the last KILLS members one after another, each once the previous one is dead everywhere. */
async function killOneByOne(members: Member[]): Promise<Pick<Run, 'detectMs' | 'firstSuspectMs'> & { victims: string[] }> {
  const out = { detectMs: [] as number[], firstSuspectMs: [] as number[], victims: [] as string[] };
  for (let k = 0; k < KILLS; k++) {
    const alive = members.length - k;
    const victim = members[alive - 1]!;
    out.victims.push(victim.name);
    victim.kill();
    const killedAtMs = Date.now();
    await victim.exited;
    const survivors = members.slice(0, alive - 1);
    const isDead = (e: MemberEvent) => e.subject === victim.name && e.state === 'dead';
    const dead = await Promise.all(survivors.map((m) => m.log.until(`${victim.name} dead`, isDead, DETECT_TIMEOUT_MS)));
    out.detectMs.push(Math.max(...dead.map((e) => e.atMs)) - killedAtMs);
    const suspected = survivors.flatMap((m) => m.log.events.filter((e) => e.subject === victim.name && e.state === 'suspect' && e.atMs >= killedAtMs));
    // Serf may go from no ack straight to failed without a suspicion line being read first.
    out.firstSuspectMs.push(Math.min(...suspected.map((e) => e.atMs), ...dead.map((e) => e.atMs)) - killedAtMs);
  }
  return out;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms); }),
  ]);
}

async function compare(record: Record, n: number): Promise<void> {
  process.stdout.write(`serf: ${ensureSerf()}\n`);
  recordLoad(record, `vs serf ${n}: at start`);
  const serf = await measure('serf', n);
  const ours = await measure('contactd', n);
  const s = (ms: number) => Math.round(ms) / 1000;
  const mb = (b: number) => Math.round(b / 1e5) / 10;
  const label = `vs serf ${n}`;
  record({ name: `${label}: full membership, from spawning the joiners`, value: s(ours.fullMs), unit: 's', baseline: s(serf.fullMs) });
  record({ name: `${label}: of which contactd process start (last 'started')`, value: s(ours.startupMs!), unit: 's' });
  // Serf's agents start in milliseconds: its figure from spawning is its figure from starting.
  record({ name: `${label}: full membership, from the last member's start`, value: s(ours.fullMs - ours.startupMs!), unit: 's', baseline: s(serf.fullMs) });
  record({ name: `${label}: every survivor marks a kill -9'd member dead, median of ${KILLS}`, value: s(median(ours.detectMs)), unit: 's', baseline: s(median(serf.detectMs)), goal: s(0.8 * median(serf.detectMs)) });
  record({ name: `${label}: every survivor marks it dead, max of ${KILLS}`, value: s(Math.max(...ours.detectMs)), unit: 's', baseline: s(Math.max(...serf.detectMs)) });
  record({ name: `${label}: first survivor suspects it, median of ${KILLS}`, value: s(median(ours.firstSuspectMs)), unit: 's', baseline: s(median(serf.firstSuspectMs)) });
  record({ name: `${label}: live members marked dead`, value: ours.falseDeaths, unit: '', baseline: serf.falseDeaths, goal: 0 });
  record({ name: `${label}: suspicions of live members`, value: ours.falseSuspicions, unit: '', baseline: serf.falseSuspicions });
  record({ name: `${label}: resident memory per member, mean`, value: mb(ours.rssMeanBytes), unit: 'MB', baseline: mb(serf.rssMeanBytes) });
  record({ name: `${label}: resident memory per member, max`, value: mb(ours.rssMaxBytes), unit: 'MB', baseline: mb(serf.rssMaxBytes) });
  record({ name: `${label}: bytes sent per member (loopback, idle)`, value: Math.round(ours.bytesPerSecPerMember), unit: 'B/s', baseline: Math.round(serf.bytesPerSecPerMember) });
  record({ name: `${label}: packets sent per member (loopback, idle)`, value: Math.round(ours.packetsPerSecPerMember * 10) / 10, unit: '/s', baseline: Math.round(serf.packetsPerSecPerMember * 10) / 10 });
  record({ name: `${label}: CPU per member (idle), share of one core`, value: Math.round(ours.cpuShareMean * 1000) / 10, unit: '%', baseline: Math.round(serf.cpuShareMean * 1000) / 10 });
  recordLoad(record, `${label}: at end`);
}

const benches: Bench[] = SIZES.map((n) => ({ name: `membership vs serf ${n}`, run: (record) => compare(record, n) }));

export default benches;
