/**
 * The daemon's durable contact store: a SQLite file in the data directory
 * that the core's in-memory MemoryStore is loaded from at start and whose
 * journal (StoreChange[]) is committed to it, as protocol/contacts/store.ts
 * lays out.
 *
 * How this works:
 * - open: a read-write connection for the integrity check and migrations
 *   (schema.ts), closed once they are done; a read-only connection for
 *   load and search, so a search never waits behind a commit's fsync and
 *   never sees a transaction that is not committed yet; then the writer
 *   thread, with the write connection (WAL, synchronous FULL by default,
 *   foreign keys, busy timeout).
 * - commit(changes): the writes go to the store's writer thread
 *   (commit-worker.ts), which owns the file's one write connection. Its
 *   puts are turned into column text at once, in the caller's turn, from
 *   the value texts replication just made for the same entries (codec.ts
 *   stateJson), so what crosses to the writer is a string per contact;
 *   everything else (the full-text columns, the SQL, the transaction)
 *   happens there, off the thread that runs the protocol. The calls of one
 *   pass of the event loop travel together, in call order (a pass that
 *   commits much sends every POST_CHANGES changes at once). The writer
 *   puts whatever is queued when a transaction starts into it together
 *   (group commit: one fsync for many writers), up to groupChangesMax
 *   changes, never splitting one caller's batch, folded to its net effect
 *   (net-changes.ts) and written as one SQL script (commit-sql.ts), so a
 *   transaction costs one thread-pool round trip whether it carries one
 *   write or a thousand. Each promise resolves after COMMIT returned, i.e.
 *   after the WAL was synced.
 * - A failed transaction is rolled back and rejects every caller in it, and
 *   every later commit too (fail-stop, as PostgreSQL does on a failed
 *   fsync): the MemoryStore already holds those changes and the journal is
 *   a sequence, so committing later batches without the lost one would put
 *   a disk state that never existed in memory (applied dots whose contacts
 *   are missing). The daemon must stop; a restart reloads the last commit.
 *   A writer thread that dies counts as a failed commit.
 * - The writer thread keeps the process alive only while commits are
 *   pending (or it is closing): a store that is open and idle does not.
 * - load: a read transaction on the read-only connection (one consistent
 *   snapshot, even while commits go on) seeds a fresh MemoryStore through
 *   its public API: index floor first (so the catch-up index is rebuilt
 *   above it only, as the live store kept it), applied dots, clock, every
 *   state (read in pages, then loaded at once: MemoryStore.bulkLoad builds
 *   the catch-up index by sorting), fences, old lives (oldest first);
 *   then the journal that seeding produced is discarded: it is what the
 *   file already holds.
 * - The full-text row of a contact is derived from its view (search-text.ts)
 *   on every put and exists exactly while the contact is live.
 */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { EMPTY_CLOUD, type DotCloud } from '../../protocol/contacts/dots.ts';
import type { ContactId } from '../../protocol/contacts/ids.ts';
import { MemoryStore } from '../../protocol/contacts/memory-store.ts';
import type { ContactState } from '../../protocol/contacts/state.ts';
import type { StoreChange } from '../../protocol/contacts/store.ts';
import { checkRanges, decodeClock, decodeFence, decodeState, decodeVector, Interner, parseJson } from './codec.ts';
import { StoreClosedError, StoreCommitError, StoreOpenError } from './errors.ts';
import { toWriterChanges } from './net-changes.ts';
import { checkIntegrity, configureWriter, migrate, SCHEMA_VERSION, type IntegrityCheck } from './schema.ts';
import { FTS_WEIGHTS, ftsQuery } from './search-text.ts';
import { SqliteDb } from './sqlite-db.ts';
import type { FromWriter, ToWriter, WriterBatch, WriterInit, WriterSettings } from './writer-messages.ts';

/** The store's file name in the data directory. */
export const STORE_FILE = 'contacts.sqlite';
/** Most ids one search returns. */
export const SEARCH_RESULTS_MAX = 1000;
/**
 * Changes after which the calls gathered in one pass of the event loop go
 * to the writer without waiting for its end (~40 writes: a transaction's
 * fixed costs are shared, and the writer is not left idle while this
 * thread works through a burst).
 */
export const POST_CHANGES = 128;
/** Rows read per query while loading (bounds the memory a page holds). */
const LOAD_PAGE_ROWS = 2000;

