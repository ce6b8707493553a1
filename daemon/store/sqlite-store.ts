/**
 * The daemon's durable contact store: a SQLite file in the data directory
 * that the core's in-memory MemoryStore is loaded from at start and whose
 * journal (StoreChange[]) is committed to it, as protocol/contacts/store.ts
 * lays out.
 *
 * How this works:
 * - open: one read-write connection (WAL, synchronous FULL by default,
 *   foreign keys, busy timeout), integrity check and migrations
 *   (schema.ts), then a read-only connection for load and search, so a
 *   search never waits behind a commit's fsync and never sees a
 *   transaction that is not committed yet.
 * - commit(changes): its puts are encoded to SQL rows at once (view,
 *   JSON: the costly part), in the caller's turn, so that work overlaps the
 *   transaction then running on the thread pool; then it is queued, and one
 *   drain loop applies the queue in order.
 *   Whatever is queued when a transaction starts goes into it together
 *   (group commit: one fsync for many writers), up to groupChangesMax
 *   changes; one caller's batch is never split. The batch is folded to its
 *   net effect (net-changes.ts) and written as one SQL script
 *   (commit-sql.ts), so a transaction costs one thread-pool round trip
 *   whether it carries one write or a thousand. Each promise resolves after
 *   COMMIT returned, i.e. after the WAL was synced.
 * - A failed transaction is rolled back and rejects every caller in it, and
 *   every later commit too (fail-stop, as PostgreSQL does on a failed
 *   fsync): the MemoryStore already holds those changes and the journal is
 *   a sequence, so committing later batches without the lost one would put
 *   a disk state that never existed in memory (applied dots whose contacts
 *   are missing). The daemon must stop; a restart reloads the last commit.
 * - load: a read transaction on the read-only connection (one consistent
 *   snapshot, even while commits go on) seeds a fresh MemoryStore through
 *   its public API: index floor first (so the catch-up index is rebuilt
 *   above it only, as the live store kept it), applied dots, clock, every
 *   state (read in pages, then loaded at once: MemoryStore.bulkLoad builds
 *   the catch-up index by sorting), fences; then the journal that seeding
 *   produced is discarded: it is what the file already holds.
 * - The full-text row of a contact is derived from its view (search-text.ts)
 *   on every put and exists exactly while the contact is live.
 */
import { join } from 'node:path';
import { cloudUnion, EMPTY_CLOUD, type DotCloud } from '../../protocol/contacts/dots.ts';
import type { ContactId } from '../../protocol/contacts/ids.ts';
import { MemoryStore } from '../../protocol/contacts/memory-store.ts';
import type { ContactState } from '../../protocol/contacts/state.ts';
import type { StoreChange } from '../../protocol/contacts/store.ts';
import { checkRanges, decodeClock, decodeFence, decodeState, decodeVector, Interner, parseJson } from './codec.ts';
import { commitScript, contactRows, type ContactRows } from './commit-sql.ts';
import { StoreClosedError, StoreCommitError, StoreOpenError } from './errors.ts';
import { foldChanges } from './net-changes.ts';
import { checkIntegrity, migrate, SCHEMA_VERSION, type IntegrityCheck } from './schema.ts';
import { FTS_WEIGHTS, ftsQuery } from './search-text.ts';
import { SqliteDb } from './sqlite-db.ts';

/** The store's file name in the data directory. */
export const STORE_FILE = 'contacts.sqlite';
/** Most ids one search returns. */
export const SEARCH_RESULTS_MAX = 1000;
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
}

interface Pending {
  readonly changes: readonly StoreChange[];
  /** The SQL rows of its puts, encoded when commit() was called (dropped with the Pending once committed). */
  readonly rows: ReadonlyMap<ContactState, ContactRows>;
  resolve(): void;
  reject(err: Error): void;
}

/** Contacts durable in SQLite: open, load, commit, search, close (see the header). */
export class SqliteContactStore {
  private readonly queue: Pending[] = [];
  private draining: Promise<void> | undefined;
  private failure: StoreCommitError | undefined;
  private closed = false;
  private applied: DotCloud;
  private readonly counters: StoreStats = { transactions: 0, commits: 0, changes: 0, groupedMax: 0, pendingCommits: 0, pendingChanges: 0 };

