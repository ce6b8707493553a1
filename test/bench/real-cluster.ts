/**
 * Real clusters for the benchmarks: contactd processes and Serf agents in a
 * network namespace of their own, what each member says about the others,
 * and what the kernel says about them (resident memory, bytes on the wire).
 *
 * How this works:
 * - `Netns.create` makes a namespace with only its loopback up; members run
 *   inside it through `ip netns exec` (which exec's in place, so the child's
 *   pid is the member's), on 127.0.0.1 with any port (nothing else listens
 *   there). Its loopback counters (`/proc/PID/net/dev`) count every byte
 *   the members send each other, UDP and TCP, headers included: the same
 *   measure for both systems. `remove` kills what still runs inside and
 *   deletes it; a bench that dies leaves none behind (exit hook).
 * - Each member's log is read line by line as it arrives and turned into
 *   `MemberEvent`s (who says what about whom), stamped with the time this
 *   process read the line: contactd's JSON `member` records and Serf's
 *   `EventMemberJoin/Failed/Leave` and memberlist's suspicion lines are
 *   timed the same way.
 * - `EventLog.until` resolves with the first event, past or future, that
 *   matches; it waits on events, with a bound that turns a hang into an
 *   error naming what was awaited.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { startNode, tempDir } from '../integration/contactd-harness.ts';
import { mainThreadMs } from './harness.ts';

export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

/** `observer` saw `subject` in `state` (read at `atMs`, this process's clock). */
export interface MemberEvent {
  observer: string;
  subject: string;
  state: MemberState;
  atMs: number;
}

/** The events of one member, with waits on them. */
export class EventLog {
  readonly events: MemberEvent[] = [];
  private waiters: { pred: (e: MemberEvent) => boolean; resolve: (e: MemberEvent) => void }[] = [];

  constructor(readonly observer: string) {}

  push(e: MemberEvent): void {
    this.events.push(e);
    const ready = this.waiters.filter((w) => w.pred(e));
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve(e);
  }

  /** The first event matching `pred`, already logged or still to come; rejects after `timeoutMs`. */
  until(what: string, pred: (e: MemberEvent) => boolean, timeoutMs: number): Promise<MemberEvent> {
    const hit = this.events.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.observer}: no "${what}" within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = { pred, resolve: (e: MemberEvent) => { clearTimeout(timer); resolve(e); } };
      this.waiters.push(waiter);
    });
  }

  /** Resolves when this member has seen every name in `others` alive (its latest word on each); the event that completed it. */
  allAlive(others: readonly string[], timeoutMs: number): Promise<MemberEvent> {
    const want = new Set(others);
    const alive = new Set<string>();
    return this.until(`all of ${others.length} alive`, (e) => {
      if (!want.has(e.subject)) return false;
      if (e.state === 'alive') alive.add(e.subject);
      else alive.delete(e.subject);
      return alive.size === want.size;
    }, timeoutMs);
  }
}

/** One running member of either system. */
export interface Member {
  readonly name: string;
  readonly pid: number;
  readonly log: EventLog;
  /** When it said it is up (joined, or started a cluster of its own): the time the line was read. */
  readonly ready: Promise<number>;
  readonly exited: Promise<void>;
  kill(): void;
}

/** A contactd member also says when its process had started (socket bound, store open). */
export interface ContactdMember extends Member {
  readonly started: Promise<number>;
}

/** A promise and its resolve function. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => { resolve = r; });
  return { promise, resolve };
}

// ---------------------------------------------------------------- namespaces

const live = new Set<string>();

/** A network namespace with only loopback, deleted by `remove`. */
export class Netns {
  private constructor(readonly name: string) {}

  /** The command prefix that runs a program inside. */
  get wrap(): string[] {
    return ['ip', 'netns', 'exec', this.name];
  }

  /** Creates it; throws with what to do when this user cannot. */
  static create(label: string): Netns {
    const name = `contacts-bench-${process.pid}-${label}`;
    run('ip', ['netns', 'add', name], 'creating a network namespace needs root (and iproute2): run the bench as root');
    live.add(name);
    run('ip', ['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up'], 'cannot bring up loopback in the namespace');
    return new Netns(name);
  }

  /** Bytes and packets sent on the namespace's loopback so far, read through a process inside it. */
  static loopbackTx(pidInside: number): { bytes: number; packets: number } {
    const line = readFileSync(`/proc/${pidInside}/net/dev`, 'utf8').split('\n').find((l) => l.trim().startsWith('lo:'));
    if (!line) throw new Error(`no loopback in /proc/${pidInside}/net/dev`);
    const f = line.trim().slice(3).trim().split(/\s+/).map(Number);
    return { bytes: f[8]!, packets: f[9]! };
  }

  /** Kills what still runs inside (deleting a namespace does not), then deletes it. */
  remove(): void {
    removeNetns(this.name);
  }
}

function removeNetns(name: string): void {
  const pids = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).stdout.split(/\s+/).filter(Boolean);
  for (const pid of pids) {
    try { process.kill(Number(pid), 'SIGKILL'); } catch { /* already gone */ }
  }
  spawnSync('ip', ['netns', 'del', name]);
  live.delete(name);
}

process.once('exit', () => { for (const name of [...live]) removeNetns(name); });
// Ctrl-C or a kill would skip the exit hooks (and leave namespaces and agents behind): exit instead.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(128 + (signal === 'SIGINT' ? 2 : 15)));

