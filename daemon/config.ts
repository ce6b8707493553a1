/**
 * contactd's configuration: flags > environment (`CONTACTD_*`) > config file
 * (JSON, `--config FILE`) > defaults.
 *
 * How this works: the three sources are read into one raw string (or list)
 * per option, each remembering where it came from; then every option is
 * validated once, so an error names the option, the source it came from, what
 * was wrong and what to write instead, whichever source held it. Reading is
 * side-effect free apart from the config file read (injected for tests);
 * `loadConfig` is called again on SIGHUP.
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { LIMITS } from '../protocol/wire/messages.ts';
import { formatAddress, parseAddress, type Address } from '../protocol/types.ts';
import {
  GOSSIP_MODES, LOG_FORMATS, LOG_LEVELS, MAX_DATAGRAM_BUDGET_BYTES, MIN_DATAGRAM_BUDGET_BYTES, OPTIONS,
  envName, helpText, type LogFormat, type LogLevel, type OptionName,
} from './options.ts';
import { OperatorError } from './errors.ts';

export interface HostPort { host: string; port: number }

export type GossipMode = (typeof GOSSIP_MODES)[number];

/** Everything the daemon needs to start, validated. */
export interface DaemonConfig {
  name: string;
  bind: HostPort;
  /** Where others reach us: an IP literal and port. */
  advertise: Address;
  /** Absolute path. */
  dataDir: string;
  /** Seeds as given (DNS names not yet resolved: seeds.ts does that at start). */
  join: Address[];
  cluster: string;
  datagramBudgetBytes: number;
  logLevel: LogLevel;
  logFormat: LogFormat;
  metrics: HostPort | undefined;
  /** The cluster key file (absolute), or undefined: no encryption. */
  keyFile: string | undefined;
  /** Why a --key-file given with --key-file-optional is not used (missing or empty), for the start's warning. */
  keyFileSkipped: string | undefined;
  gossipEncryption: GossipMode;
  /** Listen beyond loopback without a cluster key (--allow-unencrypted). */
  allowUnencrypted: boolean;
  configFile: string | undefined;
}

/** What `loadConfig` reads; every field defaults to the real process's. */
export interface ConfigInputs {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  readFile?: (path: string) => string;
  hostname?: () => string;
  cwd?: string;
  /** Whether stderr is a terminal (picks the default log format). */
  stderrIsTTY?: boolean;
}

export type LoadResult =
  | { kind: 'help'; text: string }
  | { kind: 'config'; config: DaemonConfig; warnings: string[] };

/** A configuration the daemon cannot run with; the message says what to do. Exit code 2. */
export class ConfigError extends OperatorError {
  override name = 'ConfigError';
  readonly exitCode = 2;
}

interface Raw { value: string | string[]; source: string }
type RawOptions = Partial<Record<OptionName, Raw>>;

const OPTION_NAMES = new Set<string>(OPTIONS.map((o) => o.name));

/** Reads and validates the configuration; throws ConfigError. */
export function loadConfig(inputs: ConfigInputs): LoadResult {
  const flags = readFlags(inputs.argv);
  if (flags.help) return { kind: 'help', text: helpText() };
  const warnings: string[] = [];
  const fromEnv = readEnv(inputs.env, warnings);
  const configFile = flags.config ?? inputs.env[envName('config')] ?? undefined;
  const fromFile = configFile ? readConfigFile(configFile, inputs.readFile ?? ((p) => readFileSync(p, 'utf8'))) : {};
  const raw: RawOptions = { ...fromFile, ...fromEnv, ...flags.options };
  const config = validate(raw, inputs, configFile);
  return { kind: 'config', config, warnings };
}

// ---------------------------------------------------------------- sources

