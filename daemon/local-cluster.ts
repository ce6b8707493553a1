/**
 * `npm start`: a local three-node cluster on loopback for a newcomer.
 *
 * Starts three contactd processes (127.0.0.1:7700..7702, data under
 * ./data/local-N), the second and third joining through the first, prints
 * how to reach them, prefixes each node's log lines with its name, and on
 * Ctrl-C or SIGTERM stops all three gracefully (they leave the cluster).
 * Until the TUI exists this is a terminal full of logs and a few commands
 * to try; the nodes keep their data between runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(root, 'daemon', 'bin.js');
const BASE_PORT = Number(process.env['CONTACTS_LOCAL_PORT'] ?? 7700);
const NODES = 3;

const children: ChildProcess[] = [];
let stopping = false;

function start(i: number): ChildProcess {
  const name = `local-${i + 1}`;
  const args = ['--name', name, '--bind', `127.0.0.1:${BASE_PORT + i}`, '--data', join(root, 'data', name), '--log-format', 'text'];
  if (i > 0) args.push('--join', `127.0.0.1:${BASE_PORT}`);
  const child = spawn(process.execPath, [BIN, ...args], { cwd: root, stdio: ['ignore', 'inherit', 'pipe'] });
  createInterface({ input: child.stderr! }).on('line', (line) => process.stdout.write(`[${name}] ${line}\n`));
  child.on('exit', (code, signal) => {
    if (!stopping) {
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
  if (alive === 0) process.exit(exitCode);
  for (const c of running()) {
    c.once('exit', () => {
      alive--;
      if (alive <= 0) process.exit(exitCode);
    });
  }
  setTimeout(() => {
    for (const c of running()) c.kill('SIGTERM');
  }, graceMs).unref();
  setTimeout(() => {
    for (const c of running()) c.kill('SIGKILL');
  }, graceMs + 10_000).unref();
}

for (let i = 0; i < NODES; i++) children.push(start(i));
process.on('SIGINT', () => stop(0, 7_000));
process.on('SIGTERM', () => stop(0));

const servers = Array.from({ length: NODES }, (_, i) => `127.0.0.1:${BASE_PORT + i}`);
process.stdout.write(`
A local cluster of ${NODES} contactd nodes is starting on ${servers.join(', ')} (data under ./data/local-N).
Try, in another terminal:
  node tui/bin.js --server ${servers[0]} add --name "Ada Lovelace" --phone "+44 20 7946 0000"
  node tui/bin.js --server ${servers[1]} list
  node tui/bin.js --server ${servers[2]} members
Ctrl-C stops all nodes (they leave the cluster gracefully).

`);