/** How the store is opened. */
export interface SqliteStoreOptions {
  /** FULL (default): a commit survives power loss. NORMAL: survives a process crash; the last commits may be lost on power loss. */
  synchronous?: 'FULL' | 'NORMAL';
  /** How long a statement waits for a lock held by another connection, ms. */
  busyTimeoutMs?: number;
  /** How the file is checked on open (schema.ts). */
  integrityCheck?: IntegrityCheck;
  /** Most changes one transaction takes from several queued callers (a single larger batch still goes whole). */
  groupChangesMax?: number;
}

const DEFAULTS: Required<SqliteStoreOptions> = { synchronous: 'FULL', busyTimeoutMs: 5000, integrityCheck: 'auto', groupChangesMax: 20_000 };

/** What open found and did, for the start-up log line. */
export interface OpenReport {
  readonly path: string;
  readonly schemaVersion: number;
  /** The version the file had before open (0: created now). */
  readonly migratedFrom: number;
  readonly check: 'full' | 'quick';
  readonly checkMs: number;
}

/** Counters for metrics, tests and the bench. */
export interface StoreStats {
  /** Transactions committed. */
  transactions: number;
  /** commit() calls resolved. */
  commits: number;
  /** Changes committed (before folding). */
  changes: number;
  /** Most commit() calls one transaction carried. */
  groupedMax: number;
  /** commit() calls waiting or in the running transaction. */
  pendingCommits: number;
  /** Changes waiting or in the running transaction: shed client writes when it grows. */
  pendingChanges: number;
}

/** Rows per table (`indexed`: full-text rows, equal to `live` when the index is in step). */
export interface StoreCounts {
  contacts: number;
  live: number;
  fences: number;
  indexed: number;
  /** Forgotten contacts whose old life's bound is kept (at most FORGOTTEN_KEPT). */
  oldLives: number;
}

interface Pending {
  /** Changes the call carried. */
  readonly changes: number;
  resolve(): void;
  reject(err: Error): void;
}

/**
 * Run from source (tests and benches under tsx), the writer registers
 * tsx's loader itself: a worker thread gets none of its parent's --import
 * hooks. Built, it is dist/store-writer.js beside this code.
 */
const FROM_SOURCE = import.meta.url.endsWith('.ts');

/**
 * The writer's young generation, MB. What it keeps between transactions is
 * a few MB (its code and a string interner); everything a transaction makes
 * dies with it. V8's default lets the young generation grow to tens of MB
 * under a write stream and keeps it (measured: +30 MB of RSS after 30,000
 * writes); scavenges of a small one cost little, as almost nothing in it
 * survives.
 */
const WRITER_YOUNG_GENERATION_MB = 8;

function writerThread(init: WriterInit): Worker {
  const options = { workerData: init, resourceLimits: { maxYoungGenerationSizeMb: WRITER_YOUNG_GENERATION_MB } };
  if (!FROM_SOURCE) return new Worker(new URL('./store-writer.js', import.meta.url), options);
  // Both resolved here: an eval'd worker resolves packages from the process's working directory.
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const entry = JSON.stringify(new URL('./commit-worker.ts', import.meta.url).href);
  return new Worker(`import(${tsx}).then(({ register }) => { register(); return import(${entry}); })`, { ...options, eval: true });
}

/** Starts the writer thread; resolves once its connection is open and configured. */
function startWriter(init: WriterInit): Promise<Worker> {
  const worker = writerThread(init);
  return new Promise((resolve, reject) => {
    const settle = (err?: Error) => {
      worker.off('message', onMessage).off('error', settle).off('exit', onExit);
      if (!err) return resolve(worker);
      void worker.terminate();
      reject(err);
    };
    const onMessage = (m: FromWriter) => settle(m.type === 'ready' ? undefined : new Error(m.type === 'open-failed' ? m.message : `the writer thread said ${m.type} first`));
    const onExit = (code: number) => settle(new Error(`the writer thread ended (exit code ${code}) before it was ready`));
    worker.on('message', onMessage).on('error', settle).on('exit', onExit);
  });
}

