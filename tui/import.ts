/**
 * `contacts import FILE`: contacts from a file (or stdin) into the cluster,
 * many to a request.
 *
 * How this works:
 * - The file is JSON: one array of contacts, or JSON lines (one contact a
 *   line), each in the shape `contacts get --json` and `contacts list
 *   --json` print (`name` the display name, `structuredName` the vCard N;
 *   `formattedName` and `name` as an object are taken too). What a view
 *   adds (seen, conflicts, revived, updated) is dropped; anything else goes
 *   to the server, whose validation names the field and the reason.
 *   Every record keeps the line it starts on, for errors.
 * - A record with an id is created under that id, with op id
 *   `import.ID.HASH` (HASH: of the record as the file has it): importing
 *   the same file again (into the same cluster) is answered `duplicate` and
 *   changes nothing, while a record changed since (a newer export) is a new
 *   create of an id that exists, refused `exists` and reported, never
 *   passed over as already there. A record without an id gets
 *   one made from the hash of the whole file and the record's line (a
 *   UUID, version 8), so running the same import again changes nothing,
 *   while the same record in another file is another contact; list entries
 *   without a uid get fresh uids.
 * - Records go in `putMany` requests (protocol/client/client-service.ts)
 *   of at most PUT_MANY_MAX writes and REQUEST_CHARS_MAX characters,
 *   IN_FLIGHT at a time. A request the server does not answer is retried
 *   by the client, byte for byte: the same op ids, so nothing is applied
 *   twice. Requests are kept to ~16 datagrams, so what is in flight stays
 *   well inside a server's receive buffer. Without a credential the client
 *   is a stranger to the server's inbound guard (200 datagrams a second
 *   from one source, a burst of 400: protocol/security/inbound-guard.ts),
 *   so an anonymous import paces itself below that: ~300 contacts a
 *   second. With a credential it sends as fast as the server answers.
 * - Each refused record is reported with its line and the server's reason;
 *   the others land. A record too large for any request is refused here.
 *   No server reachable, or a request refused whole, stops the import:
 *   requests in flight finish, what landed is reported, and the records of
 *   the failed request and those never sent are counted unconfirmed (the
 *   same import run again answers what landed "duplicate"). A retried
 *   request whose first answer was lost answers "duplicate" for what it
 *   applied then: duplicates are "already there", whichever run put them.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { toAsciiJson } from '../protocol/client/json.ts';
import { PUT_MANY_MAX } from '../protocol/client/client-service.ts';
import { LIMITS } from '../protocol/wire/messages.ts';
import { TokenBucket } from '../protocol/security/rate-limit.ts';
import { LIST_FIELDS, type ListField } from '../protocol/contacts/model.ts';
import type { ContactsClient } from './client.ts';
import { newId } from './writes.ts';

/** Hex characters of a record's hash in its op id (op ids are at most 64 characters: `import.` + id ≤ 44 + `.` + these). */
const OP_HASH_CHARS = 12;

/** Largest file (or stdin) read: 256 MiB holds a few hundred thousand contacts. */
const IMPORT_BYTES_MAX = 256 * 2 ** 20;
/** Characters of one request's args: ~16 datagrams (a server takes up to 60,000). */
const REQUEST_CHARS_MAX = 20_000;
/** Characters of one record's write: what a request can carry alone, less its wrapping. */
const RECORD_CHARS_MAX = LIMITS.maxClientJsonChars - 64;
/**
 * First wait for a request's answer (then 2x, up to the client's cap): a
 * server busy with a stream of imports answers a 16-datagram request later
 * than a get, and each early retry sends all 16 again.
 */
const ATTEMPT_TIMEOUT_MS = 1000;
/** Request bytes one datagram carries, about (tui/client.ts fragments to 1400 bytes less the envelope). */
const DATAGRAM_CHARS = 1300;
/** An anonymous import's pace, datagrams a second and burst: under a server's limit for strangers (200 and 400). */
const ANONYMOUS_DATAGRAMS_PER_S = 150;
const ANONYMOUS_BURST = 300;
/** Requests in flight at once. */
const IN_FLIGHT = 4;
/** Progress lines on stderr at most this often, for imports of more than one request. */
const PROGRESS_EVERY_MS = 1000;

/** One contact of the file: where it starts, and the write it becomes (or why it cannot be one). */
export type ImportRecord =
  | {
    line: number;
    write: { opId: string; patch: { kind: 'create'; contact: Record<string, unknown> } };
    /** Characters of the write's JSON, measured once when it is made (requests are cut by it). */
    chars: number;
    error?: undefined;
  }
  | { line: number; write?: undefined; error: string };

/** One refused record, as the summary lists it. */
export interface ImportError {
  line: number;
  id?: string;
  code: string;
  message: string;
  issues?: { path: string; reason: string }[];
}

export interface ImportSummary {
  records: number;
  imported: number;
  /** Already imported (same op id): nothing changed. Also what a retried request of this run applied the first time, its answer lost. */
  duplicate: number;
  refused: number;
  /** Records whose request failed whole (no server answered, or the request was refused) and those never sent after it: run the import again. */
  unconfirmed: number;
  errors: ImportError[];
}

