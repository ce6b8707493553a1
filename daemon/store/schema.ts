/**
 * The contacts database's schema, its versions, and the checks made before
 * the daemon trusts a file.
 *
 * How this works:
 * - The file says whose it is and which version it has in its header:
 *   `PRAGMA application_id` (CONTACTS_APPLICATION_ID) and `PRAGMA
 *   user_version` (the number of migrations applied). Both are part of the
 *   database header, so they change in the same transaction as the tables.
 * - MIGRATIONS is append-only: step k takes version k-1 to k. Each step runs
 *   in its own IMMEDIATE transaction together with the version bump, so a
 *   crash or an error leaves the file at the previous version, never between
 *   two. A file from a newer contactd is refused (its rows may mean things
 *   this code does not know), as is a file that holds tables but is not ours.
 * - Integrity: before anything reads it, the file is checked. `PRAGMA
 *   integrity_check` reads every page, checks every index against its table
 *   and runs FTS5's own check; `quick_check` skips the index-versus-table
 *   comparison and is several times faster on a big file. 'auto' runs the
 *   full check up to FULL_CHECK_BYTES_MAX (an address book is far below it:
 *   100,000 contacts is about a hundred megabytes) and quick_check beyond,
 *   so a start never stalls for minutes; an index damaged in a way only the
 *   full check sees is still caught by SQLite when it is used.
 * A failure names the file and says what to do.
 */
import { statSync } from 'node:fs';
import { StoreOpenError } from './errors.ts';
import type { SqliteDb } from './sqlite-db.ts';

/** 'cntc': marks a file as a contacts store (PRAGMA application_id). */
export const CONTACTS_APPLICATION_ID = 0x636e7463;

/** One schema step: from version `version - 1` to `version`. */
export interface Migration {
  readonly version: number;
  /** What the step does, for logs and errors. */
  readonly what: string;
  readonly sql: string;
}

/**
 * Append only: never edit a step once released, add one. Version 1:
 * - contact: one row per held state. `n` is the rowid the full-text row
 *   shares (kept by upserts, so the index row can be found and removed);
 *   `state` is codec.ts's JSON; `live` says whether a reader sees it.
 * - fence: a tombstone's fence (gc.ts), removed with its contact.
 * - applied: the node's applied dot cloud, one row per origin, so a commit
 *   rewrites only the origins it touched.
 * - meta: the node's last HLC ('clock') and catch-up index floor ('index_floor').
 * - contact_fts: contentless (the text is derived from `state`, no need to
 *   keep it twice) with contentless_delete so a row can be removed.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    what: 'contacts, fences, applied dots, node meta, full-text index',
    sql: `
      CREATE TABLE contact (
        n INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        live INTEGER NOT NULL CHECK (live IN (0, 1)),
        state TEXT NOT NULL
      ) STRICT;
      CREATE TABLE fence (
        id TEXT PRIMARY KEY REFERENCES contact(id) ON DELETE CASCADE,
        version TEXT NOT NULL,
        frontier TEXT NOT NULL
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE applied (
        origin TEXT PRIMARY KEY,
        ranges TEXT NOT NULL
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) STRICT, WITHOUT ROWID;
      CREATE VIRTUAL TABLE contact_fts USING fts5(
        name, email, phone, org, note,
        content = '', contentless_delete = 1,
        tokenize = "unicode61 remove_diacritics 2"
      );
    `,
  },
  /*
   * Version 2: old_life, where the old life of a contact forgotten lately
   * ended (MemoryStore.forgottenFloor), so that after a restart a contact
   * created again under a collected id still starts above it. `n` orders
   * rows by their last change; a commit keeps the newest FORGOTTEN_KEPT.
   * Not tied to contact: the contact row is gone, or belongs to a new life.
   */
  {
    version: 2,
    what: 'old lives of forgotten contacts',
    sql: `
      CREATE TABLE old_life (
        n INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        bound TEXT NOT NULL
      ) STRICT;
    `,
  },
];

/** The version this code writes and reads. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** How thoroughly a file is checked on open. */
export type IntegrityCheck = 'auto' | 'full' | 'quick';

/** Above this file size 'auto' uses quick_check (see the header). */
export const FULL_CHECK_BYTES_MAX = 512 * 1024 * 1024;

/** Problems listed in a corruption message, at most. */
const PROBLEMS_SHOWN_MAX = 5;