/** Contacts durable in SQLite: open, load, commit, search, close (see the header). */
export class SqliteContactStore {
  /** Calls not yet answered by the writer, by sequence number (in call order). */
  private readonly pending = new Map<number, Pending>();
  /** Calls of this pass of the event loop not yet posted (see commit). */
  private outgoing: WriterBatch[] = [];
  private outgoingChanges = 0;
  private seq = 0;
  private failure: StoreCommitError | undefined;
  private closed = false;
  private writerGone = false;
  private readonly settingsWaiters: { resolve(s: WriterSettings): void; reject(err: Error): void }[] = [];
  private onClosed: (() => void) | undefined;
  private readonly counters: StoreStats = { transactions: 0, commits: 0, changes: 0, groupedMax: 0, pendingCommits: 0, pendingChanges: 0 };

  private constructor(
    private readonly writer: Worker,
    private readonly reader: SqliteDb,
    /** What open found and did. */
    readonly opened: OpenReport,
  ) {
    writer.on('message', (m: FromWriter) => this.heard(m));
    writer.on('error', (err: unknown) => this.writerStopped(`it failed: ${err instanceof Error ? err.message : String(err)}`));
    writer.on('exit', (code) => this.writerStopped(`it ended (exit code ${code})`));
    this.refIfBusy();
  }

  /** Opens (creating if needed) the store in `dataDir`; throws StoreOpenError saying what to do. */
  static open(dataDir: string, opts: SqliteStoreOptions = {}): Promise<SqliteContactStore> {
    return SqliteContactStore.openFile(join(dataDir, STORE_FILE), opts);
  }

  /** Opens (creating if needed) the store at `path`; throws StoreOpenError saying what to do. */
  static async openFile(path: string, options: SqliteStoreOptions = {}): Promise<SqliteContactStore> {
    const opts = { ...DEFAULTS, ...options };
    let db: SqliteDb;
    try {
      db = await SqliteDb.open(path, 'readwrite-create');
    } catch (err) {
      throw new StoreOpenError(`cannot open ${path} (${(err as Error).message}): check that the data directory exists and this user can write it.`);
    }
    let reader: SqliteDb | undefined;
    try {
      db.busyTimeout(opts.busyTimeoutMs);
      const started = performance.now();
      const check = await checkIntegrity(db, opts.integrityCheck);
      const checkMs = performance.now() - started;
      await configureWriter(db, opts.synchronous);
      const { from } = await migrate(db);
      const applied = await readApplied(db);
      await db.close();
      reader = await SqliteDb.open(path, 'readonly');
      reader.busyTimeout(opts.busyTimeoutMs);
      const writer = await startWriter({ path, synchronous: opts.synchronous, busyTimeoutMs: opts.busyTimeoutMs, groupChangesMax: opts.groupChangesMax, applied }).catch((err: Error) => {
        throw new StoreOpenError(`cannot start the store's writer thread for ${path} (${err.message}): check that contactd was installed whole (dist/store-writer.js beside dist/contactd.js; npm run build makes them).`);
      });
      return new SqliteContactStore(writer, reader, { path, schemaVersion: SCHEMA_VERSION, migratedFrom: from, check, checkMs });
    } catch (err) {
      await db.close().catch(() => undefined);
      await reader?.close().catch(() => undefined);
      if (err instanceof StoreOpenError) throw err;
      throw new StoreOpenError(`cannot prepare ${path} (${(err as Error).message}): check disk space and permissions, then restart.`);
    }
  }

  /** Every stored row in a fresh MemoryStore (journaling unless `journal: false`), its seeding journal discarded. */
  async load(opts: { journal?: boolean } = {}): Promise<MemoryStore> {
    this.assertOpen();
    const store = new MemoryStore({ journal: opts.journal ?? true });
    const r = this.reader;
    // One read transaction: every page from the same snapshot, whatever commits meanwhile.
    await r.run('BEGIN');
    try {
      const floor = await readMeta(r, 'index_floor');
      if (floor !== undefined) store.pruneIndex(decodeVector('index floor', parseJson('index floor', floor)));
      store.addApplied(await readApplied(r));
      const clock = await readMeta(r, 'clock');
      if (clock !== undefined) store.setClock(decodeClock(clock));
      const interner = new Interner();
      const states: ContactState[] = [];
      const page = (after: number) => r.all<{ n: number; id: ContactId; state: string }>(
        'SELECT n, id, state FROM contact WHERE n > ?1 ORDER BY n LIMIT ?2', [after, LOAD_PAGE_ROWS]);
      for (let pending = page(0); ;) {
        const rows = await pending;
        // Ask for the next page before decoding this one: SQLite reads while this thread decodes.
        const more = rows.length === LOAD_PAGE_ROWS;
        if (more) pending = page(rows[rows.length - 1]!.n);
        for (const row of rows) states.push(decodeState(row.id, row.state, interner));
        if (!more) break;
      }
      store.bulkLoad(states);
      const fences = await r.all<{ id: ContactId; version: string; frontier: string }>('SELECT id, version, frontier FROM fence');
      for (const f of fences) store.setFence(f.id, decodeFence(f.id, f.version, f.frontier));
      const oldLives = await r.all<{ id: ContactId; bound: string }>('SELECT id, bound FROM old_life ORDER BY n');
      for (const o of oldLives) store.rememberOldLife(o.id, decodeVector(`old life of contact ${o.id}`, parseJson(`old life of contact ${o.id}`, o.bound)));
    } finally {
      await r.run('COMMIT');
    }
    store.drainChanges();
    return store;
  }

