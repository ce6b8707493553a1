import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError, loadConfig, type ConfigInputs, type DaemonConfig } from '../../daemon/config.ts';
import { OPTIONS, envName } from '../../daemon/options.ts';
import { resolveSeeds, type Lookup } from '../../daemon/seeds.ts';
import { KeyError, generateKeyText, parseKeyText } from '../../daemon/keys.ts';
import { randomBytes } from 'node:crypto';
import type { Address } from '../../protocol/types.ts';

const base: ConfigInputs = { argv: [], env: {}, hostname: () => 'box', cwd: '/srv', stderrIsTTY: false };

function load(over: Partial<ConfigInputs> & { file?: Record<string, unknown> }): DaemonConfig {
  const { file, ...rest } = over;
  const inputs: ConfigInputs = {
    ...base,
    ...rest,
    readFile: (p) => {
      if (p !== '/etc/c.json' || !file) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
      return JSON.stringify(file);
    },
  };
  const r = loadConfig(inputs);
  if (r.kind !== 'config') throw new Error('expected a config');
  return r.config;
}

function configError(over: Partial<ConfigInputs> & { file?: Record<string, unknown> }): string {
  try {
    load(over);
  } catch (err) {
    assert.instance(err, ConfigError);
    assert.is((err as ConfigError).exitCode, 2);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

test('--key-file-optional (the systemd unit): a missing or empty key file means no key, loopback only; anything else must be a key (review 13)', () => {
  // As systemd hands it over: the credential's file, or SetCredential's stand-in (a newline) when /etc/contactd/cluster.key is absent.
  const files: Record<string, string> = { '/run/credentials/contactd.service/cluster.key': '\n', '/srv/junk.key': 'not a key\n' };
  const withKey = (keyFile: string, argv: string[] = []) => loadConfig({
    ...base, argv, env: { CONTACTD_KEY_FILE: keyFile, CONTACTD_KEY_FILE_OPTIONAL: 'yes' },
    readFile: (p) => {
      if (p in files) return files[p]!;
      throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
    },
  });
  const empty = withKey('/run/credentials/contactd.service/cluster.key');
  assert.ok(empty.kind === 'config' && empty.config.keyFile === undefined);
  assert.match(empty.kind === 'config' ? empty.config.keyFileSkipped ?? '' : '', 'is empty');
  const missing = withKey('/srv/none.key');
  assert.ok(missing.kind === 'config' && missing.config.keyFile === undefined && /does not exist/.test(missing.config.keyFileSkipped ?? ''));
  assert.throws(() => withKey('/srv/none.key', ['--bind', '10.0.0.5:7700']), (e: Error) => e instanceof ConfigError && /does not exist/.test(e.message) && /loopback only/.test(e.message));
  const junk = withKey('/srv/junk.key');
  assert.ok(junk.kind === 'config' && junk.config.keyFile === '/srv/junk.key', 'a file with anything in it is read as a key (and refused by keys.ts if it is not one)');
  // Without the option, a key file is required to be there.
  assert.is(load({ argv: ['--key-file', '/srv/none.key'] }).keyFile, '/srv/none.key');
});

test('defaults: loopback 7700, name from host and port, data under ./data, json off a TTY', () => {
  const c = load({});
  assert.equal(c.bind, { host: '127.0.0.1', port: 7700 });
  assert.is(c.advertise, '127.0.0.1:7700');
  assert.is(c.name, 'box-7700');
  assert.is(c.dataDir, '/srv/data/box-7700');
  assert.equal(c.join, []);
  assert.is(c.cluster, 'contacts');
  assert.is(c.datagramBudgetBytes, 1400);
  assert.is(c.logLevel, 'info');
  assert.is(c.logFormat, 'json');
  assert.is(c.metrics, undefined);
  assert.is(load({ stderrIsTTY: true }).logFormat, 'text');
  assert.is(load({ stderrIsTTY: true, env: { JOURNAL_STREAM: '8:1' } }).logFormat, 'json', 'journald wants one record per line');
  assert.is(load({ env: { STATE_DIRECTORY: '/var/lib/contactd:/other' } }).dataDir, '/var/lib/contactd');
});

test('precedence: flag > environment > config file > default, per option', () => {
  const file = { name: 'from-file', cluster: 'file-cluster', 'log-level': 'debug', 'datagram-budget': 1300, join: ['10.0.0.9:7700'] };
  // [argv, env, expected name, cluster, log level, budget, join]
  const table: [string[], Record<string, string>, string, string, string, number, string[]][] = [
    [[], {}, 'from-file', 'file-cluster', 'debug', 1300, ['10.0.0.9:7700']],
    [[], { CONTACTD_NAME: 'from-env', CONTACTD_JOIN: '10.0.0.1:1, 10.0.0.2:2' }, 'from-env', 'file-cluster', 'debug', 1300, ['10.0.0.1:1', '10.0.0.2:2']],
    [['--name', 'from-flag', '--join', '10.0.0.3:3'], { CONTACTD_NAME: 'from-env', CONTACTD_JOIN: '10.0.0.1:1' }, 'from-flag', 'file-cluster', 'debug', 1300, ['10.0.0.3:3']],
    [['--log-level=warn'], { CONTACTD_LOG_LEVEL: 'error', CONTACTD_DATAGRAM_BUDGET: '1500' }, 'from-file', 'file-cluster', 'warn', 1500, ['10.0.0.9:7700']],
  ];
  for (const [argv, env, name, cluster, level, budget, join] of table) {
    const c = load({ argv: ['--config', '/etc/c.json', ...argv], env, file });
    const what = JSON.stringify({ argv, env });
    assert.is(c.name, name, `name ${what}`);
    assert.is(c.cluster, cluster, `cluster ${what}`);
    assert.is(c.logLevel, level, `level ${what}`);
    assert.is(c.datagramBudgetBytes, budget, `budget ${what}`);
    assert.equal(c.join, join, `join ${what}`);
  }
  assert.is(load({ env: { CONTACTD_CONFIG: '/etc/c.json' }, file }).name, 'from-file', 'CONTACTD_CONFIG names the file too');
});

test('validation: each bad value names its option and source, and what to do', () => {
  // [inputs, fragments the message must contain]
  const table: [Partial<ConfigInputs> & { file?: Record<string, unknown> }, string[]][] = [
    [{ argv: ['--bind', '127.0.0.1:99999'] }, ['--bind', 'HOST:PORT', '127.0.0.1:7700']],
    [{ argv: ['--bind', 'example.com:7700'] }, ['--bind', 'not an IP address']],
    [{ argv: ['--bind', '0.0.0.0:7700', '--allow-unencrypted'] }, ['--advertise is required', '0.0.0.0:7700']],
    [{ argv: ['--bind', '0.0.0.0:7700', '--advertise', '192.0.2.10:7700'] }, ['--bind 0.0.0.0:7700', 'loopback only', '--allow-unencrypted']],
    [{ argv: ['--bind', '192.0.2.10:7700'] }, ['--bind 192.0.2.10:7700', 'loopback only']],
    [{ env: { CONTACTD_BIND: '[::]:7700', CONTACTD_ADVERTISE: '[2001:db8::1]:7700' } }, ['CONTACTD_BIND', 'loopback only']],
    [{ env: { CONTACTD_ALLOW_UNENCRYPTED: 'maybe' } }, ['CONTACTD_ALLOW_UNENCRYPTED', 'not true or false']],
    [{ argv: ['--gossip-encryption', 'send'] }, ['--gossip-encryption', 'needs a cluster key', '--key-file']],
    [{ argv: ['--gossip-encryption', 'loud', '--key-file', 'k'] }, ['--gossip-encryption', 'accept, send, require']],
    [{ argv: ['--key-file', ''] }, ['--key-file', 'empty']],
    [{ argv: ['--advertise', '0.0.0.0:7700'] }, ['--advertise', 'any address', "this host's own IP"]],
    [{ argv: ['--advertise', '[::1]:7700'] }, ['--advertise', 'IPv6', 'IPv4', 'same family']],
    [{ env: { CONTACTD_ADVERTISE: '0.0.0.0:1' } }, ['CONTACTD_ADVERTISE', 'any address']],
    [{ argv: ['--join', 'no port'] }, ['--join', 'HOST:PORT']],
    [{ argv: ['--join', '0.0.0.0:7700'] }, ['--join', 'not an address one can send to']],
    [{ argv: ['--name', ''] }, ['--name', '1..128 characters']],
    [{ argv: ['--name', 'bell\u0007'] }, ['--name', 'control characters']],
    [{ argv: ['--cluster', 'x'.repeat(65)] }, ['--cluster', '1..64']],
    [{ env: { CONTACTD_DATAGRAM_BUDGET: '9' } }, ['CONTACTD_DATAGRAM_BUDGET', '1200..65507']],
    [{ argv: ['--datagram-budget', '1400.5'] }, ['--datagram-budget', 'whole number']],
    [{ argv: ['--log-level', 'loud'] }, ['--log-level', 'fatal, error, warn, info']],
    [{ argv: ['--log-format', 'xml'] }, ['--log-format', 'text, json']],
    [{ argv: ['--metrics', 'nowhere'] }, ['--metrics', 'HOST:PORT']],
    [{ argv: ['--bogus'] }, ['--bogus', 'contactd --help']],
    [{ argv: ['stray'] }, ['stray', 'contactd --help']],
    [{ argv: ['--name'] }, ['--name', 'contactd --help']],
    [{ argv: ['--config', '/missing.json'] }, ['--config', '/missing.json', 'ENOENT']],
    [{ argv: ['--config', '/etc/c.json'], file: { bnid: '1.2.3.4:5' } }, ['"bnid"', 'unknown option', 'bind']],
    [{ argv: ['--config', '/etc/c.json'], file: { join: 7 } }, ['"join"', 'array of strings']],
    [{ argv: ['--config', '/etc/c.json'], file: { bind: '1.2.3.4' } }, ['config file /etc/c.json, key "bind"', 'HOST:PORT']],
  ];
  for (const [inputs, fragments] of table) {
    const msg = configError(inputs);
    for (const f of fragments) assert.ok(msg.includes(f), `${JSON.stringify(inputs)}: ${JSON.stringify(msg)} lacks ${JSON.stringify(f)}`);
  }
});

test('valid edge cases: 0.0.0.0 with an advertise address, IPv6, DNS seeds, metrics', () => {
  const c = load({ argv: ['--bind', '0.0.0.0:7701', '--advertise', '192.0.2.10:7701', '--join', 'seeds.example.net:7700', '--metrics', 'localhost:9100', '--allow-unencrypted'] });
  assert.is(c.allowUnencrypted, true);
  assert.equal(c.bind, { host: '0.0.0.0', port: 7701 });
  assert.is(c.advertise, '192.0.2.10:7701');
  assert.equal(c.join, ['seeds.example.net:7700']);
  assert.equal(c.metrics, { host: 'localhost', port: 9100 });
  assert.is(load({ argv: ['--bind', '[::1]:7700'] }).advertise, '[::1]:7700');
  assert.is(load({ argv: ['--bind', '127.0.0.9:7700'] }).allowUnencrypted, false, 'all of 127/8 is loopback');
  const keyed = load({ argv: ['--bind', '0.0.0.0:7700', '--advertise', '192.0.2.10:7700', '--key-file', 'keys/cluster.key'] });
  assert.equal([keyed.keyFile, keyed.gossipEncryption], ['/srv/keys/cluster.key', 'require'], 'a key lifts the loopback rule');
  assert.is(load({ argv: ['--key-file', 'k'], env: { CONTACTD_GOSSIP_ENCRYPTION: 'accept' } }).gossipEncryption, 'accept');
  for (const [src, value] of [['env', 'yes'], ['file', true]] as const) {
    const c2 = src === 'env' ? load({ argv: ['--bind', '10.0.0.1:7700'], env: { CONTACTD_ALLOW_UNENCRYPTED: value } })
      : load({ argv: ['--bind', '10.0.0.1:7700', '--config', '/etc/c.json'], file: { 'allow-unencrypted': value } });
    assert.is(c2.allowUnencrypted, true, src);
  }
  assert.is(load({ argv: ['--name', 'a/b c'] }).dataDir, '/srv/data/a_b_c', 'the name is made safe as a path component');
});

test('key files: base64 of 32 bytes (standard or URL-safe); anything else says what is wrong', () => {
  const key = randomBytes(32);
  assert.equal([...parseKeyText(`  ${key.toString('base64')}\n`, 'f')], [...key]);
  assert.equal([...parseKeyText(key.toString('base64url'), 'f')], [...key]);
  assert.equal([...parseKeyText(generateKeyText(), 'f')].length, 32);
  for (const [text, fragment] of [['not a key', 'not base64'], [randomBytes(16).toString('base64'), '16 bytes'], ['', 'not base64']] as const) {
    assert.throws(() => parseKeyText(text, 'f'), (e: Error) => e instanceof KeyError && e.message.includes(fragment) && e.message.includes('contactd keygen'));
  }
});

test('unknown CONTACTD_* variables are warned about, not fatal', () => {
  const r = loadConfig({ ...base, env: { CONTACTD_BINDD: 'x' } });
  assert.is(r.kind, 'config');
  if (r.kind === 'config') assert.ok(r.warnings.some((w) => w.includes('CONTACTD_BINDD')));
});

test('--help documents every option with its environment variable and default', () => {
  const r = loadConfig({ ...base, argv: ['--help'] });
  assert.is(r.kind, 'help');
  if (r.kind !== 'help') return;
  for (const o of OPTIONS) {
    assert.ok(r.text.includes(`--${o.name}${o.value ? ` ${o.value}` : ''}`), `--${o.name}`);
    assert.ok(r.text.includes(envName(o.name)), envName(o.name));
    assert.ok(r.text.includes(`default: ${o.defaultText}`), `default of --${o.name}`);
  }
  assert.ok(r.text.includes('CONTACTD_CONFIG'));
  assert.ok(r.text.includes('SIGHUP'));
  assert.ok(r.text.includes('without a cluster key a node listens on loopback only'));
});

test('seeds: IP literals pass, names resolve to all their addresses of the socket family, failures reported', async () => {
  const calls: string[] = [];
  const lookup: Lookup = async (host, opts) => {
    calls.push(`${host}/${opts.family}`);
    if (host === 'seeds.test') return [{ address: '127.0.0.2', family: 4 }, { address: '127.0.0.3', family: 4 }];
    throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
  };
  const r = await resolveSeeds(['127.0.0.1:7700', 'seeds.test:7701', 'gone.test:7700', '[::1]:7700', '127.0.0.2:7701'] as Address[], 4, lookup);
  assert.equal(r.seeds, ['127.0.0.1:7700', '127.0.0.2:7701', '127.0.0.3:7701']);
  assert.equal(r.failures.map((f) => f.seed), ['gone.test:7700', '[::1]:7700']);
  assert.ok(r.failures[0]!.error.includes('ENOTFOUND'));
  assert.ok(r.failures[1]!.error.includes('IPv6'));
  assert.equal(calls.sort(), ['gone.test/4', 'seeds.test/4']);
});

test.run();