function readFlags(argv: readonly string[]): { help: boolean; config: string | undefined; options: RawOptions } {
  const spec: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
    config: { type: 'string' },
  };
  for (const o of OPTIONS) spec[o.name] = o.multiple ? { type: 'string', multiple: true } : o.boolean ? { type: 'boolean' } : { type: 'string' };
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options: spec, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}. Run contactd --help for the options.`);
  }
  const options: RawOptions = {};
  for (const o of OPTIONS) {
    const v = values[o.name];
    if (v !== undefined) options[o.name] = { value: typeof v === 'boolean' ? String(v) : (v as string | string[]), source: `--${o.name}` };
  }
  return { help: values.help === true, config: values.config as string | undefined, options };
}

function readEnv(env: ConfigInputs['env'], warnings: string[]): RawOptions {
  const out: RawOptions = {};
  const known = new Set([envName('config')]);
  for (const o of OPTIONS) {
    const name = envName(o.name);
    known.add(name);
    const v = env[name];
    if (v === undefined || v === '') continue;
    out[o.name] = { value: o.multiple ? v.split(/[\s,]+/).filter(Boolean) : v, source: name };
  }
  for (const name of Object.keys(env)) {
    if (name.startsWith('CONTACTD_') && !known.has(name)) warnings.push(`ignoring unknown environment variable ${name} (see contactd --help)`);
  }
  return out;
}

function readConfigFile(path: string, readFile: (path: string) => string): RawOptions {
  let text: string;
  try {
    text = readFile(path);
  } catch (err) {
    throw new ConfigError(`--config: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}). Check the path, or drop --config / CONTACTD_CONFIG.`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${path}: not valid JSON (${(err as Error).message}). Fix the file; it must be one JSON object.`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ConfigError(`config file ${path}: must be a JSON object such as {"bind": "127.0.0.1:7700"}.`);
  }
  const out: RawOptions = {};
  for (const [key, v] of Object.entries(json)) {
    const source = `config file ${path}, key "${key}"`;
    if (!OPTION_NAMES.has(key)) throw new ConfigError(`${source}: unknown option. Known keys: ${[...OPTION_NAMES].join(', ')}.`);
    const spec = OPTIONS.find((o) => o.name === key)!;
    out[spec.name] = { value: fileValue(v, spec.multiple === true, source), source };
  }
  return out;
}