  /**
   * Makes `changes` durable in one transaction, after every earlier call's;
   * resolves once COMMIT returned (commit([]) is a barrier for the earlier
   * ones). Rejects with StoreCommitError: then acknowledge nothing and stop.
   */
  commit(changes: readonly StoreChange[]): Promise<void> {
    if (this.closed) return Promise.reject(new StoreClosedError('commit after close: stop taking writes before closing the store'));
    if (this.failure) return Promise.reject(this.failure);
    let batch: WriterBatch;
    try {
      batch = { seq: this.seq + 1, changes: toWriterChanges(changes) };
    } catch (err) {
      return Promise.reject(this.fail((err as Error).message));
    }
    this.seq = batch.seq;
    // Calls travel together: those of one pass of the event loop (what it
    // handled of the datagrams that came in) go at its end, and share the
    // writer's next transaction; but a pass that commits much posts each
    // POST_CHANGES at once, so the writer starts on them while this thread
    // goes on (a pipeline, not stop-and-go).
    if (this.outgoing.length === 0) setImmediate(() => this.post());
    this.outgoing.push(batch);
    this.outgoingChanges += changes.length;
    if (this.outgoingChanges >= POST_CHANGES) this.post();
    return new Promise((resolve, reject) => {
      this.pending.set(batch.seq, { changes: changes.length, resolve, reject });
      this.counters.pendingCommits++;
      this.counters.pendingChanges += changes.length;
      this.refIfBusy();
    });
  }

  /** Ids of live contacts matching every word of `query` as a prefix, best first; at most `limit` (≤ SEARCH_RESULTS_MAX). */
  async search(query: string, limit: number): Promise<ContactId[]> {
    this.assertOpen();
    if (!Number.isFinite(limit)) throw new RangeError(`search limit must be a number, got ${limit}`);
    const n = Math.max(1, Math.min(SEARCH_RESULTS_MAX, Math.floor(limit)));
    const match = ftsQuery(query);
    if (match === undefined) return [];
    const w = FTS_WEIGHTS;
    // Rank and cut inside the index first, then look up ids for the few kept
    // rows: joining every match to `contact` before the LIMIT cost up to 4x.
    const rows = await this.reader.all<{ id: ContactId }>(
      `SELECT c.id FROM (SELECT rowid AS n, bm25(contact_fts, ${w.name}, ${w.email}, ${w.phone}, ${w.org}, ${w.note}) AS r ` +
      'FROM contact_fts WHERE contact_fts MATCH ?1 ORDER BY r, rowid LIMIT ?2) AS m JOIN contact c ON c.n = m.n ORDER BY m.r, m.n', [match, n]);
    return rows.map((r) => r.id);
  }

  /** Rows per table, from the committed state: for the inspect tool, tests and start-up logs. */
  async counts(): Promise<StoreCounts> {
    this.assertOpen();
    const row = await this.reader.get<StoreCounts>(
      'SELECT (SELECT count(*) FROM contact) AS contacts, (SELECT count(*) FROM contact WHERE live = 1) AS live, ' +
      '(SELECT count(*) FROM fence) AS fences, (SELECT count(*) FROM contact_fts) AS indexed, (SELECT count(*) FROM old_life) AS oldLives');
    return row!;
  }

  /** The write connection's durability settings as SQLite reports them. */
  settings(): Promise<WriterSettings> {
    this.assertOpen();
    if (this.writerGone) return Promise.reject(this.fail('the writer thread is gone'));
    return new Promise((resolve, reject) => {
      this.settingsWaiters.push({ resolve, reject });
      this.refIfBusy();
      this.send({ type: 'settings' });
    });
  }

