/**
 * One daemon per data directory: a lock file naming its owner.
 *
 * How this works: the lock is created with its content in one atomic step
 * (write a temp file, hard-link it to the lock name: link fails if the name
 * exists), so nobody ever sees an empty lock. A lock whose owner is gone is
 * stale and taken over: after kill -9 there is nobody left to remove it.
 * The owner is gone when its process does not exist, or when the pid now
 * belongs to another process (its start time differs) or to another boot
 * (the data dir outlives reboots, pids do not). Node has no flock(), hence
 * this. Known gap: two daemons taking over the SAME stale lock in the same
 * instant can both succeed; starting two daemons on one directory at once
 * is the only way to get there.
 */
import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OperatorError } from './errors.ts';

export const LOCK_FILE = 'contactd.lock';

/** Another live daemon holds the data directory. */
export class DataDirLockedError extends OperatorError {
  override name = 'DataDirLockedError';
}

interface Owner {
  pid: number;
  bootId: string | undefined;
  startTime: string | undefined;
}

/** A held lock; `release` is idempotent and never throws. */
export interface DirLock {
  readonly path: string;
  release(): void;
}

/** Takes the lock of `dir` (which must exist), taking over a stale one; throws DataDirLockedError. */
export function acquireLock(dir: string): DirLock {
  const path = join(dir, LOCK_FILE);
  const me: Owner = { pid: process.pid, bootId: bootId(), startTime: processStartTime(process.pid) };
  if (!tryCreate(path, me)) {
    const owner = readOwner(path);
    if (owner && isAlive(owner)) {
      throw new DataDirLockedError(`data directory ${dir} is in use by another contactd (pid ${owner.pid}). Stop it first, or give this one its own --data directory.`);
    }
    // Stale: its owner is gone. Remove it and try once more; losing that race means a live owner now.
    try { unlinkSync(path); } catch { /* someone else removed it first */ }
    if (!tryCreate(path, me)) throw new DataDirLockedError(`data directory ${dir} was just taken by another contactd starting at the same time. Give each daemon its own --data directory.`);
  }
  let held = true;
  return {
    path,
    release() {
      if (!held) return;
      held = false;
      // Only remove a lock that is still ours (never one a successor took over).
      if (readOwner(path)?.pid === me.pid) try { unlinkSync(path); } catch { /* already gone */ }
    },
  };
}

function tryCreate(path: string, owner: Owner): boolean {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(owner) + '\n', { mode: 0o600 });
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkSync(tmp);
  }
}

function readOwner(path: string): Owner | undefined {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as Partial<Owner>;
    return typeof o.pid === 'number' && Number.isInteger(o.pid) && o.pid > 0
      ? { pid: o.pid, bootId: o.bootId ?? undefined, startTime: o.startTime ?? undefined }
      : undefined;
  } catch {
    return undefined; // unreadable or garbled: no owner we could ever ask
  }
}

function isAlive(owner: Owner): boolean {
  const boot = bootId();
  if (owner.bootId && boot && owner.bootId !== boot) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false; // ESRCH: no such process
  }
  const start = processStartTime(owner.pid);
  return !(owner.startTime && start && owner.startTime !== start);
}

/** This boot's id (Linux); undefined elsewhere. */
function bootId(): string | undefined {
  try { return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(); } catch { return undefined; }
}

/** A process's start time in clock ticks since boot (Linux /proc/PID/stat field 22); undefined elsewhere. */
function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (the command name) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}