/** Checks the file at `db.path`; throws StoreOpenError saying what to do when it is damaged. */
export async function checkIntegrity(db: SqliteDb, mode: IntegrityCheck): Promise<'full' | 'quick'> {
  const size = fileSize(db.path);
  const kind = mode === 'auto' ? (size <= FULL_CHECK_BYTES_MAX ? 'full' : 'quick') : mode;
  const pragma = kind === 'full' ? 'integrity_check' : 'quick_check';
  let problems: string[];
  try {
    const rows = await db.all<Record<string, string>>(`PRAGMA ${pragma}(${PROBLEMS_SHOWN_MAX})`);
    problems = rows.map((r) => Object.values(r)[0] ?? '').filter((p) => p !== 'ok');
  } catch (err) {
    problems = [(err as Error).message];
  }
  if (problems.length > 0) throw corrupt(db.path, problems);
  return kind;
}

/** Brings the file to SCHEMA_VERSION (or `migrations`' last version); throws StoreOpenError when it cannot. */
export async function migrate(db: SqliteDb, migrations: readonly Migration[] = MIGRATIONS): Promise<{ from: number; to: number }> {
  const target = migrations.length;
  const from = await ownedVersion(db, target);
  for (const step of migrations.slice(from)) {
    try {
      await db.exec('BEGIN IMMEDIATE');
      await db.exec(step.sql);
      await db.exec(`PRAGMA user_version = ${step.version}; PRAGMA application_id = ${CONTACTS_APPLICATION_ID}`);
      await db.exec('COMMIT');
    } catch (err) {
      await db.exec('ROLLBACK').catch(() => undefined);
      throw new StoreOpenError(
        `cannot migrate ${db.path} to schema version ${step.version} (${step.what}): ${(err as Error).message}. ` +
        `The file is unchanged at version ${step.version - 1}; free disk space or fix permissions and restart, or report this with the file.`,
      );
    }
  }
  return { from, to: target };
}

/** The file's schema version, after checking it is ours (or empty) and not newer than `target`. */
async function ownedVersion(db: SqliteDb, target: number): Promise<number> {
  const app = (await db.get<{ application_id: number }>('PRAGMA application_id'))?.application_id ?? 0;
  const version = (await db.get<{ user_version: number }>('PRAGMA user_version'))?.user_version ?? 0;
  if (app !== CONTACTS_APPLICATION_ID && app !== 0) {
    throw new StoreOpenError(`${db.path} belongs to another program (application_id ${app}): give contactd its own data directory.`);
  }
  if (app === 0) {
    const objects = await db.get<{ n: number }>('SELECT count(*) AS n FROM sqlite_schema');
    if ((objects?.n ?? 0) > 0) {
      throw new StoreOpenError(`${db.path} holds tables but is not a contacts database: move it away or give contactd its own data directory.`);
    }
  }
  if (version > target) {
    throw new StoreOpenError(
      `${db.path} has schema version ${version}, newer than this contactd understands (${target}): ` +
      'run the newer contactd that wrote it, or restore a backup made by this version. The file was not changed.',
    );
  }
  return version;
}

function corrupt(path: string, problems: readonly string[]): StoreOpenError {
  return new StoreOpenError(
    `${path} is damaged (${problems.slice(0, PROBLEMS_SHOWN_MAX).join('; ')}); contactd will not start on it. ` +
    'Stop the node, move the whole data directory aside (keep it for inspection), and start the node with a fresh data ' +
    'directory: it takes a new node id and refills from its peers. Or restore the data directory from a backup.',
  );
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * A write connection's settings: write-ahead logging (a property of the
 * file: refused on file systems without shared memory), then what each
 * connection sets for itself: `synchronous`, foreign keys (forgetting a
 * contact removes its fence by ON DELETE CASCADE), a WAL truncated back to
 * 64 MiB after a checkpoint (one big batch does not keep a big file), and
 * no schema-defined functions run with this connection's rights.
 */
export async function configureWriter(db: SqliteDb, synchronous: 'FULL' | 'NORMAL'): Promise<void> {
  const mode = await db.get<{ journal_mode: string }>('PRAGMA journal_mode = WAL');
  if (mode?.journal_mode !== 'wal') {
    throw new StoreOpenError(`${db.path} cannot use write-ahead logging (journal mode ${mode?.journal_mode}): put the data directory on a local file system.`);
  }
  await db.exec(`PRAGMA synchronous = ${synchronous}; PRAGMA foreign_keys = ON; PRAGMA journal_size_limit = ${64 * 1024 * 1024}; PRAGMA trusted_schema = OFF`);
}
