/**
 * What `contacts <command> --help` says: for each command what it does,
 * its options, what it prints, and examples. cli.ts holds the command
 * table (usage line, one-line summary, accepted options); this file the
 * longer text, kept apart so the command logic stays short.
 */

/** The help of one command beyond its usage line and summary. */
export interface CommandHelp {
  /** Paragraph lines: what it does and prints, and what to know. */
  details: string[];
  /** [option as typed, what it means]. */
  options: [string, string][];
  examples: string[];
}

const ID_HINT = 'ID is a contact id as `contacts list` or `contacts search` print it.';

export const COMMAND_HELP: Record<string, CommandHelp> = {
  add: {
    details: [
      'Creates a contact at the server and prints its new id (with --json, the stored contact).',
      'Invalid values are refused with the field named (e.g. emails[0].value: not an email address); nothing is stored then.',
      'A retried add (the server did not answer in time) is applied once, at whichever server gets it.',
    ],
    options: [
      ['--name N', 'the display name (required; at most 256 characters)'],
      ['--phone P', 'a phone number; repeat for more (digits with spaces, +, -, ., parentheses)'],
      ['--email E', 'an email address; repeat for more'],
      ['--org O', 'the organisation'],
      ['--title T', 'the job title'],
      ['--note T', 'a free-text note (at most 4000 characters)'],
    ],
    examples: ['contacts add --name "Ada Lovelace" --phone "+44 20 7946 0000" --email ada@example.org'],
  },
  get: {
    details: ['Shows one contact: its fields, and its conflicts if concurrent edits left some. ' + ID_HINT],
    options: [],
    examples: ['contacts get 01J9ZK3Q8W5Y2X7V4T6R1N0M3P', 'contacts get 01J9ZK3Q8W5Y2X7V4T6R1N0M3P --json'],
  },
  list: {
    details: ['Every live contact, one a line (id, name, first phone, first email), in id order (creation order).', 'With --json, one JSON array of contact objects, each with `id` and `name`; the CLI pages through the server for you.'],
    options: [],
    examples: ['contacts list', 'contacts list --json | jq length'],
  },
  search: {
    details: ['Contacts whose name, emails, phones, organisation or note hold every word given, in any case and with or without accents (zoe finds Zoë); a phone is found by its digits.', 'Exits 1 when nothing matches.'],
    options: [],
    examples: ['contacts search ada', 'contacts search "+44 20 7946"'],
  },
  edit: {
    details: [
      'Changes the fields given and leaves the others. It reads the contact first and sends what it read with the change,',
      'so an edit made meanwhile at another server is kept as a conflict to resolve, not overwritten. ' + ID_HINT,
    ],
    options: [
      ['--name N', 'the new display name'],
      ['--org O', 'the organisation ("" clears it)'],
      ['--title T', 'the job title ("" clears it)'],
      ['--note T', 'the note ("" clears it)'],
      ['--add-phone P', 'add a phone number; repeatable'],
      ['--rm-phone P', 'remove the phone number written exactly as P; repeatable'],
      ['--add-email E', 'add an email address; repeatable'],
      ['--rm-email E', 'remove the email address E; repeatable'],
    ],
    examples: ['contacts edit 01J9ZK3Q8W5Y2X7V4T6R1N0M3P --title CTO --add-email ada@work.example'],
  },
  rm: {
    details: ['Deletes a contact. An edit made at the same time at another server wins over the delete: the contact comes back with that edit, marked revived. ' + ID_HINT],
    options: [],
    examples: ['contacts rm 01J9ZK3Q8W5Y2X7V4T6R1N0M3P'],
  },
  conflicts: {
    details: ['Contacts that hold concurrent values of a field (edited at two servers at once), each value numbered, the one shown now first.', 'Settle one with `contacts resolve`.'],
    options: [],
    examples: ['contacts conflicts'],
  },
  resolve: {
    details: ['Keeps one of the concurrent values of a field, as `contacts conflicts` numbers them; the others are dropped everywhere.'],
    options: [
      ['--field F', 'the field in conflict (formattedName, title, phones, ... as `contacts conflicts` names it)'],
      ['--uid U', 'for a list field (phones, emails, ...): which entry, as `contacts conflicts` shows after --uid'],
      ['--pick N', 'the number of the value to keep'],
    ],
    examples: ['contacts resolve 01J9ZK3Q8W5Y2X7V4T6R1N0M3P --field title --pick 2'],
  },
  import: {
    details: [
      'Creates the contacts of FILE (- reads stdin): a JSON array of contacts, or JSON lines (one contact a line), each in the',
      'shape `contacts get --json` prints; `contacts list --json > all.json` makes such a file. Contacts go up to 100 to a request',
      '(about 20 KB), 4 requests at once; without a credential at most ~300 contacts a second (a server limits strangers).',
      'Progress goes to stderr every second. A contact with an id keeps it, and importing the same file',
      'again is answered "already there" (nothing is applied twice, retries included), while a record changed since is refused',
      '"exists" (edit the contact instead); one without an id gets an id made from the file and its line (the same file again',
      'changes nothing). "already there" also counts what a retried request of this run applied before its answer was lost. If',
      'no server answers, what landed is reported and the rest "not confirmed": run the same import again. Entries may',
      'be bare strings ("phones": ["+1 555 0100"], "groups": ["friends"]) and leave out types, pref and empty address parts.',
      'A contact the server refuses is reported with its line and the field at fault; the others are imported. Exits 1 if any was',
      'refused. With --json: {records, imported, duplicate, refused, unconfirmed, errors: [{line, id, code, message, issues}]}.',
    ],
    options: [],
    examples: ['contacts list --json --server old:7700 > all.json && contacts import all.json', 'jq -c \'.[]\' all.json | contacts import - --json'],
  },
  history: {
    details: [
      'The writes that made a contact, oldest first: when (UTC, the server\'s clock), which node took it, its kind',
      '(create, update, resolve, delete), the fields it touched, and its op id. The last 50 writes are kept, and any server',
      'holding the contact tells the same history; a deleted contact keeps it until the deletion has reached every member. ' + ID_HINT,
    ],
    options: [],
    examples: ['contacts history 01J9ZK3Q8W5Y2X7V4T6R1N0M3P', 'contacts history 01J9ZK3Q8W5Y2X7V4T6R1N0M3P --json'],
  },
  members: {
    details: [
      'The cluster members the server knows: name, address, state (alive, suspect, dead, left), incarnation (a member raises it',
      'to refute a suspicion, and on every restart), and how long ago the server last heard from it ("never": only heard of, through others).',
    ],
    options: [],
    examples: ['contacts members', 'contacts members --json'],
  },
  stats: {
    details: [
      "A server's counters: contacts held; datagrams in and out; client requests and errors; subscriptions and their pushes;",
      'and bad input dropped, by reason (malformed, forbidden-cbor, foreign-cluster, bad-version, bad-schema, unknown-message,',
      'stray-client-message, bad-state, fragments-incomplete, client-bad-request, ...): counted, never acted on. Then every counter.',
    ],
    options: [],
    examples: ['contacts stats', 'contacts stats --json | jq .badInput'],
  },
  keys: {
    details: [
      'The cluster keys every member seals its datagrams with (AES-256-GCM). Rotation, as Serf does it, with an admin credential:',
      '`keys install NEWKEY` at any member; `keys list` until every member holds it; `keys use NEWID`; `keys list` until every',
      'member seals with it; `keys remove OLDID`. `use` and `remove` refuse, naming who is not there yet, until that holds: no',
      'live member is ever cut off, and a member that is dead or left through a rotation is locked out by it (its log says why).',
      '`keys generate` prints a new key without asking any server (as `contactd keygen` does).',
    ],
    options: [['--key-file F', 'with install: read the key from file F instead of the command line']],
    examples: ['contacts keys generate > new.key', 'contacts keys install --key-file new.key', 'contacts keys list', 'contacts keys use 9f3a1c22', 'contacts keys remove 1a2b3c4d'],
  },
  credentials: {
    details: [
      'Client credentials: each client has its own (an id and a secret, never the cluster key) with a role: read, write or admin.',
      '`create` makes one here and prints it once (ID.SECRET: keep it in a file only you can read, use it with --credential-file);',
      'the server only ever gets a key derived from the secret. `revoke ID` stops it at every member as soon as the news arrives.',
      '`bootstrap` makes the first admin credential, once, from a member\'s own host, while the cluster has none. Needs admin.',
    ],
    options: [['--role R', 'with create: read, write or admin'], ['--name N', 'a label to tell credentials apart (printable ASCII)']],
    examples: ['contacts credentials bootstrap --name ops > admin.cred', 'contacts --credential-file admin.cred credentials create --role read --name alice > alice.cred', 'contacts --credential-file admin.cred credentials list', 'contacts --credential-file admin.cred credentials revoke 89ec95c752f63308'],
  },
};