/** The import stopped: `failure` is why (what the client threw); `summary` says what landed before. */
export class ImportStopped extends Error {
  constructor(readonly summary: ImportSummary, readonly failure: unknown) {
    super(`the import stopped: ${(failure as Error).message ?? String(failure)}`);
  }
}

/** The file's text: FILE, or stdin for `-`; throws TypeError naming the problem. */
export async function readImportText(file: string, stdin: NodeJS.ReadableStream = process.stdin): Promise<string> {
  if (file !== '-') {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new TypeError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    if (text.length > IMPORT_BYTES_MAX) throw new TypeError(`${file} is over ${IMPORT_BYTES_MAX / 2 ** 20} MiB: split it`);
    return text;
  }
  // Decoded as a stream: a character split across two chunks stays one character.
  const utf8 = new StringDecoder('utf8');
  let text = '';
  for await (const chunk of stdin) {
    text += typeof chunk === 'string' ? chunk : utf8.write(chunk as Buffer);
    if (text.length > IMPORT_BYTES_MAX) throw new TypeError(`stdin is over ${IMPORT_BYTES_MAX / 2 ** 20} MiB: split it`);
  }
  return text + utf8.end();
}

/** The records of a JSON array or JSON lines text, each with its first line; throws TypeError when an array is not JSON. */
export function parseImport(text: string): ImportRecord[] {
  const body = text.replace(/^\uFEFF/, '');
  // Records without an id get one derived from the file and their line, so running the same import again changes nothing.
  const file = createHash('sha256').update(body).digest();
  if (body.trimStart().startsWith('[')) {
    let items: unknown;
    try {
      items = JSON.parse(body);
    } catch (err) {
      throw new TypeError(`the file starts with [ but is not a JSON array: ${(err as Error).message}`);
    }
    if (!Array.isArray(items)) throw new TypeError('the file starts with [ but is not a JSON array');
    const lines = elementLines(body);
    return items.map((x, i) => toRecord(x, lines[i] ?? 1, file));
  }
  const out: ImportRecord[] = [];
  body.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    let x: unknown;
    try {
      x = JSON.parse(line);
    } catch (err) {
      return out.push({ line: i + 1, error: `not JSON: ${(err as Error).message}` });
    }
    out.push(toRecord(x, i + 1, file));
  });
  return out;
}

/** The line each element of a top-level JSON array starts on (the text parsed already). */
function elementLines(text: string): number[] {
  const lines: number[] = [];
  let line = 1;
  let depth = 0;
  let inString = false;
  let expectElement = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\n') line++;
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (depth === 1 && expectElement && !/\s/.test(c) && c !== ']') {
      lines.push(line);
      expectElement = false;
    }
    if (c === '"') inString = true;
    else if (c === '[' || c === '{') {
      depth++;
      if (depth === 1) expectElement = true;
    } else if (c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 1) expectElement = true;
  }
  return lines;
}

/** What a reader's view adds to a contact: not part of a write. */
const VIEW_ONLY = ['seen', 'conflicts', 'revived', 'updated'];
/** The parts of an address entry a hand-written file may leave out (they default to empty). */
const ADDRESS_PARTS = ['poBox', 'extended', 'street', 'locality', 'region', 'postalCode', 'country'];

/**
 * A list entry as a write wants it, from what a file may hold: a fresh uid
 * when it has none; a phone, email or URL may be a bare string and may
 * leave out its type labels and preferred flag, an address its labels, flag
 * and empty parts, a group may be its bare name. What is still wrong is
 * left for the server, which names the field.
 */
function toEntry(field: ListField, e: unknown): unknown {
  if (typeof e === 'string') return field === 'groups' ? { uid: newId(), name: e } : field === 'addresses' ? e : { uid: newId(), value: e, types: [], pref: false };
  if (e === null || typeof e !== 'object' || Array.isArray(e)) return e;
  const out: Record<string, unknown> = { uid: newId(), ...e };
  if (field !== 'groups') {
    out.types ??= [];
    out.pref ??= false;
  }
  if (field === 'addresses') for (const part of ADDRESS_PARTS) out[part] ??= '';
  return out;
}

/** A `get --json` contact as the create it came from. */
function toRecord(x: unknown, line: number, file: Uint8Array): ImportRecord {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) return { line, error: 'a contact must be a JSON object' };
  const { name, structuredName, ...rest } = x as Record<string, unknown>;
  const recordHash = createHash('sha256').update(JSON.stringify(x)).digest('hex').slice(0, OP_HASH_CHARS);
  const contact: Record<string, unknown> = { ...rest };
  for (const k of VIEW_ONLY) delete contact[k];
  if (typeof name === 'string') contact.formattedName ??= name;
  else if (name !== undefined) contact.name = name;
  if (structuredName !== undefined) contact.name = structuredName;
  const given = typeof contact.id === 'string' && contact.id !== '';
  if (!given) contact.id = derivedId(file, line);
  for (const f of LIST_FIELDS) {
    const list = contact[f];
    if (Array.isArray(list)) contact[f] = list.map((e: unknown) => toEntry(f, e));
  }
  const write = { opId: `import.${String(contact.id).slice(0, 44)}.${recordHash}`, patch: { kind: 'create' as const, contact } };
  const chars = toAsciiJson(write).length;
  if (chars > RECORD_CHARS_MAX) return { line, error: `the contact is ${chars} characters of JSON; a request holds at most ${RECORD_CHARS_MAX} (a large photo or note?)` };
  return { line, write, chars };
}

