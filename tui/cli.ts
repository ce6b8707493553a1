/**
 * `contacts`: the command-line client of contactd. With no subcommand it
 * opens the interactive TUI (app/run.ts, loaded only then).
 *
 * How this works: one subcommand per run, parsed with node:util parseArgs;
 * each becomes one or a few client requests (tui/client.ts), printed for a
 * person or, with --json, as JSON on stdout. Edits read the contact first
 * and send what they saw as the write's read context, so a concurrent edit
 * elsewhere becomes a conflict to resolve instead of being overwritten.
 * Ids (contact, list entry, op) are ULIDs made here: a retried request
 * names the same things. Exit codes: 0 ok, 1 not found or refused,
 * 2 usage, 3 no server reachable, 4 credential missing, refused or not
 * allowed to do that. `keys` and `credentials` (admin-commands.ts) are the
 * admin commands: key rotation and client credentials.
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import type { Contact } from '../protocol/contacts/model.ts';
import type { ClientCredential, ContactsClient } from './client.ts';
import { commandHelpText, errorHint } from './cli-help.ts';
import { ago, clean, conflictLines, contactBlock, contactLine, historyLines, statsLines, table, type HistoryAnswer } from './format.ts';
import { newId, resolveOp } from './writes.ts';
import { MemberCache, memberCacheDir } from './member-cache.ts';

export const EXIT = { ok: 0, failed: 1, usage: 2, noServer: 3, auth: 4 } as const;
const EXIT_CODES_TEXT = 'exit codes: 0 ok, 1 not found or refused, 2 usage, 3 no server reachable, 4 credential missing, refused or not allowed';

const DEFAULT_SERVER = '127.0.0.1:7700';
/** Refused records `import` lists on stderr (the summary counts them all; --json lists every one). */
const IMPORT_ERRORS_SHOWN = 20;

/** Every command: its usage after the name, one-line summary, and the options it accepts (besides the common ones). */
export const COMMANDS: Record<string, { args: string; help: string; options: string[] }> = {
  add: { args: '--name N [--phone P]… [--email E]… [--org O] [--title T] [--note T]', help: 'create a contact; prints its id', options: ['name', 'phone', 'email', 'org', 'title', 'note'] },
  get: { args: 'ID', help: 'show one contact', options: [] },
  list: { args: '', help: 'every contact (pages through the server)', options: [] },
  search: { args: 'WORDS…', help: 'contacts whose names, emails, phones, org or note hold every word (any case, any accents)', options: [] },
  edit: { args: 'ID [--name N] [--org O] [--title T] [--note T] [--add-phone P]… [--rm-phone P]… [--add-email E]… [--rm-email E]…', help: 'change a contact (an empty value clears org, title, note)', options: ['name', 'org', 'title', 'note', 'add-phone', 'rm-phone', 'add-email', 'rm-email'] },
  rm: { args: 'ID', help: 'delete a contact', options: [] },
  conflicts: { args: '', help: 'contacts with concurrent edits, each value numbered', options: [] },
  resolve: { args: 'ID --field F [--uid U] --pick N', help: 'keep value N of a conflicting field (numbers as `contacts conflicts` shows them)', options: ['field', 'uid', 'pick'] },
  import: { args: 'FILE | -', help: 'create the contacts of a JSON file (an array, or one contact a line, as `list --json` prints), many to a request', options: [] },
  history: { args: 'ID', help: 'the writes that made a contact, oldest first: when, which node, what kind, which fields, op id (the last 50)', options: [] },
  members: { args: '', help: 'the cluster members a server knows: name, address, state, incarnation, last heard', options: [] },
  stats: { args: '', help: "a server's counters", options: [] },
  keys: { args: 'generate | list | install KEY | install --key-file F | use KEYID | remove KEYID', help: 'cluster keys: make one, list who holds which, rotate (admin)', options: ['key-file'] },
  credentials: { args: 'create --role read|write|admin [--name N] | list | revoke ID | bootstrap [--name N]', help: 'client credentials: make, list, revoke (admin); bootstrap makes the first admin, from a member\'s host', options: ['role', 'name'] },
};

const OPTIONS = {
  server: { type: 'string', multiple: true }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' }, cluster: { type: 'string' }, term: { type: 'string' },
  name: { type: 'string' }, phone: { type: 'string', multiple: true }, email: { type: 'string', multiple: true },
  org: { type: 'string' }, title: { type: 'string' }, note: { type: 'string' },
  'add-phone': { type: 'string', multiple: true }, 'rm-phone': { type: 'string', multiple: true },
  'add-email': { type: 'string', multiple: true }, 'rm-email': { type: 'string', multiple: true },
  field: { type: 'string' }, uid: { type: 'string' }, pick: { type: 'string' },
  'credential-file': { type: 'string' }, 'key-file': { type: 'string' }, role: { type: 'string' },
} as const;

