/**
 * Runs real contactd processes on loopback for integration tests, and waits
 * on what they log, never on the clock.
 *
 * How this works: each node is `node daemon/bin.js` with JSON logs on
 * stderr; every line is parsed as it arrives (a journald `<N>` prefix is
 * stripped) and kept. `waitForLog` resolves with the first record, old or
 * new, that matches a predicate, or fails after a generous timeout with the
 * node's last log lines, so a failure shows what the node was doing.
 * Ports come from binding port 0 on 127.0.0.1 and letting it go. Every
 * address handed to a node is checked to be in 127.0.0.0/8: these tests
 * never send anything off the machine. `killAll` SIGKILLs whatever is left
 * and removes the data directories; call it from an `after` hook.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(root, 'daemon', 'bin.js');

/** One parsed log record (pino JSON). */
export type LogRecord = Record<string, unknown> & { msg?: string; event?: string };

export interface ExitStatus { code: number | null; signal: NodeJS.Signals | null }

export interface NodeProc {
  readonly name: string;
  readonly port: number;
  readonly addr: string;
  readonly dataDir: string;
  readonly child: ChildProcess;
  readonly records: LogRecord[];
  /** Lines that were not JSON (a crash trace, a Node warning). */
  readonly rawLines: string[];
  readonly exited: Promise<ExitStatus>;
  exitStatus: ExitStatus | undefined;
}

const running = new Set<NodeProc>();
const tempDirs: string[] = [];

/** A fresh temporary directory, removed by `killAll`. */
export function tempDir(prefix = 'contactd-it-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}

/** A UDP port on 127.0.0.1 that was free a moment ago. */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

function assertLoopback(addr: string): void {
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}:\d+$/.test(addr)) throw new Error(`test refuses a non-loopback address: ${addr}`);
}

export interface StartOptions {
  name: string;
  port: number;
  dataDir: string;
  join?: string[];
  metricsPort?: number;
  /** Flags of the harness's own (--name, --log-level debug) to leave out, so a config file can set them. */
  omit?: ('name' | 'log-level')[];
  extraArgs?: string[];
  env?: Record<string, string>;
  /** A command that runs the node inside something, exec'ing it in place (`ip netns exec NAME`): the pid stays the node's. */
  wrap?: string[];
}

/** Starts one contactd; it is killed by `killAll` if still running. */
export function startNode(opts: StartOptions): NodeProc {
  const addr = `127.0.0.1:${opts.port}`;
  const args = [BIN, '--bind', addr, '--data', opts.dataDir, '--log-format', 'json'];
  if (!opts.omit?.includes('name')) args.push('--name', opts.name);
  if (!opts.omit?.includes('log-level')) args.push('--log-level', 'debug');
  for (const j of opts.join ?? []) { assertLoopback(j); args.push('--join', j); }
  if (opts.metricsPort) args.push('--metrics', `127.0.0.1:${opts.metricsPort}`);
  args.push(...(opts.extraArgs ?? []));
  // Nothing from the test runner's own environment may steer the node.
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(CONTACTD_|NOTIFY_SOCKET|JOURNAL_STREAM|WATCHDOG_|STATE_DIRECTORY)/.test(k)) env[k] = v;
  }
  const [command, ...argv] = [...(opts.wrap ?? []), process.execPath, ...args];
  const child = spawn(command!, argv, { cwd: root, env: { ...env, ...opts.env }, stdio: ['ignore', 'ignore', 'pipe'] });
  const node: NodeProc = {
    name: opts.name, port: opts.port, addr, dataDir: opts.dataDir, child, records: [], rawLines: [],
    exitStatus: undefined,
    exited: new Promise((resolve) => child.once('exit', (code, signal) => {
      node.exitStatus = { code, signal };
      running.delete(node);
      resolve(node.exitStatus);
    })),
  };
  let partial = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      const body = line.replace(/^<[0-7]>/, '');
      try {
        node.records.push(JSON.parse(body) as LogRecord);
      } catch {
        if (line.trim()) node.rawLines.push(line);
      }
    }
  });
  running.add(node);
  return node;
}

/** The node's last log lines, for failure messages. */
export function tail(node: NodeProc, n = 25): string {
  const recs = node.records.slice(-n).map((r) => `  ${r.event ?? ''} ${r.msg ?? ''} ${JSON.stringify(r)}`);
  const raw = node.rawLines.slice(-10).map((l) => `  raw: ${l}`);
  const status = node.exitStatus ? `  (exited: ${JSON.stringify(node.exitStatus)})` : '  (still running)';
  return [...recs, ...raw, status].join('\n');
}