  private constructor(
    private readonly db: SqliteDb,
    private readonly reader: SqliteDb,
    private readonly opts: Required<SqliteStoreOptions>,
    /** What open found and did. */
    readonly opened: OpenReport,
    applied: DotCloud,
  ) {
    this.applied = applied;
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
    try {
      db.busyTimeout(opts.busyTimeoutMs);
      const started = performance.now();
      const check = await checkIntegrity(db, opts.integrityCheck);
      const checkMs = performance.now() - started;
      await configure(db, opts);
      const { from } = await migrate(db);
      const reader = await SqliteDb.open(path, 'readonly');
      reader.busyTimeout(opts.busyTimeoutMs);
      const applied = await readApplied(db);
      return new SqliteContactStore(db, reader, opts, { path, schemaVersion: SCHEMA_VERSION, migratedFrom: from, check, checkMs }, applied);
    } catch (err) {
      await db.close().catch(() => undefined);
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
    // Encode now, in the caller's turn: while a transaction runs on the
    // thread pool, this thread is free, and the drain then only joins strings.
    const rows = new Map<ContactState, ContactRows>();
    try {
      for (const c of changes) if (c.kind === 'put' && !rows.has(c.state)) rows.set(c.state, contactRows(c.state));
    } catch (err) {
      return Promise.reject(this.fail(err));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ changes, rows, resolve, reject });
      this.counters.pendingCommits++;
      this.counters.pendingChanges += changes.length;
      this.pump();
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
      '(SELECT count(*) FROM fence) AS fences, (SELECT count(*) FROM contact_fts) AS indexed');
    return row!;
  }

  /** The write connection's durability settings as SQLite reports them. */
  async settings(): Promise<{ journalMode: string; synchronous: 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA'; foreignKeys: boolean }> {
    this.assertOpen();
    const j = await this.db.get<{ journal_mode: string }>('PRAGMA journal_mode');
    const s = await this.db.get<{ synchronous: number }>('PRAGMA synchronous');
    const f = await this.db.get<{ foreign_keys: number }>('PRAGMA foreign_keys');
    const levels = ['OFF', 'NORMAL', 'FULL', 'EXTRA'] as const;
    return { journalMode: j!.journal_mode, synchronous: levels[s!.synchronous]!, foreignKeys: f!.foreign_keys === 1 };
  }

  /** A copy of the counters. */
  stats(): StoreStats {
    return { ...this.counters };
  }

  /** Waits for queued commits, then closes both connections; later calls throw StoreClosedError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.draining) await this.draining;
    await this.reader.close();
    await this.db.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreClosedError('store used after close');
  }

  private pump(): void {
    if (this.draining) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      // A commit queued between the loop's last check and now must not wait forever.
      if (this.queue.length > 0) this.pump();
    });
  }

  private async drain(): Promise<void> {
    // One microtask first: commits made in the same synchronous run as this
    // one (a tick's callers, a Promise.all) join its transaction.
    await null;
    while (this.queue.length > 0) {
      const group = this.takeGroup();
      try {
        if (this.failure) throw this.failure;
        await this.applyGroup(group);
        this.counters.commits += group.length;
        for (const p of group) p.resolve();
      } catch (err) {
        const failure = this.fail(err);
        for (const p of group) p.reject(failure);
      } finally {
        this.counters.pendingCommits -= group.length;
        for (const p of group) this.counters.pendingChanges -= p.changes.length;
      }
    }
  }

  /** Enters the failed state (fail-stop, see the header) on the first error; returns the error every caller gets. */
  private fail(err: unknown): StoreCommitError {
    this.failure ??= new StoreCommitError(
      `cannot commit contacts to ${this.opened.path} (${(err as Error).message}): the writes of this batch were not acknowledged; ` +
      'restart contactd (it reloads the last committed state) after freeing disk space or fixing the file system.',
    );
    return this.failure;
  }

  /** The queue's head and whatever follows it within groupChangesMax changes. */
  private takeGroup(): Pending[] {
    let n = this.queue[0]!.changes.length;
    let k = 1;
    while (k < this.queue.length && n + this.queue[k]!.changes.length <= this.opts.groupChangesMax) n += this.queue[k++]!.changes.length;
    return this.queue.splice(0, k);
  }

  private async applyGroup(group: readonly Pending[]): Promise<void> {
    const net = foldChanges(group.map((p) => p.changes));
    if (net.count === 0) return;
    const applied = cloudUnion(this.applied, net.applied);
    try {
      const rows = new Map<ContactState, ContactRows>();
      for (const p of group) for (const [st, r] of p.rows) rows.set(st, r);
      await this.db.exec(commitScript(net, applied, (st) => rows.get(st) ?? contactRows(st)));
    } catch (err) {
      // Whichever statement failed (COMMIT included), the transaction may still be open.
      await this.db.exec('ROLLBACK').catch(() => undefined);
      throw err;
    }
    // Only now: the mirror of the applied cloud must never run ahead of the file.
    this.applied = applied;
    this.counters.transactions++;
    this.counters.changes += net.count;
    this.counters.groupedMax = Math.max(this.counters.groupedMax, group.length);
  }
}

async function configure(db: SqliteDb, opts: Required<SqliteStoreOptions>): Promise<void> {
  const mode = await db.get<{ journal_mode: string }>('PRAGMA journal_mode = WAL');
  if (mode?.journal_mode !== 'wal') {
    throw new StoreOpenError(`${db.path} cannot use write-ahead logging (journal mode ${mode?.journal_mode}): put the data directory on a local file system.`);
  }
  // Foreign keys make forgetting a contact remove its fence (ON DELETE CASCADE).
  // journal_size_limit: truncate the WAL back to 64 MiB after a checkpoint, so one big batch does not keep a big file.
  await db.exec(`PRAGMA synchronous = ${opts.synchronous}; PRAGMA foreign_keys = ON; PRAGMA journal_size_limit = ${64 * 1024 * 1024}; PRAGMA trusted_schema = OFF`);
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
