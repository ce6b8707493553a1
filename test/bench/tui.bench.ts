/**
 * The TUI's speed: how soon it draws, and how fast a key is answered with
 * 100,000 contacts loaded.
 *
 * - start: `node tui/bin.js` in a pseudo-terminal (util-linux `script`),
 *   from spawn to the first frame on the terminal (no server: it draws, then
 *   connects). Median of 5. Goal: under 1 s.
 * - load: 100,000 contacts handed to the running app as one snapshot (what a
 *   poll or a resync does) until the list is drawn; and a second, unchanged
 *   snapshot (every poll of an unchanged book costs this on the UI thread).
 * - keys: a key written to the terminal input until blessed has drawn the
 *   screen again (its `render` event), for list keys (j, k, PgDn, PgUp, g,
 *   G) and for filter keystrokes (typing after `/`, backspace, Esc).
 *   Goal: p99 under 50 ms.
 * Each time is also given as CPU time: the main thread's (what the key
 * cost the TUI), and the process's (with the GC and JIT threads). On a
 * shared, loaded machine the wall time mostly measures waiting for a core;
 * the wall time less the main thread's wait for a CPU (/proc schedstat)
 * comes closer to an idle machine's (it still holds the main thread
 * waiting on GC helper threads that wait for a CPU themselves).
 * The contacts are synthetic but shaped like real ones (names, phones,
 * emails, dots), from a seeded generator; the feed is a fake that hands
 * them over, the rest (App, models, views, blessed) is the real TUI.
 */
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Contact } from '../../protocol/contacts/model.ts';
import { SeededRng } from '../../protocol/rng.ts';
import { App } from '../../tui/app/app.ts';
import { LinkedClient, type RequestClient } from '../../tui/app/remote/link.ts';
import type { Feed, FeedSink } from '../../tui/app/remote/types.ts';
import { openScreen } from '../../tui/app/terminal.ts';
import { themeFor } from '../../tui/app/theme.ts';
import { fakeTerminal, KEY_BYTES } from '../tui/harness.ts';
import { mainThreadMs, median, percentile, type Bench } from './harness.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const CONTACTS = 100_000;

const FIRST = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Zoë', 'Émile', 'Margaret', 'Ken', 'Dennis', 'Frances', 'Leslie', 'Radia', 'Anna', 'José', 'Mei', 'Olga', 'Kwame', 'Priya'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Hamilton', 'Thompson', 'Ritchie', 'Allen', 'Lamport', 'Perlman', 'García', 'Smith', 'Nguyen', 'Müller', 'Kowalski', 'Okafor', 'Sato', 'Rossi'];
const NODES = ['00000000000000a1', '00000000000000a2', '00000000000000a3'];

/** `n` synthetic contacts, as the list op returns them. */
function syntheticContacts(n: number): Contact[] {
  const rng = new SeededRng(42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng.next() * xs.length)]!;
  const out: Contact[] = [];
  for (let i = 0; i < n; i++) {
    const name = `${pick(FIRST)} ${pick(LAST)} ${i}`;
    const origin = pick(NODES);
    const wallMs = 1_700_000_000_000 + i * 1000;
    const c = {
      id: `01J${String(i).padStart(23, '0')}`, formattedName: name,
      phones: [{ uid: `p${i}`, value: `+1 555 ${String(i % 10_000).padStart(4, '0')}`, types: ['cell'], pref: false }],
      emails: [{ uid: `e${i}`, value: `${name.toLowerCase().replace(/\W+/g, '.')}@example.org`, types: [], pref: false }],
      addresses: [], urls: [], groups: [], extra: {}, revived: false,
      org: i % 3 === 0 ? { name: pick(['Analytical Engines', 'Bell Labs', 'Xerox PARC', 'ETH Zürich']), units: [] } : undefined,
      note: i % 10 === 0 ? 'met at the conference; call back about the replication paper' : undefined,
      conflicts: i % 100 === 0 ? [{ field: 'title', values: [{ value: 'CTO', origin, hlc: { wallMs, logical: 0 } }, { value: 'CEO', origin: NODES[0]!, hlc: { wallMs: wallMs - 5, logical: 0 } }] }] : [],
      seen: { [origin]: [i * 3 + 1, i * 3 + 3] },
      updated: { wallMs, logical: 0 },
    };
    out.push(c as unknown as Contact);
  }
  return out;
}

