/**
 * The SQLite store's writer thread: it owns the file's one write
 * connection and turns the journal batches that sqlite-store.ts posts into
 * transactions, so that the node's main thread (the protocol core, the
 * codec, the cryptography) never builds SQL, derives full-text columns or
 * waits on a commit's bookkeeping. Built to dist/store-writer.js.
 *
 * How this works:
 * - Batches arrive numbered in call order ('commit' messages:
 *   writer-messages.ts). Whatever is queued when a transaction starts goes
 *   into it together (group commit: one fsync for many writers), up to
 *   groupChangesMax changes; one caller's batch is never split. The group
 *   is folded to its net effect (net-changes.ts), each contact's rows are
 *   made from the column text the main thread sent (its full-text columns
 *   from its view: commit-sql.ts), and the whole is one SQL script run by
 *   one `exec`. 'committed' goes back only after COMMIT returned, i.e.
 *   after the WAL was synced.
 * - A failed transaction is rolled back and reported with the batches it
 *   held; from then on every batch is answered 'failed' (fail-stop: see
 *   sqlite-store.ts).
 * - 'close' is taken after everything queued before it: the connection
 *   closes, 'closed' goes back, and the thread ends.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { cloudUnion, type DotCloud } from '../../protocol/contacts/dots.ts';
import { commitScript, contactRows } from './commit-sql.ts';
import { Interner } from './codec.ts';
import { foldChanges } from './net-changes.ts';
import { configureWriter } from './schema.ts';
import { SqliteDb } from './sqlite-db.ts';
import type { FromWriter, ToWriter, WriterBatch, WriterInit } from './writer-messages.ts';

/** What waits for the connection, in order: commits, and settings reads (taken between transactions). */
type Queued = WriterBatch | 'settings';

class Writer {
  private readonly queue: Queued[] = [];
  private draining = false;
  private closing = false;
  /** What the first failed transaction failed with: from then on nothing commits (fail-stop). */
  private failure: string | undefined;
  /** One for every state decoded (they are dropped once their rows are made): saves making one per contact. */
  private readonly interner = new Interner();

  constructor(
    private readonly db: SqliteDb,
    private readonly init: WriterInit,
    private applied: DotCloud,
    private readonly send: (m: FromWriter) => void,
    private readonly done: () => void,
  ) {}

  take(m: ToWriter): void {
    switch (m.type) {
      case 'commit':
        for (const b of m.batches) this.queue.push(b);
        break;
      case 'close':
        this.closing = true;
        break;
      case 'settings':
        // Read between transactions, in the queue's order: never on a connection that close() is closing.
        this.queue.push('settings');
        break;
    }
    if (!this.draining) void this.drain();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    while (this.queue.length > 0) {
      if (this.queue[0] === 'settings') {
        this.queue.shift();
        await this.settings();
        continue;
      }
      const group = this.takeGroup();
      const upTo = group[group.length - 1]!.seq;
      if (this.failure !== undefined) {
        this.send({ type: 'failed', upTo, message: this.failure });
        continue;
      }
      try {
        this.send({ type: 'committed', upTo, batches: group.length, changes: await this.apply(group) });
      } catch (err) {
        this.failure = err instanceof Error ? err.message : String(err);
        this.send({ type: 'failed', upTo, message: this.failure });
      }
    }
    this.draining = false;
    if (this.closing) {
      await this.db.close().catch(() => undefined);
      this.send({ type: 'closed' });
      this.done();
    }
  }

  /** The queue's head and the commits that follow it within groupChangesMax changes (up to a settings read). */
  private takeGroup(): WriterBatch[] {
    const group: WriterBatch[] = [];
    let n = 0;
    for (const q of this.queue) {
      if (q === 'settings' || (group.length > 0 && n + q.changes.length > this.init.groupChangesMax)) break;
      group.push(q);
      n += q.changes.length;
    }
    this.queue.splice(0, group.length);
    return group;
  }

  /** Commits `group` as one transaction (none when it holds no change); returns the changes it held. */
  private async apply(group: readonly WriterBatch[]): Promise<number> {
    const net = foldChanges(group.map((b) => b.changes));
    if (net.count === 0) return 0;
    const applied = cloudUnion(this.applied, net.applied);
    try {
      await this.db.exec(commitScript(net, applied, (id, json) => contactRows(id, json, this.interner)));
    } catch (err) {
      // Whichever statement failed (COMMIT included), the transaction may still be open.
      await this.db.exec('ROLLBACK').catch(() => undefined);
      throw err;
    }
    // Only now: the applied cloud written next must never run ahead of the file.
    this.applied = applied;
    return net.count;
  }

  /** Answers a settings read; a failed read is answered with its error (it is not a failed commit). */
  private async settings(): Promise<void> {
    try {
      const j = await this.db.get<{ journal_mode: string }>('PRAGMA journal_mode');
      const s = await this.db.get<{ synchronous: number }>('PRAGMA synchronous');
      const f = await this.db.get<{ foreign_keys: number }>('PRAGMA foreign_keys');
      const levels = ['OFF', 'NORMAL', 'FULL', 'EXTRA'] as const;
      this.send({ type: 'settings', settings: { journalMode: j!.journal_mode, synchronous: levels[s!.synchronous]!, foreignKeys: f!.foreign_keys === 1 } });
    } catch (err) {
      this.send({ type: 'settings', error: err instanceof Error ? err.message : String(err) });
    }
  }
}

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('commit-worker.ts runs as the store\'s writer thread (sqlite-store.ts starts it)');
  const init = workerData as WriterInit;
  const send = (m: FromWriter) => port.postMessage(m);
  let db: SqliteDb;
  try {
    db = await SqliteDb.open(init.path, 'readwrite-create');
    db.busyTimeout(init.busyTimeoutMs);
    await configureWriter(db, init.synchronous);
  } catch (err) {
    send({ type: 'open-failed', message: (err as Error).message });
    port.close();
    return;
  }
  const writer = new Writer(db, init, init.applied, send, () => port.close());
  port.on('message', (m: ToWriter) => writer.take(m));
  send({ type: 'ready' });
}

await main();