export type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** A mistake on the command line: exit 2 with the message and a pointer to the help. */
export class UsageError extends Error {}

/** Records of an import refused (each reported with its line): exit 1. */
class ImportRefusals extends Error {
  constructor(readonly refused: number) {
    super(`${refused} records refused`);
  }
}

/** The options every command takes, as help lists them. */
const COMMON_OPTIONS = [
  `  --server HOST:PORT  a contactd to ask; repeat for failover (default: $CONTACTS_SERVER, else ${DEFAULT_SERVER});`,
  '                      then the live members earlier commands heard of through the same servers (kept in',
  '                      $CONTACTS_STATE_DIR, else $XDG_STATE_HOME/contacts, else ~/.local/state/contacts)',
  '  --cluster NAME      the cluster name the servers run with (default: $CONTACTS_CLUSTER, else contacts)',
  '  --credential-file F a file holding this client\'s credential (default: $CONTACTS_CREDENTIAL, the credential',
  '                      itself, else $CONTACTS_CREDENTIAL_FILE; none: anonymous, which a keyed cluster refuses)',
  '  --json              print JSON instead of text',
  '  --help              this help, or a command\'s with `contacts <command> --help`',
];

export function helpText(command?: string): string {
  if (command && COMMANDS[command]) {
    const c = COMMANDS[command]!;
    return commandHelpText(command, c.args, c.help, [...COMMON_OPTIONS, '', EXIT_CODES_TEXT]);
  }
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.help}`);
  return [
    'usage: contacts [--server HOST:PORT]… [--term NAME]     the interactive TUI (? inside shows its keys)',
    '       contacts <command> [options]', '', 'commands:', ...rows, '',
    'options for every command:',
    ...COMMON_OPTIONS,
    '  --term NAME         (TUI only) the terminfo entry to draw with (default: $TERM); NO_COLOR=1 turns colour off',
    '', EXIT_CODES_TEXT, '',
  ].join('\n');
}

/** Where output goes (tests capture it). */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  env: Record<string, string | undefined>;
}

/** Runs the CLI on `argv` (without node and script); resolves to the exit code. */
export async function run(argv: string[], io: Io): Promise<number> {
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true }));
  } catch (err) {
    io.err(`contacts: ${(err as Error).message}\n${helpText()}`);
    return EXIT.usage;
  }
  const [command, ...rest] = positionals;
  if (!command) {
    if (values.help) return io.out(helpText()), EXIT.ok;
    // Loaded only here: the commands do not pay for blessed.
    const { runTui } = await import('./app/run.ts');
    let credential: ClientCredential | undefined;
    try {
      credential = await readCredential(values['credential-file'], io.env);
    } catch (err) {
      io.err(`contacts: ${(err as Error).message}\n`);
      return EXIT.usage;
    }
    return runTui({ servers: serversOf(values, io), cluster: clusterOf(values, io), credential, term: values.term, env: io.env, err: io.err });
  }
  const spec = COMMANDS[command];
  if (!spec) {
    io.err(`contacts: unknown command "${clean(command)}"\n${helpText()}`);
    return EXIT.usage;
  }
  if (values.help) return io.out(helpText(command)), EXIT.ok;
  const common = ['server', 'json', 'help', 'cluster', 'credential-file'];
  if (values.term !== undefined) {
    io.err(`contacts ${command}: --term is an option of the TUI (contacts with no command)\n`);
    return EXIT.usage;
  }
  const stray = Object.keys(values).find((k) => !common.includes(k) && !spec.options.includes(k));
  if (stray) {
    io.err(`contacts ${command}: --${stray} is not an option of ${command}\n${helpText(command)}`);
    return EXIT.usage;
  }
  if (command === 'keys' && rest[0] === 'generate') return io.out((await import('../daemon/keys.ts')).generateKeyText()), EXIT.ok;
  // Loaded here, not at the top: the TUI path above draws before the client and its codec load.
  const { AuthRequiredError, ContactsClient, NoServerError, RequestError } = await import('./client.ts');
  const servers = serversOf(values, io);
  const cluster = clusterOf(values, io);
  // Members earlier commands learnt through these servers come after them: a dead server is not the end.
  const cacheDir = memberCacheDir(io.env);
  const cache = cacheDir === undefined ? undefined : new MemberCache(cacheDir);
  const remembered = new Set(cache?.members(cluster, servers) ?? []);
  let client: ContactsClient;
  try {
    client = new ContactsClient({
      servers, cluster, credential: await readCredential(values['credential-file'], io.env),
      onFailover: (from, to) => io.err(`contacts: ${from} did not answer; trying ${to}${remembered.has(to) ? ' (a member an earlier command heard of)' : ''}\n`),
    });
    for (const m of remembered) client.addServer(m);
  } catch (err) {
    io.err(`contacts: ${(err as Error).message}\n`);
    return EXIT.usage;
  }
  try {
    await COMMAND_RUNNERS[command]!({ client, values, rest, io, json: values.json === true });
    if (cache) await rememberMembers(cache, client, cluster, servers);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`contacts ${command}: ${err.message}\n${helpText(command)}`);
      return EXIT.usage;
    }
    if (err instanceof NoServerError) {
      io.err(`contacts: ${err.message}\n`);
      return EXIT.noServer;
    }
    if (err instanceof AuthRequiredError || (err instanceof RequestError && err.code === 'forbidden')) {
      io.err(`contacts ${command}: ${clean(err.message)}\n`);
      return EXIT.auth;
    }
    if (err instanceof ImportRefusals) return EXIT.failed; // each refusal was reported already
    if (err instanceof RequestError) {
      const issues = err.issues.map((i) => `\n  ${i.path || '(request)'}: ${i.reason}`).join('');
      const hint = errorHint(command, err.code);
      io.err(`contacts ${command}: ${clean(err.message)}${err.issues.length > 0 && !err.message.includes(err.issues[0]!.reason) ? issues : ''}${hint ? `\n  (${hint})` : ''}\n`);
      return EXIT.failed;
    }
    throw err;
  } finally {
    client.close();
  }
}

/** After a command that succeeded: when the hint is missing or old, one `members` request refreshes it (failures ignored). */
async function rememberMembers(cache: MemberCache, client: ContactsClient, cluster: string, given: string[]): Promise<void> {
  if (!cache.stale(cluster, given, Date.now())) return;
  try {
    const { result } = await client.request('members');
    const list = (Array.isArray(result) ? result : (result as { members?: unknown })?.members) as { address?: unknown; state?: unknown }[] | undefined;
    const live = (list ?? [])
      .filter((m) => typeof m?.address === 'string' && (m.state === 'alive' || m.state === 'suspect'))
      .map((m) => m.address as string);
    cache.save(cluster, given, live, Date.now());
  } catch {
    // The command is done; only the hint is not refreshed.
  }
}

/** A RequestError for a command's own refusals (the client module is loaded by then). */
async function requestError(code: string, message: string): Promise<Error> {
  return new (await import('./client.ts')).RequestError(code, message);
}

/** --server, else $CONTACTS_SERVER (spaces or commas between), else the default. */
function serversOf(values: Values, io: Io): string[] {
  return values.server ?? (io.env.CONTACTS_SERVER ? io.env.CONTACTS_SERVER.split(/[\s,]+/).filter(Boolean) : [DEFAULT_SERVER]);
}

/** The credential from --credential-file, $CONTACTS_CREDENTIAL or $CONTACTS_CREDENTIAL_FILE; undefined: anonymous. Throws TypeError (a usage error). */
async function readCredential(file: string | undefined, env: Io['env']): Promise<ClientCredential | undefined> {
  const path = file ?? (env.CONTACTS_CREDENTIAL ? undefined : env.CONTACTS_CREDENTIAL_FILE);
  if (path === undefined && !env.CONTACTS_CREDENTIAL) return undefined;
  const { parseCredential } = await import('./client.ts');
  if (path === undefined) return parseCredential(env.CONTACTS_CREDENTIAL!);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new TypeError(`cannot read the credential file ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return parseCredential(text);
}

