/**
 * contactd's command-line surface: the one table of options, from which the
 * flag parser, the environment and config-file readers and `--help` are all
 * derived, so a new option cannot be documented in one place and missing in
 * another.
 *
 * How this works: every option has a long flag (`--bind`), an environment
 * variable (`CONTACTD_BIND`) and a config-file key (the flag's name,
 * `"bind"`). config.ts reads the three sources into raw strings keyed by the
 * option's name and validates them once, whatever their source.
 */

/** The options a user can set, by their flag name. */
export type OptionName =
  | 'name' | 'bind' | 'advertise' | 'data' | 'join' | 'cluster'
  | 'datagram-budget' | 'log-level' | 'log-format' | 'metrics' | 'key-file' | 'key-file-optional' | 'gossip-encryption' | 'allow-unencrypted';

export interface OptionSpec {
  readonly name: OptionName;
  /** Placeholder for the value in help text. */
  readonly value: string;
  /** May be given more than once (flags), as a list (env: comma-separated; file: array). */
  readonly multiple?: boolean;
  /** A switch: a bare flag, `true`/`false` in the environment (also 1/0, yes/no) and the config file. */
  readonly boolean?: boolean;
  /** What the default is, in words (some defaults depend on other options). */
  readonly defaultText: string;
  readonly help: string;
  /** Whether SIGHUP applies a new value without a restart. */
  readonly reloadable?: boolean;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export const GOSSIP_MODES = ['accept', 'send', 'require'] as const;
const GOSSIP_MODES_HELP = 'require (take only sealed datagrams), or, to move a running cluster to encryption without downtime, accept (take sealed and plain, send plain) then send (take both, send sealed) on every node in turn before require.';

/** Smallest datagram budget: IPv6's minimum MTU (1280) less its headers, rounded down, so one member entry with the longest name always fits. */
export const MIN_DATAGRAM_BUDGET_BYTES = 1200;
/** Largest UDP payload over IPv4. */
export const MAX_DATAGRAM_BUDGET_BYTES = 65_507;

export const OPTIONS: readonly OptionSpec[] = [
  { name: 'name', value: 'NAME', defaultText: 'host name and bind port, e.g. "myhost-7700"', reloadable: true,
    help: 'Human-readable node name shown to other members and clients (not its identity: that is the id kept in the data dir).' },
  { name: 'bind', value: 'HOST:PORT', defaultText: '127.0.0.1:7700',
    help: 'UDP address to listen on. 0.0.0.0:PORT listens on every interface (then --advertise is required). Without a cluster key only loopback addresses are allowed (see --allow-unencrypted).' },
  { name: 'advertise', value: 'HOST:PORT', defaultText: 'the --bind address', reloadable: true,
    help: 'Address other members reach this node at (an IP address; never 0.0.0.0).' },
  { name: 'data', value: 'DIR', defaultText: '$STATE_DIRECTORY under systemd, else ./data/NAME',
    help: 'Data directory: node id, last known members, lock file. One daemon per directory.' },
  { name: 'join', value: 'HOST:PORT', multiple: true, defaultText: 'none (start a new cluster, or rejoin the members last known)',
    help: 'Seed to join through; repeatable. A DNS name joins every address it resolves to. Only needed the first time.' },
  { name: 'cluster', value: 'NAME', defaultText: 'contacts',
    help: 'Cluster name carried in every datagram; datagrams of another cluster are dropped.' },
  { name: 'datagram-budget', value: 'BYTES', defaultText: '1400',
    help: `Largest datagram this node sends (${MIN_DATAGRAM_BUDGET_BYTES}..${MAX_DATAGRAM_BUDGET_BYTES}); keep it under the path MTU.` },
  { name: 'log-level', value: 'LEVEL', defaultText: 'info', reloadable: true,
    help: `One of ${LOG_LEVELS.join(', ')}.` },
  { name: 'log-format', value: 'FORMAT', defaultText: 'text on a terminal, json otherwise',
    help: 'text or json. Logs go to stderr; under systemd each line starts with its journald priority.' },
  { name: 'metrics', value: 'HOST:PORT', defaultText: 'off',
    help: 'Serve Prometheus metrics over HTTP at http://HOST:PORT/metrics.' },
  { name: 'key-file', value: 'FILE', defaultText: 'none: no encryption, loopback only',
    help: 'File holding the cluster key (base64 of 32 bytes; make one with `contactd keygen`). Every datagram between members is then sealed with AES-256-GCM. The key is added to the keyring kept in the data dir, which `contacts keys` rotates; a key a rotation removed is ignored.' },
  { name: 'key-file-optional', value: '', boolean: true, defaultText: 'off: a missing or empty --key-file is an error',
    help: 'A missing or empty --key-file means no key (then loopback only, as without --key-file) instead of an error: for the systemd unit, which hands the node an empty credential when /etc/contactd/cluster.key does not exist. A key file that holds anything else must hold a key.' },
  { name: 'gossip-encryption', value: 'MODE', defaultText: 'require', reloadable: true,
    help: `With --key-file: ${GOSSIP_MODES_HELP}` },
  { name: 'allow-unencrypted', value: '', boolean: true, defaultText: 'off: without a key, --bind must be a loopback address',
    help: 'Listen on a non-loopback --bind without a cluster key. Then anyone who can reach the port can read, forge and replay cluster traffic and client requests: only on a network you trust entirely.' },
];

/** `datagram-budget` → `CONTACTD_DATAGRAM_BUDGET`. */
export function envName(option: string): string {
  return `CONTACTD_${option.toUpperCase().replace(/-/g, '_')}`;
}

/** The text `contactd --help` prints. */
export function helpText(): string {
  const lines = [
    'Usage: contactd [options]        run a node',
    '       contactd keygen           print a new cluster key',
    '',
    'Runs one node of a "contacts" cluster in the foreground: SWIM membership over UDP,',
    'logs on stderr, stops cleanly (leaving the cluster) on SIGTERM or SIGINT.',
    '',
    'Each option is taken from, in order: its flag, its environment variable, the',
    'config file, its default. A repeatable option comes whole from the first source',
    'that sets it (values are not merged across sources).',
    '',
    'Options:',
  ];
  const row = (flag: string, env: string, def: string, help: string): void => {
    lines.push(`  ${flag}`, `      ${help}`, `      env ${env}; default: ${def}`, '');
  };
  for (const o of OPTIONS) {
    const envText = o.multiple ? `${envName(o.name)} (comma-separated)` : o.boolean ? `${envName(o.name)}=true` : envName(o.name);
    row(`--${o.name}${o.value ? ` ${o.value}` : ''}${o.multiple ? ' (repeatable)' : ''}`, envText, o.defaultText, o.help);
  }
  row('--config FILE', envName('config'), 'none',
    'JSON config file: an object whose keys are the option names above, e.g. {"bind": "10.0.0.5:7700", "join": ["10.0.0.6:7700"]}.');
  lines.push(
    '  --help, -h',
    '      Print this help and exit.',
    '',
    'Security: without a cluster key a node listens on loopback only (127.0.0.1 by default)',
    'and says so in its log: its gossip and client requests are neither encrypted nor',
    'authenticated. --allow-unencrypted lifts the restriction, for a network you trust.',
    'With a key (contactd keygen > cluster.key; --key-file cluster.key on every node)',
    'members seal every datagram; `contacts keys` rotates keys without downtime.',
    '',
    'Commands: `contactd keygen` prints a new random cluster key and exits.',
    '',
    'Signals: SIGTERM/SIGINT leave the cluster gracefully and exit 0 (a second one exits at',
    `once); SIGHUP re-reads the config and applies ${OPTIONS.filter((o) => o.reloadable).map((o) => `--${o.name}`).join(', ')};`,
    'other changes need a restart (the log says which).',
    '',
    'Exit codes: 0 stopped cleanly, 1 runtime failure, 2 bad configuration,',
    '130/143 stopped at once by a second SIGINT/SIGTERM.',
  );
  return lines.join('\n') + '\n';
}
