/**
 * A promise face on one node-sqlite3 connection, with its prepared
 * statements cached.
 *
 * How this works: node-sqlite3 runs every statement on the libuv thread
 * pool and calls back. Its default "parallel" mode does not promise that two
 * statements queued back to back run in that order, so the store awaits each
 * statement before issuing the next (a commit is one script run by `exec`:
 * commit-sql.ts). Statements are prepared once per SQL
 * text and reused: preparing costs as much as running a small statement.
 * Errors carry the SQLite code (`SQLITE_CORRUPT`, `SQLITE_FULL`…) in
 * `code`, as node-sqlite3 sets it.
 */
import sqlite3 from 'sqlite3';

/** How a connection is opened. */
export type OpenMode = 'readwrite-create' | 'readonly';

/** Most statements one connection keeps prepared (the store uses about twenty). */
const STATEMENTS_MAX = 64;

/** One open SQLite connection. */
export class SqliteDb {
  private readonly statements = new Map<string, Promise<sqlite3.Statement>>();

  private constructor(readonly path: string, private readonly db: sqlite3.Database) {}

  /** Opens `path`; rejects with the SQLite error (code CANTOPEN, NOTADB…). */
  static open(path: string, mode: OpenMode): Promise<SqliteDb> {
    const flags = mode === 'readonly' ? sqlite3.OPEN_READONLY : sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE;
    return new Promise((resolve, reject) => {
      const db = new sqlite3.Database(path, flags, (err) => (err ? reject(err) : resolve(new SqliteDb(path, db))));
    });
  }

  /** Waits at most `ms` for a lock another connection holds before failing with SQLITE_BUSY. */
  busyTimeout(ms: number): void {
    this.db.configure('busyTimeout', ms);
  }

  /** Runs one statement; resolves with the rows it changed. */
  async run(sql: string, params: readonly unknown[] = []): Promise<number> {
    const stmt = await this.statement(sql);
    return new Promise((resolve, reject) => {
      stmt.run(params, function (this: sqlite3.RunResult, err: Error | null) {
        if (err) reject(err);
        else resolve(this.changes);
      });
    });
  }

  /** The first row of a query (give it LIMIT 1), or undefined. */
  async get<T>(sql: string, params: readonly unknown[] = []): Promise<T | undefined> {
    // Through `all`: it steps the statement to its end and resets it, so no
    // half-read statement keeps a read transaction (and its WAL snapshot) open.
    return (await this.all<T>(sql, params))[0];
  }

  /** Every row of a query (bound it with LIMIT: they are all held at once). */
  async all<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    const stmt = await this.statement(sql);
    return new Promise((resolve, reject) => {
      stmt.all<T>(params, (err: Error | null, rows: T[]) => (err ? reject(err) : resolve(rows)));
    });
  }

  /** Runs SQL text without parameters (several statements allowed); not cached: for schema changes and pragmas. */
  exec(sql: string): Promise<void> {
    return new Promise((resolve, reject) => this.db.exec(sql, (err) => (err ? reject(err) : resolve())));
  }

  /** Finalizes the statements and closes the connection. */
  async close(): Promise<void> {
    const stmts = [...this.statements.values()];
    this.statements.clear();
    const prepared = await Promise.allSettled(stmts);
    for (const p of prepared) if (p.status === 'fulfilled') await new Promise<void>((resolve) => p.value.finalize(() => resolve()));
    await new Promise<void>((resolve, reject) => this.db.close((err) => (err ? reject(err) : resolve())));
  }

  private statement(sql: string): Promise<sqlite3.Statement> {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      // A bounded cache: a caller building SQL text dynamically must not grow it forever.
      if (this.statements.size >= STATEMENTS_MAX) throw new RangeError(`more than ${STATEMENTS_MAX} distinct statements on ${this.path}: build SQL from a fixed set`);
      stmt = new Promise((resolve, reject) => {
        const s = this.db.prepare(sql, (err: Error | null) => {
          if (!err) return resolve(s);
          this.statements.delete(sql);
          reject(err);
        });
      });
      this.statements.set(sql, stmt);
    }
    return stmt;
  }
}