function run(cmd: string, args: string[], hint: string): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${(r.stderr || r.error?.message || '').trim()}): ${hint}`);
}

// ---------------------------------------------------------------- process figures

/** Resident memory of `pid` in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** CPU time `pid` has used so far, user + system, in seconds (/proc/PID/stat fields 14 and 15). */
export function cpuSeconds(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/stat`);
}

/**
 * CPU time of `pid`'s main thread alone, in seconds: where a Node process
 * runs its JavaScript. The rest of cpuSeconds is SQLite's thread pool, the
 * garbage collector's and the compiler's helper threads.
 */
export function mainThreadCpuSeconds(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/task/${pid}/stat`);
}

function statCpuSeconds(path: string): number {
  const stat = readFileSync(path, 'utf8');
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS_PER_S;
}

/**
 * How long `pid`'s main thread has waited, runnable, for a CPU (ms; the
 * second field of /proc/PID/schedstat). On a busy machine this, not the
 * work, is what stretches latencies.
 */
export function runQueueWaitMs(pid: number): number {
  return mainThreadMs(pid).waitMs;
}

/** USER_HZ: 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS_PER_S = 100;

/** Reads `stream` line by line. */
function eachLine(stream: NodeJS.ReadableStream, fn: (line: string) => void): void {
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', fn);
}

// ---------------------------------------------------------------- contactd

/** Starts a contactd named `name` on 127.0.0.1:`port` inside `ns`, at log level info. */
export function startContactd(ns: Netns, name: string, port: number, seeds: string[] = []): ContactdMember {
  const node = startNode({
    name, port, dataDir: join(tempDir('contacts-bench-'), name), join: seeds, wrap: ns.wrap,
    omit: ['log-level'], extraArgs: ['--log-level', 'info'],
  });
  const log = new EventLog(name);
  const started = deferred<number>();
  const ready = deferred<number>();
  eachLine(node.child.stderr!, (line) => {
    const atMs = Date.now();
    if (line.includes('"event":"started"')) started.resolve(atMs);
    else if (line.includes('"event":"joined"')) ready.resolve(atMs);
    else if (line.includes('"event":"member"')) {
      const r = JSON.parse(line.replace(/^<[0-7]>/, '')) as { name: string; state: MemberState };
      log.push({ observer: name, subject: r.name, state: r.state, atMs });
    }
  });
  return {
    name, pid: node.child.pid!, log, started: started.promise, ready: ready.promise,
    exited: node.exited.then(() => undefined), kill: () => node.child.kill('SIGKILL'),
  };
}

// ---------------------------------------------------------------- Serf

const serfs = new Set<ChildProcess>();
process.once('exit', () => { for (const c of serfs) c.kill('SIGKILL'); });

/** Installs Debian's serf when it is missing (as root); throws with what to do otherwise. */
export function ensureSerf(): string {
  const found = spawnSync('serf', ['version'], { encoding: 'utf8' });
  if (found.status === 0) return found.stdout.split('\n')[0]!.trim();
  const install = () => spawnSync('apt-get', ['install', '-y', 'serf'], { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  let r = install();
  if (r.status !== 0) {
    spawnSync('apt-get', ['update'], { encoding: 'utf8' });
    r = install();
  }
  if (r.status !== 0) throw new Error(`serf is not installed and apt-get install -y serf failed (${(r.stderr || r.error?.message || '').trim().slice(-300)}): install it as root`);
  return ensureSerf();
}

const SERF_LINE = /(?:serf: EventMember(Join|Failed|Leave): (\S+))|(?:memberlist: Suspect (\S+) has failed)/;
const SERF_STATE: Record<string, MemberState> = { Join: 'alive', Failed: 'dead', Leave: 'left' };

/** Starts a Serf agent at LAN defaults on 127.0.0.1:`port` (RPC on `rpcPort`) inside `ns`. */
export function startSerf(ns: Netns, name: string, port: number, rpcPort: number, joinAddr?: string): Member {
  const args = ['serf', 'agent', '-node', name, '-bind', `127.0.0.1:${port}`, '-rpc-addr', `127.0.0.1:${rpcPort}`, '-log-level', 'info'];
  if (joinAddr) args.push('-join', joinAddr);
  const [cmd, ...argv] = [...ns.wrap, ...args];
  const child = spawn(cmd!, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  serfs.add(child);
  const log = new EventLog(name);
  const ready = deferred<number>();
  const output: string[] = [];
  const onLine = (line: string): void => {
    const atMs = Date.now();
    if (output.length < 200) output.push(line);
    // Printed once the agent runs: after its join completed, when it was given one.
    if (line.includes('Serf agent running!')) ready.resolve(atMs);
    const m = SERF_LINE.exec(line);
    if (!m) return;
    if (m[1]) log.push({ observer: name, subject: m[2]!, state: SERF_STATE[m[1]]!, atMs });
    else log.push({ observer: name, subject: m[3]!, state: 'suspect', atMs });
  };
  eachLine(child.stdout!, onLine);
  eachLine(child.stderr!, onLine);
  const exited = new Promise<void>((resolve) => child.once('exit', (code, signal) => {
    serfs.delete(child);
    // A failed join makes the agent exit: say why rather than time out later.
    if (signal === null) process.stderr.write(`serf agent ${name} exited with ${code}:\n${output.slice(-20).join('\n')}\n`);
    resolve();
  }));
  return { name, pid: child.pid!, log, ready: ready.promise, exited, kill: () => child.kill('SIGKILL') };
}
