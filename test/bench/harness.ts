/**
 * The benchmark contract. Each `test/bench/*.bench.ts` file default-exports a
 * list of `Bench`es; `npm run bench -- WORD` runs those whose name contains
 * WORD. A bench reports figures as it measures them; a figure may carry the
 * baseline it is compared against (measured in the same run: Serf,
 * Negentropy, the naive way) and the goal it must meet.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';

export interface Figure {
  name: string;
  value: number;
  unit: string;
  /** The comparison figure, measured in the same run. */
  baseline?: number;
  /** The target this figure is held to. */
  goal?: number;
}

export type Record = (figure: Figure) => void;

export interface Bench {
  name: string;
  run(record: Record): Promise<void> | void;
}

/** Records the 1-minute load average: wall times and rates depend on what else the machine runs. */
export function recordLoad(record: Record, label: string): void {
  record({ name: `${label}: load average (1 min)`, value: Number(loadavg()[0]!.toFixed(2)), unit: '' });
}

/**
 * The main thread of process `pid` (this process by default): time it has
 * run on a CPU, and time it has waited, runnable, for one (ms, from
 * /proc/PID/schedstat, nanosecond resolution). Unlike process.cpuUsage it
 * leaves out the GC and compiler threads; the wait is what a busy machine
 * adds to a latency.
 */
export function mainThreadMs(pid = process.pid): { runMs: number; waitMs: number } {
  const [run, wait] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ');
  return { runMs: Number(run) / 1e6, waitMs: Number(wait) / 1e6 };
}

/** Formats a figure as one aligned line for the console. */
export function formatFigure(f: Figure): string {
  const num = (v: number) => (Number.isInteger(v) ? String(v) : v.toPrecision(4));
  let line = `${f.name.padEnd(64)} ${num(f.value).padStart(12)} ${f.unit}`;
  if (f.baseline !== undefined) line += `   baseline ${num(f.baseline)}`;
  if (f.goal !== undefined) line += `   goal ${num(f.goal)}`;
  return line;
}

/** Median of a non-empty list. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The p-th percentile (0..100) of a non-empty list, nearest rank. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[rank]!;
}

/** Median µs per call of `fn`, timed in batches of about a millisecond for `totalMs`. */
export function microsPerCall(fn: () => unknown, totalMs = 300): number {
  const t0 = performance.now();
  fn();
  const single = performance.now() - t0;
  const batch = Math.max(1, Math.round(1 / Math.max(single, 1e-4)));
  for (let i = 0; i < batch * 5; i++) fn(); // warm the JIT
  const samples: number[] = [];
  const end = performance.now() + totalMs;
  while (performance.now() < end || samples.length < 5) {
    const start = performance.now();
    for (let i = 0; i < batch; i++) fn();
    samples.push(((performance.now() - start) / batch) * 1000);
  }
  return median(samples);
}
