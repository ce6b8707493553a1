/**
 * The TUI end to end, as a person uses it: the real `contacts` executable
 * in tmux, attached to one of three real contactd processes on loopback
 * by a live subscription.
 * It adds a contact, finds it with `/`, edits it, deletes it; sees a
 * contact added through the CLI at another node appear without a key;
 * moves to another node by itself when its node is killed with -9, and
 * keeps working; quits with q and gives the terminal back (exit code 0).
 * Every step waits on what the screen shows (tmux.ts).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAll, startCluster, type NodeProc } from '../integration/contactd-harness.ts';
import { TmuxPane } from './tmux.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(root, 'tui', 'bin.js');
const nodes: NodeProc[] = [];
const pane = new TmuxPane();
const second = new TmuxPane();

test.after(async () => {
  await pane.kill();
  await second.kill();
  await killAll();
});

/** Runs the CLI to its end; its exit code and output. */
function cli(...args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('close', (code) => resolve({ code, out }));
  });
}

test('three nodes form a cluster', async () => {
  nodes.push(...(await startCluster(['a', 'b', 'c'], 'contacts-tui-')));
});

test('the TUI attaches to a and shows the cluster', async () => {
  // Only a is given: the TUI learns b and c from the member list.
  await pane.start(`node ${BIN} --server ${nodes[0]!.addr}; echo TUI-EXIT=$?; sleep 600`, 120, 32, { NO_COLOR: '' });
  await pane.waitFor(`● a (${nodes[0]!.addr})`);
  await pane.waitFor('3 alive 0 suspect');
  await pane.waitFor('no contacts yet');
  await pane.waitFor('│ live', 5000); // subscribed: changes are pushed
});

test('add a contact; find it with /; edit it; delete it', async () => {
  await pane.keys('a');
  await pane.waitFor('Add a contact');
  await pane.type('Grace Hopper');
  await pane.keys('Tab');
  await pane.type('+1 555 0100');
  await pane.keys('Tab');
  await pane.type('grace@example.org');
  await pane.keys('C-s');
  await pane.waitFor('added Grace Hopper');
  await pane.keys('a');
  await pane.type('Ada Lovelace');
  await pane.keys('C-s');
  await pane.waitFor('added Ada Lovelace');
  await pane.waitFor('Contacts 2');

  await pane.keys('/');
  await pane.type('hopp');
  await pane.waitFor('Contacts 1 of 2 matching');
  await pane.keys('Enter');
  let screen = await pane.waitFor('/hopp  (Esc clears)');
  assert.match(screen, /Email\s+grace@example\.org/);

  await pane.keys('e');
  await pane.waitFor('Edit Grace Hopper');
  await pane.keys('Tab', 'Tab', 'Tab', 'Tab');
  await pane.type('Rear Admiral');
  await pane.keys('C-s');
  await pane.waitFor('saved Grace Hopper');
  screen = await pane.waitFor(/Title\s+Rear Admiral/);

  await pane.keys('d');
  await pane.waitFor('Delete Grace Hopper? [y/N]');
  await pane.keys('y');
  await pane.waitFor('deleted Grace Hopper');
  await pane.keys('Escape');
  screen = await pane.waitFor('Contacts 1 ');
  assert.not.match(screen, /Grace Hopper\s+│/);
});

test('a contact added through the CLI at another node appears without a keypress', async () => {
  const r = await cli('add', '--name', 'Barbara Liskov', '--server', nodes[2]!.addr);
  assert.is(r.code, 0, r.out);
  await pane.waitFor('Barbara Liskov');
});

test('kill -9 of the attached node: the TUI moves to another by itself and keeps working', async () => {
  nodes[0]!.child.kill('SIGKILL');
  await nodes[0]!.exited;
  const screen = await pane.waitFor(/● [bc] \(127\.0\.0\.1:\d+\)/, 20_000);
  assert.not.match(screen.split('\n')[0]!, /● a /);
  await pane.keys('Tab');
  await pane.waitFor(/failover: now attached to [bc] /);
  await pane.keys('1', 'a');
  await pane.type('Margaret Hamilton');
  await pane.keys('C-s');
  await pane.waitFor('added Margaret Hamilton');
  const list = await cli('list', '--json', '--server', nodes[1]!.addr);
  const names = (JSON.parse(list.out) as { name: string }[]).map((c) => c.name);
  assert.equal(names.filter((n) => n === 'Margaret Hamilton').length, 1, 'written once');
});

test('q quits and gives the terminal back', async () => {
  await pane.keys('q');
  const screen = await pane.waitFor('TUI-EXIT=');
  assert.match(screen, /TUI-EXIT=0/);
  assert.not.match(screen, /[┌│└]/, 'the TUI\'s screen is gone');
});

test('SIGTERM also gives the terminal back', async () => {
  await second.start(`echo before-the-tui; node ${BIN} --server ${nodes[1]!.addr}; echo TUI-EXIT=$?; sleep 600`, 100, 30);
  await second.waitFor(/● b /);
  const pid = (await second.run(['display-message', '-p', '#{pane_pid}'])).trim();
  const child = (await new Promise<string>((resolve) => {
    const p = spawn('pgrep', ['-P', pid, '-f', 'tui/bin.js']);
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.on('close', () => resolve(out));
  })).trim().split('\n')[0]!;
  assert.match(child, /^\d+$/, `the TUI's pid under the pane's shell ${pid}`);
  process.kill(Number(child), 'SIGTERM');
  const screen = await second.waitFor('TUI-EXIT=');
  assert.match(screen, /before-the-tui/, 'the shell\'s screen is back');
  assert.match(screen, /TUI-EXIT=143/);
  assert.not.match(screen, /[┌│└]/);
});

test.run();