  /** A copy of the counters. */
  stats(): StoreStats {
    return { ...this.counters };
  }

  /** Waits for queued commits, then closes the writer's connection and the reader's; later calls throw StoreClosedError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.post();
    if (!this.writerGone) {
      const closed = new Promise<void>((resolve) => (this.onClosed = resolve));
      this.refIfBusy();
      this.send({ type: 'close' });
      await closed;
    }
    await this.reader.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreClosedError('store used after close');
  }

  private send(m: ToWriter): void {
    this.writer.postMessage(m);
  }

  /** Posts the calls gathered so far. */
  private post(): void {
    if (this.outgoing.length === 0 || this.writerGone) return;
    this.send({ type: 'commit', batches: this.outgoing });
    this.outgoing = [];
    this.outgoingChanges = 0;
  }

  private heard(m: FromWriter): void {
    switch (m.type) {
      case 'committed':
        for (const [seq, p] of this.pending) {
          if (seq > m.upTo) break;
          this.settle(seq, p);
          p.resolve();
        }
        this.counters.commits += m.batches;
        if (m.changes > 0) this.counters.transactions++;
        this.counters.changes += m.changes;
        this.counters.groupedMax = Math.max(this.counters.groupedMax, m.batches);
        break;
      case 'failed':
        this.rejectAll(this.fail(m.message));
        break;
      case 'settings': {
        const waiter = this.settingsWaiters.shift();
        if ('error' in m) waiter?.reject(new Error(`cannot read the store's settings: ${m.error}`));
        else waiter?.resolve(m.settings);
        break;
      }
      case 'closed':
        this.gone(new StoreClosedError('the store was closed'));
        break;
      default:
        // 'ready' and 'open-failed' come once, before this store exists (startWriter).
        break;
    }
    this.refIfBusy();
  }

  /** The writer thread ended or threw: every pending and later commit fails (a restart reloads the file). */
  private writerStopped(how: string): void {
    if (this.writerGone) return;
    const failure = this.fail(`the store's writer thread stopped: ${how}`);
    this.rejectAll(failure);
    this.gone(failure);
  }

  /** The writer is no more: settings reads still waiting fail with `err`, close() goes on. */
  private gone(err: Error): void {
    this.writerGone = true;
    for (const w of this.settingsWaiters.splice(0)) w.reject(err);
    this.onClosed?.();
  }

  private settle(seq: number, p: Pending): void {
    this.pending.delete(seq);
    this.counters.pendingCommits--;
    this.counters.pendingChanges -= p.changes;
  }

  /** Fail-stop: once one transaction failed, every call waiting fails with it (the writer refuses them too). */
  private rejectAll(failure: StoreCommitError): void {
    for (const [seq, p] of this.pending) {
      this.settle(seq, p);
      p.reject(failure);
    }
    this.outgoing = [];
    this.outgoingChanges = 0;
  }

  /** Keeps the process alive while anything waits on the writer; an idle store does not. */
  private refIfBusy(): void {
    if (this.pending.size > 0 || this.settingsWaiters.length > 0 || (this.closed && !this.writerGone)) this.writer.ref();
    else this.writer.unref();
  }

  /** Enters the failed state (fail-stop, see the header) on the first error; returns the error every caller gets. */
  private fail(why: string): StoreCommitError {
    this.failure ??= new StoreCommitError(
      `cannot commit contacts to ${this.opened.path} (${why}): the writes of this batch were not acknowledged; ` +
      'restart contactd (it reloads the last committed state) after freeing disk space or fixing the file system.',
    );
    return this.failure;
  }
}

async function readApplied(db: SqliteDb): Promise<DotCloud> {
  const rows = await db.all<{ origin: string; ranges: string }>('SELECT origin, ranges FROM applied');
  const cloud: Record<string, readonly number[]> = {};
  for (const r of rows) cloud[r.origin] = checkRanges('applied dots', r.origin, parseJson(`applied dots of ${r.origin}`, r.ranges));
  return rows.length === 0 ? EMPTY_CLOUD : cloud;
}

async function readMeta(db: SqliteDb, key: string): Promise<string | undefined> {
  return (await db.get<{ value: string }>('SELECT value FROM meta WHERE key = ?1 LIMIT 1', [key]))?.value;
}