function clusterOf(values: Values, io: Io): string {
  return values.cluster ?? io.env.CONTACTS_CLUSTER ?? 'contacts';
}

export interface Ctx {
  client: ContactsClient;
  values: Values;
  rest: string[];
  io: Io;
  json: boolean;
}

function oneId(ctx: Ctx): string {
  if (ctx.rest.length !== 1) throw new UsageError('give exactly one contact id');
  return ctx.rest[0]!;
}

function noPositionals(ctx: Ctx): void {
  if (ctx.rest.length > 0) throw new UsageError(`unexpected argument "${clean(ctx.rest[0])}"`);
}

export const print = (ctx: Ctx, lines: string[]): void => ctx.io.out(lines.map((l) => l + '\n').join(''));
export const printJson = (ctx: Ctx, value: unknown): void => ctx.io.out(JSON.stringify(value, null, 2) + '\n');

/**
 * A contact as scripts read it: `id` and `name` (the display name) first;
 * the structured name (family, given, …) moves to `structuredName` so that
 * `name` is always the string a person reads.
 */
function contactJson(c: { id: string; formattedName: string; name?: unknown } | undefined): Record<string, unknown> | undefined {
  if (c === undefined) return undefined;
  const { id, name: structuredName, ...rest } = c;
  return { id, name: c.formattedName, ...rest, ...(structuredName !== undefined ? { structuredName } : {}) };
}