/** A feed that hands over what the bench gives it. */
class BenchFeed implements Feed {
  sink: FeedSink | undefined;
  start(sink: FeedSink): void {
    this.sink = sink;
    sink.members(NODES.map((id, i) => ({ id, name: `node-${i + 1}`, address: `127.0.0.1:${7701 + i}`, state: 'alive', incarnation: 0, lastHeardMsAgo: 10 })), Date.now());
  }
  wrote(): void {}
  refresh(): void {}
  stop(): void {}
}

const idleClient: RequestClient = {
  request: () => new Promise(() => undefined),
  addServer: () => undefined,
  serverList: ['127.0.0.1:7701'],
  close: () => undefined,
};

/** CPU time (user + system, all threads) a process has used so far, ms; undefined when /proc cannot tell. */
function cpuMsOf(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks of 1/100 s
  } catch {
    return undefined;
  }
}

/** The node process `script` runs, found by its parent. */
function childPid(parent: number): number | undefined {
  try {
    return Number(execFileSync('pgrep', ['-P', String(parent)], { encoding: 'utf8' }).trim().split('\n')[0]);
  } catch {
    return undefined;
  }
}

/** Spawn to first frame of the real executable in a pseudo-terminal: wall ms, and the TUI's CPU ms by then. */
function startOnce(): Promise<{ wallMs: number; cpuMs: number | undefined }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('script', ['-qfec', 'stty cols 100 rows 30; exec node tui/bin.js --server 127.0.0.1:9', '/dev/null'], {
      cwd: root, env: { ...process.env, TERM: 'xterm-256color' }, stdio: ['pipe', 'pipe', 'ignore'],
    });
    let out = '';
    let ms: number | undefined;
    let cpuMs: number | undefined;
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`no first frame in 20 s; output: ${JSON.stringify(out.slice(-300))}`)); }, 20_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      if (ms === undefined && out.includes('1 Contacts')) {
        ms = performance.now() - t0;
        const pid = childPid(child.pid!);
        cpuMs = pid === undefined ? undefined : cpuMsOf(pid);
        child.stdin.write('q');
      }
    });
    child.on('exit', () => {
      clearTimeout(timer);
      if (ms === undefined) reject(new Error(`the TUI exited before drawing; output: ${JSON.stringify(out.slice(-300))}`));
      else resolve({ wallMs: ms, cpuMs });
    });
  });
}

