import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSocket } from 'unix-dgram';
import pino from 'pino';
import { SystemdNotifier } from '../../daemon/systemd.ts';

const unitPath = fileURLToPath(new URL('../../daemon/contactd.service', import.meta.url));
const silent = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'contactd-notify-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** A fake systemd: a unix datagram socket that collects what it is sent. */
function fakeSystemd(path: string) {
  const got: string[] = [];
  let waiter: (() => void) | undefined;
  const sock = createSocket('unix_dgram', (buf) => { got.push(buf.toString()); waiter?.(); });
  sock.bind(path);
  return {
    got,
    /** Resolves once `n` datagrams have arrived (fails after 5 s). */
    async waitFor(n: number): Promise<string[]> {
      const deadline = Date.now() + 5_000;
      while (got.length < n) {
        if (Date.now() > deadline) throw new Error(`only ${got.length} of ${n} notifications: ${JSON.stringify(got)}`);
        await new Promise<void>((r) => { waiter = r; setTimeout(r, 100); });
      }
      return got;
    },
    close: () => sock.close(),
  };
}

test('without NOTIFY_SOCKET every call is a no-op', () => {
  const n = SystemdNotifier.fromEnv({}, silent);
  assert.not.ok(n.enabled);
  n.ready('x');
  n.status('y');
  n.stopping('z');
  assert.is(n.startWatchdog({ WATCHDOG_USEC: '1000000' }), undefined);
  n.close();
});

test('READY, STATUS, EXTEND_TIMEOUT_USEC and STOPPING reach the notify socket, one datagram each', async () => {
  const path = join(dir, 'notify.sock');
  const systemd = fakeSystemd(path);
  const n = SystemdNotifier.fromEnv({ NOTIFY_SOCKET: path }, silent);
  try {
    n.extendTimeout(31_000);
    n.ready('3 members alive');
    n.status('2 members alive\nand a newline');
    n.stopping('leaving the cluster');
    assert.equal(await systemd.waitFor(4), [
      'EXTEND_TIMEOUT_USEC=31000000',
      'READY=1\nSTATUS=3 members alive',
      'STATUS=2 members alive and a newline',
      'STOPPING=1\nSTATUS=leaving the cluster',
    ]);
  } finally {
    n.close();
    systemd.close();
  }
});

test('an abstract NOTIFY_SOCKET (@name), which unix-dgram cannot reach, turns notifications off with a warning', () => {
  const lines: string[] = [];
  const log = pino({ level: 'warn' }, { write: (s: string) => { lines.push(s); } });
  const n = SystemdNotifier.fromEnv({ NOTIFY_SOCKET: '@contactd-test' }, log);
  assert.not.ok(n.enabled);
  n.ready('up');
  assert.is(lines.length, 1);
  assert.ok(lines[0]!.includes('abstract socket'));
});

test('watchdog: pings at half WATCHDOG_USEC, only when meant for this pid', async () => {
  const path = join(dir, 'watchdog.sock');
  const systemd = fakeSystemd(path);
  const n = SystemdNotifier.fromEnv({ NOTIFY_SOCKET: path }, silent);
  try {
    assert.is(n.startWatchdog({ WATCHDOG_USEC: '100000', WATCHDOG_PID: '1' }, 2), undefined, 'another pid');
    assert.is(n.startWatchdog({ WATCHDOG_USEC: '100000' }), 50);
    assert.equal((await systemd.waitFor(2)).slice(0, 2), ['WATCHDOG=1', 'WATCHDOG=1']);
  } finally {
    n.close();
    systemd.close();
  }
});

test('contactd.service: hardened as required, and systemd-analyze verify accepts it (when installed)', () => {
  const unit = readFileSync(unitPath, 'utf8');
  const required = [
    'Type=notify', 'DynamicUser=yes', 'StateDirectory=contactd', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes',
    'PrivateDevices=yes', 'NoNewPrivileges=yes', 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX',
    'SystemCallFilter=@system-service', 'CapabilityBoundingSet=\n', 'UMask=0077', 'WatchdogSec=', 'ExecReload=/bin/kill -HUP $MAINPID',
    // Without /etc/contactd/cluster.key the unit still starts: an empty credential stands in, and means "no key" (review 13).
    'LoadCredential=cluster.key:/etc/contactd/cluster.key\n', 'SetCredential=cluster.key:\\n\n', 'Environment=CONTACTD_KEY_FILE=%d/cluster.key\n',
    'Environment=CONTACTD_KEY_FILE_OPTIONAL=yes\n',
  ];
  for (const line of required) assert.ok(unit.includes(line), `missing ${JSON.stringify(line)}`);
  assert.not.ok(/^\s*MemoryDenyWriteExecute\s*=\s*(yes|true|1)/m.test(unit), "Node's JIT aborts under MemoryDenyWriteExecute");
  const which = spawnSync('sh', ['-c', 'command -v systemd-analyze']);
  if (which.status !== 0) {
    console.log('  (systemd-analyze not installed: verify not run)');
    return;
  }
  const r = spawnSync('systemd-analyze', ['verify', unitPath], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stderr.trim(), '', 'no warnings');
});

test.run();