const labeled = (value: string) => ({ uid: newId(), value, types: [] as string[], pref: false });

async function getContact(ctx: Ctx, id: string): Promise<Contact> {
  return (await ctx.client.request('get', { id })).result as Contact;
}

/** Sends a write with a fresh op id; retries inside the client re-send the same one. */
async function write(ctx: Ctx, op: 'put' | 'delete' | 'resolve', args: Record<string, unknown>): Promise<{ outcome: string; contact?: Contact; id?: string }> {
  return (await ctx.client.request(op, { opId: newId(), ...args })).result as { outcome: string; contact?: Contact };
}

const COMMAND_RUNNERS: Record<string, (ctx: Ctx) => Promise<void>> = {
  // The admin commands load only when used.
  keys: async (ctx) => (await import('./admin-commands.ts')).ADMIN_RUNNERS.keys!(ctx),
  credentials: async (ctx) => (await import('./admin-commands.ts')).ADMIN_RUNNERS.credentials!(ctx),
  async add(ctx) {
    noPositionals(ctx);
    const v = ctx.values;
    if (!v.name) throw new UsageError('--name is required');
    const contact: Record<string, unknown> = { id: newId(), formattedName: v.name };
    if (v.phone) contact.phones = v.phone.map(labeled);
    if (v.email) contact.emails = v.email.map(labeled);
    if (v.org) contact.org = { name: v.org, units: [] };
    if (v.title) contact.title = v.title;
    if (v.note) contact.note = v.note;
    const r = await write(ctx, 'put', { patch: { kind: 'create', contact } });
    if (ctx.json) printJson(ctx, contactJson(r.contact));
    else print(ctx, [String(r.contact?.id ?? contact.id)]);
  },

  async get(ctx) {
    const c = await getContact(ctx, oneId(ctx));
    if (ctx.json) printJson(ctx, contactJson(c));
    else print(ctx, contactBlock(c));
  },

  async list(ctx) {
    noPositionals(ctx);
    const all = (await ctx.client.all('list')) as Contact[];
    if (ctx.json) printJson(ctx, all.map(contactJson));
    else print(ctx, all.map(contactLine));
  },

  async search(ctx) {
    if (ctx.rest.length === 0) throw new UsageError('give words to search for');
    const found = (await ctx.client.all('search', { q: ctx.rest.join(' ') })) as Contact[];
    if (ctx.json) printJson(ctx, found.map(contactJson));
    else print(ctx, found.map(contactLine));
    if (found.length === 0) throw await requestError('not-found', 'no contact matches');
  },

  async edit(ctx) {
    const id = oneId(ctx);
    const v = ctx.values;
    const c = await getContact(ctx, id);
    const ops: unknown[] = [];
    if (v.name !== undefined) ops.push({ op: 'set', field: 'formattedName', value: v.name });
    if (v.org !== undefined) ops.push({ op: 'set', field: 'org', value: v.org === '' ? null : { name: v.org, units: [] } });
    for (const f of ['title', 'note'] as const) if (v[f] !== undefined) ops.push({ op: 'set', field: f, value: v[f] === '' ? null : v[f] });
    for (const [flag, field] of [['phone', 'phones'], ['email', 'emails']] as const) {
      for (const value of v[`add-${flag}`] ?? []) ops.push({ op: 'put', field, uid: newId(), value: { value, types: [], pref: false } });
      for (const value of v[`rm-${flag}`] ?? []) {
        const hits = c[field].filter((e) => e.value === value);
        if (hits.length === 0) throw await requestError('not-found', `${id} has no ${flag} "${clean(value)}" (it has: ${c[field].map((e) => clean(e.value)).join(', ') || 'none'})`);
        for (const e of hits) ops.push({ op: 'remove', field, uid: e.uid });
      }
    }
    if (ops.length === 0) throw new UsageError('nothing to change: give at least one of --name, --org, --title, --note, --add-phone, --rm-phone, --add-email, --rm-email');
    const r = await write(ctx, 'put', { patch: { kind: 'update', id, ops }, read: c.seen });
    if (ctx.json) printJson(ctx, contactJson(r.contact));
    else print(ctx, [`updated ${id}`]);
  },

  async rm(ctx) {
    const id = oneId(ctx);
    const r = await write(ctx, 'delete', { id });
    if (ctx.json) printJson(ctx, r);
    else print(ctx, [`deleted ${id}`]);
  },

  async conflicts(ctx) {
    noPositionals(ctx);
    const all = (await ctx.client.all('conflicts')) as Contact[];
    if (ctx.json) printJson(ctx, all.map(contactJson));
    else print(ctx, all.length === 0 ? ['no conflicts'] : all.flatMap(conflictLines));
  },

  async resolve(ctx) {
    const id = oneId(ctx);
    const v = ctx.values;
    const pick = Number(v.pick);
    if (!v.field || !Number.isInteger(pick) || pick < 1) throw new UsageError('--field F and --pick N (a number from `contacts conflicts`) are required');
    const c = await getContact(ctx, id);
    const conflict = c.conflicts.find((f) => f.field === v.field && (v.uid === undefined || f.uid === v.uid));
    if (!conflict) throw await requestError('not-found', `${id} has no conflict on ${clean(v.field)}${v.uid ? ` --uid ${clean(v.uid)}` : ''} (see: contacts conflicts)`);
    const chosen = conflict.values[pick - 1];
    if (!chosen) throw new UsageError(`--pick must be 1..${conflict.values.length}`);
    const r = await write(ctx, 'resolve', { id, op: resolveOp(conflict, chosen.value), read: c.seen });
    if (ctx.json) printJson(ctx, contactJson(r.contact));
    else print(ctx, [`resolved ${conflict.field} of ${id}`]);
  },

  async import(ctx) {
    if (ctx.rest.length !== 1) throw new UsageError('give one file to import, or - for stdin');
    const m = await import('./import.ts');
    let records;
    try {
      records = m.parseImport(await m.readImportText(ctx.rest[0]!));
    } catch (err) {
      if (err instanceof TypeError) throw await requestError('invalid', err.message);
      throw err;
    }
    let summary;
    let stopped: unknown;
    try {
      summary = await m.importRecords(ctx.client, records, (done, total) => ctx.io.err(`contacts import: ${done} of ${total} contacts sent\n`));
    } catch (err) {
      if (!(err instanceof m.ImportStopped)) throw err;
      // What landed before the failure is reported, then the failure itself (its message and exit code).
      summary = err.summary;
      stopped = err.failure;
    }
    if (ctx.json) printJson(ctx, summary);
    else {
      const lines = m.errorLines(summary.errors);
      for (const line of lines.slice(0, IMPORT_ERRORS_SHOWN)) ctx.io.err(`contacts import: ${clean(line)}\n`);
      if (lines.length > IMPORT_ERRORS_SHOWN) ctx.io.err(`contacts import: ... and ${lines.length - IMPORT_ERRORS_SHOWN} more refused (--json lists every one)\n`);
      print(ctx, [`imported ${summary.imported} of ${summary.records} contacts` +
        (summary.duplicate > 0 ? `, ${summary.duplicate} already there` : '') +
        (summary.refused > 0 ? `, ${summary.refused} refused` : '') +
        (summary.unconfirmed > 0 ? `, ${summary.unconfirmed} not confirmed (run the same import again: what landed is answered "already there")` : '')]);
    }
    if (stopped !== undefined) throw stopped;
    if (summary.refused > 0) throw new ImportRefusals(summary.refused);
  },

  async history(ctx) {
    const id = oneId(ctx);
    const h = (await ctx.client.request('history', { id })).result as HistoryAnswer;
    if (ctx.json) return printJson(ctx, h);
    print(ctx, historyLines(h));
  },

  async members(ctx) {
    noPositionals(ctx);
    const ms = (await ctx.client.request('members')).result as { id: string; name: string; address: string; state: string; incarnation: number; lastHeardMsAgo: number | null }[];
    if (ctx.json) return printJson(ctx, ms);
    print(ctx, table(['NAME', 'ADDRESS', 'STATE', 'INCARNATION', 'LAST HEARD'],
      ms.map((m) => [clean(m.name), clean(m.address), m.state, String(m.incarnation), ago(m.lastHeardMsAgo)])));
  },

  async stats(ctx) {
    noPositionals(ctx);
    const s = (await ctx.client.request('stats')).result as Record<string, unknown>;
    if (ctx.json) return printJson(ctx, s);
    print(ctx, statsLines(s));
  },
};