function hasScript(): boolean {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const benches: Bench[] = [
  {
    name: 'tui start (spawn to first frame in a pty)',
    async run(record) {
      if (!hasScript()) throw new Error('util-linux `script` is needed to give the TUI a pseudo-terminal');
      await startOnce(); // warms the file cache
      const runs: { wallMs: number; cpuMs: number | undefined }[] = [];
      for (let i = 0; i < 5; i++) runs.push(await startOnce());
      const wall = runs.map((r) => r.wallMs);
      record({ name: 'tui start: spawn to first frame, median of 5', value: Math.round(median(wall)), unit: 'ms', goal: 1000 });
      record({ name: 'tui start: spawn to first frame, slowest of 5', value: Math.round(Math.max(...wall)), unit: 'ms', goal: 1000 });
      const cpu = runs.map((r) => r.cpuMs).filter((x): x is number => x !== undefined);
      if (cpu.length > 0) record({ name: 'tui start: CPU time used by the first frame, median', value: Math.round(median(cpu)), unit: 'ms', goal: 1000 });
    },
  },
  {
    name: 'tui keys at 100,000 contacts',
    async run(record) {
      const contacts = syntheticContacts(CONTACTS);
      const term = fakeTerminal(120, 40);
      const screen = openScreen({ input: term.input, output: term.output, term: 'xterm-256color' });
      const feed = new BenchFeed();
      const app = new App({ screen, theme: themeFor({}), feed, client: new LinkedClient(idleClient), onQuit: () => undefined });
      app.start();
      const drawn = (): Promise<number> => new Promise((resolve) => screen.once('render', () => resolve(performance.now())));
      const heapBefore = process.memoryUsage().heapUsed;

      /** Hands `contacts` to the app as one snapshot; wall and CPU ms until the list is drawn. */
      const snapshot = async (name: string, list: readonly Contact[]): Promise<void> => {
        const done = drawn();
        const cpu = process.cpuUsage();
        const t0 = performance.now();
        feed.sink!.snapshot(list, Date.now());
        const wall = (await done) - t0;
        const used = process.cpuUsage(cpu);
        record({ name, value: Math.round(wall), unit: 'ms' });
        record({ name: `${name}, CPU`, value: Math.round((used.user + used.system) / 1000), unit: 'ms' });
      };
      await snapshot('load 100,000 contacts: snapshot to list drawn', contacts);
      await snapshot('unchanged snapshot of 100,000 (a poll): UI busy', contacts.map((c) => ({ ...c })));
      const plusOne = [...contacts, { ...contacts[0]!, id: '01K00000000000000000000000', formattedName: 'Mid Dle', seen: { [NODES[1]!]: [1, 1] } } as unknown as Contact];
      await snapshot('snapshot of 100,000 with one new contact: UI busy', plusOne);
      // Let the idle-time search index finish, as it does while a person looks at the screen.
      while (app.contacts.indexSome(0)) await new Promise((r) => setImmediate(r));
      globalThis.gc?.();
      record({ name: 'heap used by 100,000 contacts in the TUI', value: Math.round((process.memoryUsage().heapUsed - heapBefore) / 1e6), unit: 'MB' });

      /** Per key: wall ms; the process's CPU ms (all threads); the main thread's CPU ms; wall less the main thread's waits for a CPU. */
      const keys = { wall: [] as number[], cpu: [] as number[], main: [] as number[], unqueued: [] as number[] };
      const press = async (key: string): Promise<void> => {
        const when = drawn();
        const cpu = process.cpuUsage();
        const thread = mainThreadMs();
        const start = performance.now();
        term.input.write(KEY_BYTES[key] ?? key);
        const wall = (await when) - start;
        const used = process.cpuUsage(cpu);
        const after = mainThreadMs();
        keys.wall.push(wall);
        keys.cpu.push((used.user + used.system) / 1000);
        keys.main.push(after.runMs - thread.runMs);
        keys.unqueued.push(Math.max(0, wall - (after.waitMs - thread.waitMs)));
      };
      const report = (what: string): void => {
        const p = (xs: number[], q: number) => +percentile(xs, q).toFixed(2);
        record({ name: `${what} to redraw at 100,000 contacts, p50`, value: p(keys.wall, 50), unit: 'ms', goal: 50 });
        record({ name: `${what} to redraw at 100,000 contacts, p99`, value: p(keys.wall, 99), unit: 'ms', goal: 50 });
        record({ name: `${what} to redraw at 100,000 contacts, max`, value: +Math.max(...keys.wall).toFixed(2), unit: 'ms' });
        record({ name: `${what}: p99 less the main thread's waits for a CPU`, value: p(keys.unqueued, 99), unit: 'ms', goal: 50 });
        record({ name: `${what}: main thread CPU, p99`, value: p(keys.main, 99), unit: 'ms', goal: 50 });
        record({ name: `${what}: process CPU (GC, JIT threads too), p99`, value: p(keys.cpu, 99), unit: 'ms' });
        for (const xs of Object.values(keys)) xs.splice(0);
      };
      for (let i = 0; i < 300; i++) await press('j');
      for (let i = 0; i < 100; i++) await press('k');
      for (let i = 0; i < 50; i++) await press('pagedown');
      for (let i = 0; i < 50; i++) await press('pageup');
      for (let i = 0; i < 20; i++) await press(i % 2 ? 'g' : 'G');
      report('list key');

      for (const query of ['anna', 'smi', 'garcia 1', '555 01', 'zurich', 'lovelace 9999']) {
        await press('/');
        for (const ch of query) await press(ch);
        for (let i = 0; i < query.length; i++) await press('backspace');
        await press('escape');
      }
      report('filter keystroke');
      app.stop();
      screen.destroy();
    },
  },
];

export default benches;