function fileValue(v: unknown, multiple: boolean, source: string): string | string[] {
  if (typeof v === 'boolean' && !multiple) return String(v);
  if (typeof v === 'string') return multiple ? [v] : v;
  if (typeof v === 'number' && !multiple) return String(v);
  if (multiple && Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw new ConfigError(`${source}: expected ${multiple ? 'a string or an array of strings' : 'a string or a number'}, got ${JSON.stringify(v)}.`);
}

// ---------------------------------------------------------------- validation

function validate(raw: RawOptions, inputs: ConfigInputs, configFile: string | undefined): DaemonConfig {
  const one = (k: OptionName): Raw | undefined => raw[k];
  const bind = one('bind') ? hostPort(one('bind')!, { ip: true }) : { host: '127.0.0.1', port: 7700 };
  const name = one('name') ? text(one('name')!, LIMITS.maxNodeNameLength) : defaultName(inputs.hostname ?? osHostname, bind.port);
  const journald = Boolean(inputs.env.JOURNAL_STREAM);
  const allowUnencrypted = one('allow-unencrypted') ? yesNo(one('allow-unencrypted')!) : false;
  const given = one('key-file') ? path(one('key-file')!, inputs) : undefined;
  const keyFileSkipped = given && one('key-file-optional') && yesNo(one('key-file-optional')!) ? absentKeyFile(given, inputs) : undefined;
  const keyFile = keyFileSkipped ? undefined : given;
  if (one('gossip-encryption') && !keyFile) throw new ConfigError(`${one('gossip-encryption')!.source}: needs a cluster key; give --key-file FILE (make one with contactd keygen), or drop the option.`);
  if (!keyFile && !isLoopback(bind.host) && !allowUnencrypted) {
    const where = formatAddress(bind.host, bind.port);
    throw new ConfigError(`${one('bind')?.source ?? '--bind'} ${where}: without a cluster key${keyFileSkipped ? ` (${keyFileSkipped})` : ''}, contactd listens on loopback only, because anyone who can reach ${where} could read, forge and replay cluster traffic. Give every node a cluster key (contactd keygen > cluster.key; --key-file cluster.key), or bind a loopback address (the default 127.0.0.1:7700), or pass --allow-unencrypted on a network you trust entirely.`);
  }
  return {
    name,
    bind,
    advertise: advertiseAddress(one('advertise'), bind),
    dataDir: dataDir(one('data'), name, inputs),
    join: ((one('join')?.value ?? []) as string[]).map((v) => joinAddress({ value: v, source: one('join')!.source })),
    cluster: one('cluster') ? text(one('cluster')!, LIMITS.maxClusterNameLength) : 'contacts',
    datagramBudgetBytes: one('datagram-budget') ? budget(one('datagram-budget')!) : 1400,
    logLevel: one('log-level') ? choice(one('log-level')!, LOG_LEVELS) : 'info',
    logFormat: one('log-format') ? choice(one('log-format')!, LOG_FORMATS) : (inputs.stderrIsTTY && !journald ? 'text' : 'json'),
    metrics: one('metrics') ? hostPort(one('metrics')!, { ip: false }) : undefined,
    keyFile,
    keyFileSkipped,
    gossipEncryption: one('gossip-encryption') ? choice(one('gossip-encryption')!, GOSSIP_MODES) : 'require',
    allowUnencrypted,
    configFile,
  };
}

function str(r: Raw): string {
  return Array.isArray(r.value) ? r.value.join(',') : r.value;
}

function hostPort(r: Raw, opts: { ip: boolean }): HostPort {
  const v = str(r);
  const hp = parseAddress(v);
  if (!hp) throw new ConfigError(`${r.source}: ${JSON.stringify(v)} is not HOST:PORT with a port in 1..65535. Write it as 127.0.0.1:7700 (or [::1]:7700 for IPv6).`);
  if (opts.ip && isIP(hp.host) === 0) throw new ConfigError(`${r.source}: ${JSON.stringify(hp.host)} is not an IP address. Use an address of this host, e.g. 127.0.0.1:${hp.port}, or 0.0.0.0:${hp.port} for every interface.`);
  return hp;
}

/** True for an address only this host can send to: 127.0.0.0/8, ::1 and IPv4-mapped 127.x. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
}

function yesNo(r: Raw): boolean {
  const v = str(r).toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off', ''].includes(v)) return false;
  throw new ConfigError(`${r.source}: ${JSON.stringify(str(r))} is not true or false.`);
}

const UNSPECIFIED = new Set(['0.0.0.0', '::', '0:0:0:0:0:0:0:0']);

function advertiseAddress(r: Raw | undefined, bind: HostPort): Address {
  if (!r) {
    if (UNSPECIFIED.has(bind.host)) {
      throw new ConfigError(`--advertise is required with --bind ${formatAddress(bind.host, bind.port)}: it listens on every interface, so other members need the one address they can reach this node at. Add --advertise <this host's IP>:${bind.port}.`);
    }
    return formatAddress(bind.host, bind.port);
  }
  const hp = hostPort(r, { ip: true });
  if (UNSPECIFIED.has(hp.host)) throw new ConfigError(`${r.source}: ${hp.host} means "any address" and cannot be reached by other members. Give this host's own IP, e.g. 192.0.2.10:${hp.port}.`);
  const family = isIP(hp.host);
  if (bind.host !== '::' && family !== isIP(bind.host)) {
    throw new ConfigError(`${r.source}: ${hp.host} is IPv${family} but --bind ${bind.host} is IPv${isIP(bind.host)}; datagrams sent to it would never reach this socket. Use addresses of the same family.`);
  }
  const addr = formatAddress(hp.host, hp.port);
  if (addr.length > LIMITS.maxAddressLength) throw new ConfigError(`${r.source}: longer than ${LIMITS.maxAddressLength} characters.`);
  return addr;
}

function joinAddress(r: Raw): Address {
  const v = str(r);
  const hp = parseAddress(v);
  if (!hp || !(isIP(hp.host) || /^[A-Za-z0-9.-]+$/.test(hp.host))) {
    throw new ConfigError(`${r.source}: ${JSON.stringify(v)} is not HOST:PORT (an IP address or DNS name, and a port in 1..65535), e.g. --join 10.0.0.5:7700 or --join seeds.example.net:7700.`);
  }
  if (UNSPECIFIED.has(hp.host)) throw new ConfigError(`${r.source}: ${hp.host} is not an address one can send to. Name a member's IP or DNS name.`);
  return formatAddress(hp.host, hp.port);
}

function text(r: Raw, maxLength: number): string {
  const v = str(r);
  const length = [...v].length;
  // The same rule the wire applies to names: they end up in logs and on terminals.
  if (length === 0 || length > maxLength || /[\p{Cc}\p{Cs}]/u.test(v)) {
    throw new ConfigError(`${r.source}: ${JSON.stringify(v)} must be 1..${maxLength} characters without control characters. Choose a shorter, printable name.`);
  }
  return v;
}

function budget(r: Raw): number {
  const v = str(r);
  const n = /^\d+$/.test(v) ? Number(v) : NaN;
  if (!(n >= MIN_DATAGRAM_BUDGET_BYTES && n <= MAX_DATAGRAM_BUDGET_BYTES)) {
    throw new ConfigError(`${r.source}: ${JSON.stringify(v)} is not a whole number of bytes in ${MIN_DATAGRAM_BUDGET_BYTES}..${MAX_DATAGRAM_BUDGET_BYTES}. 1400 suits Ethernet; lower it for tunnels with a smaller MTU.`);
  }
  return n;
}

function choice<T extends string>(r: Raw, allowed: readonly T[]): T {
  const v = str(r);
  if (!(allowed as readonly string[]).includes(v)) throw new ConfigError(`${r.source}: ${JSON.stringify(v)} is not one of ${allowed.join(', ')}.`);
  return v as T;
}

function defaultName(hostname: () => string, port: number): string {
  const host = hostname().replace(/[\p{Cc}\p{Cs}]/gu, '') || 'contactd';
  return `${[...host].slice(0, LIMITS.maxNodeNameLength - 6).join('')}-${port}`;
}

function path(r: Raw, inputs: ConfigInputs): string {
  const v = str(r);
  if (v === '') throw new ConfigError(`${r.source}: empty. Give a file, e.g. --key-file /etc/contactd/cluster.key.`);
  return resolve(inputs.cwd ?? process.cwd(), v);
}

/** Why key file `file` counts as absent under --key-file-optional (it does not exist, or holds only whitespace), or undefined: it must hold a key. */
function absentKeyFile(file: string, inputs: ConfigInputs): string | undefined {
  let text: string;
  try {
    text = (inputs.readFile ?? ((p) => readFileSync(p, 'utf8')))(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return `key file ${file} does not exist`;
    return undefined; // unreadable for another reason: keys.ts says so when it reads it
  }
  return text.trim() === '' ? `key file ${file} is empty` : undefined;
}

function dataDir(r: Raw | undefined, name: string, inputs: ConfigInputs): string {
  const cwd = inputs.cwd ?? process.cwd();
  if (r) {
    const v = str(r);
    if (v === '') throw new ConfigError(`${r.source}: empty. Give a directory, e.g. --data /var/lib/contactd.`);
    return resolve(cwd, v);
  }
  // systemd's StateDirectory= sets this (a colon-separated list when there are several: ours is the first).
  const state = inputs.env.STATE_DIRECTORY?.split(':')[0];
  if (state) return resolve(cwd, state);
  // The name becomes a path component: keep it to characters every file system takes.
  return resolve(cwd, 'data', name.replace(/[^A-Za-z0-9._-]/g, '_'));
}