/** A UUID (version 8: made here) from the file's hash and a line of it. */
function derivedId(file: Uint8Array, line: number): string {
  const h = createHash('sha256').update(file).update(`#${line}`).digest('hex');
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Records cut into requests: at most PUT_MANY_MAX writes and REQUEST_CHARS_MAX characters each (a larger record goes alone). */
export function batches(records: readonly ImportRecord[]): { records: ImportRecord[]; chars: number }[] {
  const out: { records: ImportRecord[]; chars: number }[] = [];
  let current: ImportRecord[] = [];
  let chars = 0;
  for (const r of records) {
    if (!r.write) continue;
    const size = r.chars + 1;
    if (current.length > 0 && (current.length >= PUT_MANY_MAX || chars + size > REQUEST_CHARS_MAX)) {
      out.push({ records: current, chars });
      current = [];
      chars = 0;
    }
    current.push(r);
    chars += size;
  }
  if (current.length > 0) out.push({ records: current, chars });
  return out;
}

/** Waits until `bucket` (datagrams, shared by the import's requests) lets `n` go, and takes them. */
async function paced(bucket: TokenBucket, n: number): Promise<void> {
  for (let waitMs = bucket.takeOrWait(Date.now(), n); waitMs > 0; waitMs = bucket.takeOrWait(Date.now(), n)) {
    await new Promise((r) => setTimeout(r, waitMs));
  }
}

/** A server's result for one write: 'applied', 'duplicate', or a refusal. */
type Result = string | { code?: string; message?: string; issues?: { path: string; reason: string }[] };

/** Sends every record; `progress` hears (done, total) now and then. Throws what the client throws for a whole request. */
export async function importRecords(client: ContactsClient, records: readonly ImportRecord[], progress: (done: number, total: number) => void): Promise<ImportSummary> {
  const summary: ImportSummary = { records: records.length, imported: 0, duplicate: 0, refused: 0, unconfirmed: 0, errors: [] };
  for (const r of records) if (r.error) refuse(summary, { line: r.line, code: 'invalid', message: r.error });
  const queue = batches(records);
  const pace = client.anonymous ? new TokenBucket(ANONYMOUS_DATAGRAMS_PER_S, ANONYMOUS_BURST) : undefined;
  let done = 0;
  let lastReport = Date.now();
  let failure: { err: unknown } | undefined;
  const worker = async (): Promise<void> => {
    // After a failure no new request goes; those in flight finish.
    for (let next = queue.shift(); next && !failure; next = queue.shift()) {
      const batch = next.records;
      if (pace) await paced(pace, Math.ceil(next.chars / DATAGRAM_CHARS));
      let answer;
      try {
        answer = await client.request('putMany', { writes: batch.map((r) => r.write) }, { attemptTimeoutMs: ATTEMPT_TIMEOUT_MS });
      } catch (err) {
        failure ??= { err };
        summary.unconfirmed += batch.length; // applied or not: a lost answer cannot tell
        continue;
      }
      const results = (answer.result as { results?: Result[] }).results ?? [];
      batch.forEach((r, i) => tally(summary, r, results[i]));
      done += batch.length;
      if (Date.now() - lastReport >= PROGRESS_EVERY_MS) {
        lastReport = Date.now();
        progress(done, records.length);
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  for (const rest of queue) summary.unconfirmed += rest.records.length;
  summary.errors.sort((a, b) => a.line - b.line);
  if (failure) throw new ImportStopped(summary, failure.err);
  return summary;
}

function tally(summary: ImportSummary, r: ImportRecord, result: Result | undefined): void {
  if (result === 'applied') summary.imported++;
  else if (result === 'duplicate') summary.duplicate++;
  else {
    const e = typeof result === 'object' && result !== null ? result : { code: 'bad-answer', message: 'the server gave no result for it' };
    const error: ImportError = { line: r.line, id: String(r.write!.patch.contact.id), code: e.code ?? 'error', message: e.message ?? '' };
    if (e.issues && e.issues.length > 0) error.issues = e.issues;
    refuse(summary, error);
  }
}

function refuse(summary: ImportSummary, e: ImportError): void {
  summary.refused++;
  summary.errors.push(e);
}

/** One line per refused record: `line 12: emails[0].value: not an email address`. */
export function errorLines(errors: readonly ImportError[]): string[] {
  return errors.map((e) => {
    const why = e.issues && e.issues.length > 0 ? e.issues.map((i) => `${i.path || '(contact)'}: ${i.reason}`).join('; ') : e.message;
    return `line ${e.line}: ${why}${e.code !== 'invalid' ? ` (${e.code})` : ''}`;
  });
}
