/**
 * `npm start`: a local three-node cluster on loopback for a newcomer.
 *
 * Starts three contactd processes (127.0.0.1:7700..7702, data under
 * ./data/local-N), the second and third joining through the first.
 *
 * In a terminal, it then opens the contacts TUI attached to all three; the
 * nodes' logs go to ./data/local-cluster.log (they would scribble over the
 * screen). Quitting the TUI stops the nodes (they leave the cluster
 * gracefully) and the terminal is as it was. A node that dies meanwhile
 * stays dead (the TUI shows it, and moves to another node if it was
 * attached there): that is what there is to see.
 *
 * Without a terminal (piped, CI), it prints how to reach the nodes and
 * their logs, prefixed by name; Ctrl-C or SIGTERM stops all three, and so
 * does one of them dying. The nodes keep their data between runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(root, 'daemon', 'bin.js');
const TUI = join(root, 'tui', 'bin.js');
const BASE_PORT = Number(process.env['CONTACTS_LOCAL_PORT'] ?? 7700);
const NODES = 3;
const interactive = process.stdout.isTTY === true && process.stdin.isTTY === true;

const children: ChildProcess[] = [];
let tui: ChildProcess | undefined;
let stopping = false;
let logFile: WriteStream | undefined;

/** Where node log lines go: the terminal (prefixed by name), or the log file while the TUI owns the screen. */
function logLine(name: string, line: string): void {
  if (logFile) logFile.write(`[${name}] ${line}\n`);
  else process.stdout.write(`[${name}] ${line}\n`);
}

/** Each node's last log lines, to show when it fails to start. */
const recent = new Map<string, string[]>();

function start(i: number): ChildProcess {
  const name = `local-${i + 1}`;
  const args = ['--name', name, '--bind', `127.0.0.1:${BASE_PORT + i}`, '--data', join(root, 'data', name), '--log-format', 'text'];
  if (i > 0) args.push('--join', `127.0.0.1:${BASE_PORT}`);
  const child = spawn(process.execPath, [BIN, ...args], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  recent.set(name, []);
  createInterface({ input: child.stderr! }).on('line', (line) => {
    logLine(name, line);
    const lines = recent.get(name)!;
    lines.push(line);
    if (lines.length > 5) lines.shift();
    if (/ event=started /.test(line)) child.emit('started');
  });
  child.on('exit', (code, signal) => {
    if (stopping) return;
    logLine(name, `exited (${signal ?? code})`);
    if (!tui) {
      process.stdout.write(`[${name}] exited (${signal ?? code}); stopping the local cluster\n`);
      stop(1);
    }
  });
  return child;
}

/**
 * Stops every node once. Ctrl-C in a terminal already reaches the nodes
 * (one process group), and a second signal would make them skip their
 * graceful leave; so after SIGINT we first give them `graceMs` to leave on
 * their own, and only then send SIGTERM, then SIGKILL: no stray process.
 */
function stop(exitCode: number, graceMs = 0): void {
  if (stopping) return;
  stopping = true;
  const running = () => children.filter((c) => c.exitCode === null && c.signalCode === null);
  let alive = running().length;
  const done = (): void => {
    logFile?.end();
    process.exit(exitCode);
  };
  if (alive === 0) return done();
  for (const c of running()) {
    c.once('exit', () => {
      alive--;
      if (alive <= 0) done();
    });
  }
  setTimeout(() => {
    for (const c of running()) c.kill('SIGTERM');
  }, graceMs).unref();
  setTimeout(() => {
    for (const c of running()) c.kill('SIGKILL');
  }, graceMs + 10_000).unref();
}

const servers = Array.from({ length: NODES }, (_, i) => `127.0.0.1:${BASE_PORT + i}`);

/** Resolves once every node says it started; rejects with the last lines of one that exits first. */
function allStarted(timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let left = children.length;
    const timer = setTimeout(() => reject(new Error(`the nodes did not start within ${timeoutMs / 1000} s`)), timeoutMs);
    children.forEach((child, i) => {
      const name = `local-${i + 1}`;
      child.once('started', () => {
        if (--left === 0) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited before it started (${signal ?? code}):\n  ${recent.get(name)!.join('\n  ')}`));
      });
    });
  });
}

if (interactive) {
  mkdirSync(join(root, 'data'), { recursive: true });
  const logPath = join(root, 'data', 'local-cluster.log');
  logFile = createWriteStream(logPath, { flags: 'a' });
  // A terminal that goes away must not take this process down before it has stopped the nodes.
  process.stdout.on('error', () => undefined);
  for (let i = 0; i < NODES; i++) children.push(start(i));
  process.stdout.write(`Starting a local cluster of ${NODES} contactd nodes on ${servers.join(', ')} (logs: ${logPath})…\n`);
  try {
    await allStarted(60_000);
  } catch (err) {
    process.stdout.write(`The local cluster did not start: ${(err as Error).message}\n`);
    stop(1);
    await new Promise(() => undefined); // stop() exits
  }
  tui = spawn(process.execPath, [TUI, ...servers.flatMap((s) => ['--server', s])], { cwd: root, stdio: 'inherit' });
  tui.on('exit', (code) => {
    process.stdout.write(`\rThe TUI closed; stopping the local cluster (the nodes leave gracefully; logs in ${logPath})…\n`);
    stop(code ?? 0);
  });
  // The TUI reads Ctrl-C as a key; a signal from elsewhere closes it first (it gives the terminal back), then the nodes.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (tui && tui.exitCode === null) tui.kill('SIGTERM');
      else stop(0);
    });
  }
} else {
  for (let i = 0; i < NODES; i++) children.push(start(i));
  process.on('SIGINT', () => stop(0, 7_000));
  process.on('SIGTERM', () => stop(0));
  process.stdout.write(`
A local cluster of ${NODES} contactd nodes is starting on ${servers.join(', ')} (data under ./data/local-N).
Open the TUI in a terminal:
  node tui/bin.js ${servers.map((s) => `--server ${s}`).join(' ')}
or try the CLI:
  node tui/bin.js --server ${servers[0]} add --name "Ada Lovelace" --phone "+44 20 7946 0000"
  node tui/bin.js --server ${servers[1]} list
  node tui/bin.js --server ${servers[2]} members
Ctrl-C stops all nodes (they leave the cluster gracefully).

`);
}