/** The full help of one command: usage, summary, details, its options, the common options, examples. */
export function commandHelpText(command: string, usage: string, summary: string, commonOptions: readonly string[]): string {
  const h = COMMAND_HELP[command];
  const optionRows = (h?.options ?? []).map(([flag, text]) => `  ${flag.padEnd(16)} ${text}`);
  return [
    `usage: contacts ${command}${usage ? ` ${usage}` : ''} [--server HOST:PORT]… [--json]`, '',
    `${summary.charAt(0).toUpperCase()}${summary.slice(1)}.`,
    ...(h ? ['', ...h.details] : []),
    ...(optionRows.length > 0 ? ['', 'options:', ...optionRows] : []),
    '', 'options of every command:', ...commonOptions,
    ...(h && h.examples.length > 0 ? ['', 'examples:', ...h.examples.map((e) => `  ${e}`)] : []),
    '',
  ].join('\n');
}

/** Commands that name a contact by id. */
const BY_ID = new Set(['get', 'edit', 'rm', 'resolve', 'history']);

/** What to do about a server's error answer to `command`, when there is something to say beyond its message. */
export function errorHint(command: string, code: string): string | undefined {
  if (code === 'not-found' && BY_ID.has(command)) return 'contact ids are what `contacts list` and `contacts search WORDS` print';
  if (code === 'deleted') return 'a deleted contact cannot be changed; `contacts add` makes a new one';
  if (code === 'unknown-op') return `this server runs an older contactd without "${command}": upgrade it, or ask another --server`;
  if (code === 'exists') return 'that id is taken: run the command again for a fresh one';
  return undefined;
}
