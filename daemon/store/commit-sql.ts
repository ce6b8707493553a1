/**
 * One commit as one SQL script: BEGIN IMMEDIATE, the net changes of a
 * batch, COMMIT, run by a single `exec`.
 *
 * How this works: node-sqlite3 sends every statement to the thread pool and
 * back; with bound parameters a transaction of a forget, a put, a fence, the
 * applied dots and the clock costs eight or more round trips, and passing a
 * batch as one JSON parameter made SQLite parse it again in every statement
 * (measured: most of a 64-write transaction). A script is one round trip and
 * SQLite reads each value once, as a literal. Literals are safe by
 * construction: text is single-quoted with every quote doubled (SQL has no
 * other escape inside quotes), NUL (which would end the C string exec
 * reads) cannot occur — state text is JSON (codec.ts stateJson escapes
 * every control character), ids are validated ULIDs or UUIDs, and the
 * full-text columns have control characters replaced by spaces. Rows go in
 * statements of at most ROWS_PER_STATEMENT, so a huge batch (a full sync)
 * does not make one gigantic statement.
 *
 * The script is ASCII throughout: a literal with other characters is
 * written unistr('…') with them as \uXXXX (\+XXXXXX beyond the BMP) and
 * backslashes doubled, which SQLite turns back into the same text. Why:
 * node-sqlite3 copies the script to UTF-8 on the calling thread (the
 * store's writer thread, commit-worker.ts) before the thread pool runs it,
 * and a string with a single non-ASCII character is a two-byte string for
 * V8, which it copied three times slower (measured: a 45,000-character
 * script, 95 µs against 280 µs; the copy was the largest single cost of a
 * commit on that thread). The stored text is the same bytes either way:
 * state text keeps its characters (codec.ts storedJson), not the \uXXXX
 * escapes it travels with, which would take up to three times the room.
 *
 * Order inside the script: forgets (their full-text rows, then the rows; a
 * fence goes with its contact by ON DELETE CASCADE), puts (old full-text
 * rows out, upsert, new full-text rows in for live contacts), fences, old
 * lives (each row deleted and inserted again, so the rowid order is the
 * order of last change, then all but the newest FORGOTTEN_KEPT dropped),
 * applied origins, meta.
 */
import type { DotCloud } from '../../protocol/contacts/dots.ts';
import type { ContactId } from '../../protocol/contacts/ids.ts';
import { FORGOTTEN_KEPT } from '../../protocol/contacts/store.ts';
import { decodeState, encodeClock, encodeFence, storedJson, type Interner } from './codec.ts';
import type { NetChanges } from './net-changes.ts';
import { ftsColumns } from './search-text.ts';

/** Rows per INSERT or id list, at most. */
export const ROWS_PER_STATEMENT = 500;

/**
 * `s` as an SQL text expression in ASCII: a literal, or unistr('…') when
 * `s` holds anything else (see the header). NUL is refused: a script is a C
 * string. A lone surrogate becomes U+FFFD, as in a bound parameter (UTF-8
 * cannot hold it; state JSON escapes it first).
 */
export function sqlText(s: string): string {
  if (s.includes('\u0000')) throw new RangeError('NUL in an SQL literal: encode the value first');
  const quoted = s.replaceAll("'", "''");
  return NOT_ASCII.test(quoted) ? `unistr('${unistrEscapes(quoted)}')` : `'${quoted}'`;
}

const NOT_ASCII = /[^\u0000-\u007f]/;
const HEX = '0123456789abcdef';

/** `s` with backslashes doubled and every non-ASCII character as unistr's \uXXXX or \+XXXXXX. */
function unistrEscapes(s: string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80 && c !== 0x5c) continue;
    out += s.slice(from, i);
    if (c === 0x5c) out += '\\\\';
    else if ((c & 0xfc00) === 0xd800 && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      const cp = s.codePointAt(i)!;
      out += `\\+${HEX[cp >> 20]}${HEX[(cp >> 16) & 15]}${HEX[(cp >> 12) & 15]}${HEX[(cp >> 8) & 15]}${HEX[(cp >> 4) & 15]}${HEX[cp & 15]}`;
      i++;
    } else {
      const u = (c & 0xf800) === 0xd800 ? 0xfffd : c;
      out += `\\u${HEX[u >> 12]}${HEX[(u >> 8) & 15]}${HEX[(u >> 4) & 15]}${HEX[u & 15]}`;
    }
    from = i + 1;
  }
  return out + s.slice(from);
}

/** Full-text column text: control characters become spaces (they separate words anyway). */
function ftsText(s: string): string {
  return sqlText(CONTROL.test(s) ? s.replace(CONTROL_ALL, ' ') : s);
}

/** The control characters (Unicode category Cc: U+0000-001F, U+007F-009F), without the slower Unicode mode. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const CONTROL_ALL = /[\u0000-\u001f\u007f-\u009f]/g;

function chunks<T>(xs: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += ROWS_PER_STATEMENT) out.push(xs.slice(i, i + ROWS_PER_STATEMENT));
  return out;
}

function idList(ids: readonly ContactId[]): string {
  return `(${ids.map(sqlText).join(', ')})`;
}

/** A contact's SQL row values: `(id, live, state)` and, while live, `(id, name, email, phone, org, note)`. */
export interface ContactRows {
  readonly contact: string;
  readonly fts: string | undefined;
}

