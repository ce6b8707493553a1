/**
 * The node's small durable state in its data directory: its id, and the
 * values the core asks to keep (`persist` events: today the membership's
 * incarnation and last known members).
 *
 * How this works: the directory is created private (0700) and locked
 * (lock.ts). The node id is 16 hex characters from crypto.randomBytes,
 * made once and kept. Each persisted key is one JSON file, `<key>.json`,
 * replaced atomically: write a temp file, fsync it, rename it over the old
 * one, fsync the directory, so a crash leaves the old value or the new one,
 * never a torn file. Writes are synchronous on purpose: the driver delivers
 * a persist before sending the datagrams that follow it, and that order is
 * only real if the write is done when `save` returns. They are rare (the
 * core batches them) and small. Contacts will live in a separate SQLite
 * store; this stays the few-bytes-of-identity store.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { isNodeId, nodeId, parseAddress, type Address, type NodeId } from '../protocol/types.ts';
import type { PersistedMembership } from '../protocol/membership/membership.ts';
import { acquireLock, type DirLock } from './lock.ts';
import { OperatorError } from './errors.ts';

const NODE_ID_FILE = 'node-id';
const KEY_RE = /^[a-z][a-z0-9-]{0,63}$/;

/** The data directory is unusable; the message says what to do. */
export class StateError extends OperatorError {
  override name = 'StateError';
}

/** Replaces `path` with `data` so that a crash leaves either the old or the new content. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  // The rename itself lives in the directory: sync it too, or it may not survive power loss.
  const dirFd = openSync(dirname(path), 'r');
  try { fsyncSync(dirFd); } finally { closeSync(dirFd); }
}

/** An open, locked data directory. */
export class StateDir {
  private constructor(readonly dir: string, private readonly lock: DirLock) {}

  /** Creates (0700) and locks `dir`; throws StateError or DataDirLockedError. */
  static open(dir: string): StateDir {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new StateError(`cannot create data directory ${dir} (${(err as NodeJS.ErrnoException).code}); give a directory this user can write with --data.`);
    }
    return new StateDir(dir, acquireLock(dir));
  }

  /** This node's id: read from the directory, or made and stored on first start. */
  nodeId(): NodeId {
    const path = join(this.dir, NODE_ID_FILE);
    const text = this.readText(path);
    if (text === undefined) {
      const id = nodeId(randomBytes(8).toString('hex'));
      writeFileAtomic(path, id + '\n');
      return id;
    }
    const id = text.trim();
    if (!isNodeId(id)) throw new StateError(`${path} holds ${JSON.stringify(id.slice(0, 40))}, not a node id (16 hex digits). Restore it from a backup, or delete it to start as a new node.`);
    return id;
  }

  /**
   * This start's boot epoch, saved before it is returned: one above the last
   * start's, and never below the wall clock in seconds, so a data dir
   * restored from an old backup still moves forward (packet-security.ts:
   * members refuse an epoch lower than one they saw; nonces stay unique
   * even if an epoch repeats, through the boot salt).
   */
  raiseBootEpoch(nowMs: number): number {
    const last = this.load('boot-epoch');
    const previous = Number.isSafeInteger(last) && (last as number) > 0 ? (last as number) : 0;
    const epoch = Math.max(previous + 1, Math.floor(nowMs / 1000));
    // Counting again from a lower epoch would not reuse a nonce (each start draws a new boot salt), but every member
    // remembers this node's highest epoch and would refuse the lower ones: the way on is a new node id.
    if (epoch > 0xffff_ffff) {
      throw new StateError(`the boot epoch in ${this.keyPath('boot-epoch')} is exhausted (${previous}): this node cannot start again under its id. `
        + `Start it as a new member: stop it, delete node-id, boot-epoch.json and peer-epochs.json in ${this.dir}, and start it (its contacts stay; the old id is marked dead and reaped).`);
    }
    this.save('boot-epoch', epoch);
    return epoch;
  }

  /** The value last saved under `key`, or undefined. Throws StateError when the file is unreadable JSON. */
  load(key: string): unknown {
    const path = this.keyPath(key);
    const text = this.readText(path);
    if (text === undefined) return undefined;
    try {
      return (JSON.parse(text) as { value?: unknown }).value;
    } catch (err) {
      throw new StateError(`${path} is not valid JSON (${(err as Error).message}).`);
    }
  }

  /** Saves `value` under `key`, durably, before returning. */
  save(key: string, value: unknown): void {
    writeFileAtomic(this.keyPath(key), JSON.stringify({ savedAt: new Date().toISOString(), value }) + '\n');
  }

  /** Releases the lock. */
  close(): void {
    this.lock.release();
  }

  private keyPath(key: string): string {
    if (!KEY_RE.test(key)) throw new StateError(`bad state key ${JSON.stringify(key)}`);
    return join(this.dir, `${key}.json`);
  }

  private readText(path: string): string | undefined {
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new StateError(`cannot read ${path} (${(err as NodeJS.ErrnoException).code}); check the data directory's permissions.`);
    }
  }
}

/** `value` as a PersistedMembership, or a reason it is not one. */
export function asPersistedMembership(value: unknown): PersistedMembership | string {
  if (typeof value !== 'object' || value === null) return 'not an object';
  const v = value as { incarnation?: unknown; members?: unknown; seeds?: unknown };
  if (!Number.isSafeInteger(v.incarnation) || (v.incarnation as number) < 0) return 'bad incarnation';
  if (!Array.isArray(v.members)) return 'no member list';
  const members: PersistedMembership['members'] = [];
  for (const m of v.members as { id?: unknown; name?: unknown; addr?: unknown }[]) {
    if (!isNodeId(m?.id) || typeof m.name !== 'string' || typeof m.addr !== 'string' || !parseAddress(m.addr)) return 'bad member entry';
    members.push({ id: m.id, name: m.name, addr: m.addr as Address });
  }
  if (v.seeds === undefined) return { incarnation: v.incarnation as number, members };
  if (!Array.isArray(v.seeds) || !v.seeds.every((a) => typeof a === 'string' && parseAddress(a))) return 'bad seed list';
  return { incarnation: v.incarnation as number, members, seeds: v.seeds as Address[] };
}