/** Resolves with the first record of `node` matching `pred`; fails after `timeoutMs` showing the node's last lines. */
export function waitForLog(node: NodeProc, what: string, pred: (r: LogRecord) => boolean, timeoutMs = 30_000): Promise<LogRecord> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const hit = node.records.find(pred);
      if (hit) return resolve(hit);
      if (Date.now() > deadline) return reject(new Error(`${node.name}: no log record "${what}" within ${timeoutMs} ms. Last lines:\n${tail(node)}`));
      const onData = (): void => { clearTimeout(timer); setImmediate(check); };
      // Re-check on the next output, or at the deadline (or exit) at the latest.
      const timer = setTimeout(() => { node.child.stderr!.off('data', onData); check(); }, Math.max(0, deadline - Date.now()) + 1);
      node.child.stderr!.once('data', onData);
    };
    check();
  });
}

/** Matches records logged after `earlier` (a record of the same node). */
export function loggedAfter(node: NodeProc, earlier: LogRecord, pred: (r: LogRecord) => boolean): (r: LogRecord) => boolean {
  return (r) => node.records.indexOf(r) > node.records.indexOf(earlier) && pred(r);
}

/** Matches records logged once the node had logged `count` (its `records.length` at some moment). */
export function loggedSince(node: NodeProc, count: number, pred: (r: LogRecord) => boolean): (r: LogRecord) => boolean {
  return (r) => pred(r) && node.records.indexOf(r) >= count;
}

/** A member-state record about `subject` logged by some node. */
export function memberRecord(subjectId: string, state: string, extra: (r: LogRecord) => boolean = () => true): (r: LogRecord) => boolean {
  return (r) => r.event === 'member' && r.id === subjectId && r.state === state && extra(r);
}

/**
 * Starts nodes named `names` on free ports, the first as seed and the rest
 * joining it, and resolves once every node has marked every other alive.
 */
export async function startCluster(names: readonly string[], prefix = 'contactd-it-'): Promise<NodeProc[]> {
  const base = tempDir(prefix);
  const ports = await Promise.all(names.map(() => freeUdpPort()));
  const nodes = [startNode({ name: names[0]!, port: ports[0]!, dataDir: join(base, names[0]!) })];
  await waitForLog(nodes[0]!, 'joined', (r) => r.event === 'joined');
  for (let i = 1; i < names.length; i++) nodes.push(startNode({ name: names[i]!, port: ports[i]!, dataDir: join(base, names[i]!), join: [nodes[0]!.addr] }));
  const ids = await Promise.all(nodes.map(async (n) => String((await waitForLog(n, 'started', (r) => r.event === 'started')).id)));
  await Promise.all(nodes.flatMap((n, i) => ids.filter((_, j) => j !== i).map((other) => waitForLog(n, `${other} alive`, memberRecord(other, 'alive')))));
  return nodes;
}

/** A contact change (debug log, node-events.ts) about `contactId` logged by some node. */
export function contactRecord(contactId: string, extra: (r: LogRecord) => boolean = () => true): (r: LogRecord) => boolean {
  return (r) => r.event === 'contact' && r.id === contactId && extra(r);
}

/** What a finished command printed, and how it ended. */
export interface RunResult { code: number | null; stdout: string; stderr: string }

/** What one `contacts` run printed, and its exit code. */
export type CliRun = RunResult;

let cliStateDir: string | undefined;

/**
 * Runs `contacts ...args` to its end; CONTACTS_SERVER is unset, so only `--server` says where to go, and the
 * members it remembers between runs are kept in a directory of this test file's (never the user's home).
 */
export function cli(...args: string[]): Promise<CliRun> {
  return cliIn(cliStateDir ??= tempDir('contacts-state-'), ...args);
}

/** As `cli`, remembering members in `stateDir` (a fresh one: a CLI that knows only what `--server` says). */
export function cliIn(stateDir: string, ...args: string[]): Promise<CliRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, CONTACTS_STATE_DIR: stateDir };
  delete env.CONTACTS_SERVER;
  return runScript('tui/bin.js', args, env);
}

/** Runs `node <script> ...args` from the repository root to its end (`daemon/bin.js keygen`, `tui/bin.js list`). */
export function runScript(script: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, script), ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The value of metric `name` (with its labels, e.g. `x_total{reason="replay"}`) at a node's --metrics port; NaN when absent. */
export async function metric(metricsPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.slice(name.length + 1)) : NaN;
}

/**
 * Reads metric `name` until `done(value)` holds (each read is a real scrape;
 * 50 ms apart, at most `timeoutMs`); returns the last value read.
 */
export async function waitForMetric(metricsPort: number, name: string, done: (v: number) => boolean, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await metric(metricsPort, name);
    if (done(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** SIGKILLs every node still running and removes the temporary directories. */
export async function killAll(): Promise<void> {
  const waits = [...running].map((n) => { n.child.kill('SIGKILL'); return n.exited; });
  await Promise.all(waits);
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

// Belt and braces: a test runner that dies must not leave daemons behind.
process.once('exit', () => { for (const n of running) n.child.kill('SIGKILL'); });