/** The SQL row values of contact `id` whose state is `json` (stateJson): its view gives the full-text columns. */
export function contactRows(id: ContactId, json: string, interner?: Interner): ContactRows {
  const text = ftsColumns(decodeState(id, json, interner));
  const quotedId = sqlText(id);
  return {
    contact: `(${quotedId}, ${text ? 1 : 0}, ${sqlText(storedJson(json))})`,
    fts: text ? `(${quotedId}, ${text.map(ftsText).join(', ')})` : undefined,
  };
}

/** The whole transaction for `net`; `applied` is the node's applied cloud after it (rows are rewritten whole). */
export function commitScript(net: NetChanges, applied: DotCloud, rowsOf: (id: ContactId, json: string) => ContactRows = contactRows): string {
  const sql = ['BEGIN IMMEDIATE'];
  for (const ids of chunks([...net.forgets])) {
    sql.push(`DELETE FROM contact_fts WHERE rowid IN (SELECT n FROM contact WHERE live = 1 AND id IN ${idList(ids)})`);
    sql.push(`DELETE FROM contact WHERE id IN ${idList(ids)}`);
  }
  for (const puts of chunks([...net.puts])) {
    sql.push(`DELETE FROM contact_fts WHERE rowid IN (SELECT n FROM contact WHERE live = 1 AND id IN ${idList(puts.map(([id]) => id))})`);
    const rows = puts.map(([id, json]) => rowsOf(id, json));
    // An upsert, not INSERT OR REPLACE: a replace deletes the row (cascading its fence) and changes its rowid.
    sql.push(`INSERT INTO contact(id, live, state) VALUES ${rows.map((r) => r.contact).join(', ')} ON CONFLICT(id) DO UPDATE SET live = excluded.live, state = excluded.state`);
    const live = rows.flatMap((r) => (r.fts === undefined ? [] : [r.fts]));
    if (live.length > 0) {
      sql.push('INSERT INTO contact_fts(rowid, name, email, phone, org, note) SELECT c.n, v.column2, v.column3, v.column4, v.column5, v.column6 ' +
        `FROM (VALUES ${live.join(', ')}) AS v JOIN contact c ON c.id = v.column1`);
    }
  }
  fenceStatements(net, sql);
  oldLifeStatements(net, sql);
  const origins = Object.keys(net.applied).map((o) => `(${sqlText(o)}, ${sqlText(JSON.stringify(applied[o]))})`);
  for (const rows of chunks(origins)) {
    sql.push(`INSERT INTO applied(origin, ranges) VALUES ${rows.join(', ')} ON CONFLICT(origin) DO UPDATE SET ranges = excluded.ranges`);
  }
  if (net.clock) sql.push(metaUpsert('clock', encodeClock(net.clock)));
  if (net.indexFloor) sql.push(metaUpsert('index_floor', JSON.stringify(net.indexFloor)));
  sql.push('COMMIT');
  return sql.join(';\n');
}

function fenceStatements(net: NetChanges, sql: string[]): void {
  const dropped: ContactId[] = [];
  const kept: string[] = [];
  for (const [id, f] of net.fences) {
    if (f) {
      const e = encodeFence(f);
      kept.push(`(${sqlText(id)}, ${sqlText(e.version)}, ${sqlText(JSON.stringify(e.frontier))})`);
    } else if (!net.forgets.has(id)) {
      dropped.push(id); // a forgotten contact's fence already went with it
    }
  }
  for (const ids of chunks(dropped)) sql.push(`DELETE FROM fence WHERE id IN ${idList(ids)}`);
  for (const rows of chunks(kept)) {
    sql.push(`INSERT INTO fence(id, version, frontier) VALUES ${rows.join(', ')} ON CONFLICT(id) DO UPDATE SET version = excluded.version, frontier = excluded.frontier`);
  }
}

function oldLifeStatements(net: NetChanges, sql: string[]): void {
  if (net.oldLives.size === 0) return;
  // Only the newest FORGOTTEN_KEPT can stay; past that many, every row already there is older and the trim drops it.
  const lives = [...net.oldLives].slice(-FORGOTTEN_KEPT);
  for (const ids of chunks(lives.map(([id]) => id))) sql.push(`DELETE FROM old_life WHERE id IN ${idList(ids)}`);
  for (const rows of chunks(lives.map(([id, bound]) => `(${sqlText(id)}, ${sqlText(JSON.stringify(bound))})`))) {
    sql.push(`INSERT INTO old_life(id, bound) VALUES ${rows.join(', ')}`);
  }
  // The newest FORGOTTEN_KEPT stay, as in MemoryStore (fewer rows: the subquery is NULL and nothing goes).
  sql.push(`DELETE FROM old_life WHERE n < (SELECT n FROM old_life ORDER BY n DESC LIMIT 1 OFFSET ${FORGOTTEN_KEPT - 1})`);
}

function metaUpsert(key: string, value: string): string {
  return `INSERT INTO meta(key, value) VALUES (${sqlText(key)}, ${sqlText(value)}) ON CONFLICT(key) DO UPDATE SET value = excluded.value`;
}
