import { test } from 'uvu';
import * as assert from 'uvu/assert';
import sinon from 'sinon';
import { Driver } from '../../daemon/driver.ts';
import type { SansIoCore } from '../../protocol/sans-io.ts';
import type { Address, TimeMs, Transmit } from '../../protocol/types.ts';

const A = '127.0.0.1:7701' as Address;
const B = '127.0.0.1:7702' as Address;

/** A scriptable core: deadlines, queued outputs, and a log of every call. */
class FakeCore implements SansIoCore<string> {
  deadlines = new Set<TimeMs>();
  events: string[] = [];
  transmits: Transmit[] = [];
  calls: string[] = [];
  /** What a timeout or datagram makes the core do. */
  react: (now: TimeMs, cause: string) => void = () => {};

  handleDatagram(now: TimeMs, from: Address, bytes: Uint8Array): void {
    this.calls.push(`datagram@${now} from ${from} (${bytes.length} B)`);
    this.react(now, 'datagram');
  }
  handleTimeout(now: TimeMs): void {
    this.calls.push(`timeout@${now}`);
    for (const d of this.deadlines) if (d <= now) this.deadlines.delete(d);
    this.react(now, 'timeout');
  }
  pollTransmit(): Transmit | undefined {
    return this.transmits.shift();
  }
  pollEvent(): string | undefined {
    return this.events.shift();
  }
  pollTimeout(): TimeMs | undefined {
    return this.deadlines.size ? Math.min(...this.deadlines) : undefined;
  }
}

function setup(start = 1_000) {
  const clock = sinon.useFakeTimers({ now: start, toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  const core = new FakeCore();
  const out: string[] = [];
  const errors: string[] = [];
  const driver = new Driver<string>({
    core,
    sink: { send: (to, bytes) => out.push(`send ${to} ${Buffer.from(bytes).toString()}`) },
    onEvent: (e) => out.push(`event ${e}`),
    onError: (err, where) => errors.push(`${where}: ${(err as Error).message}`),
    now: () => clock.now,
  });
  return { clock, core, out, errors, driver };
}

const tx = (to: Address, s: string): Transmit => ({ to, bytes: Buffer.from(s) });

test('arms one timer at the earliest deadline and fires it then, with now = the deadline', () => {
  const { clock, core, driver } = setup();
  try {
    core.deadlines = new Set([1_500, 1_200, 3_000]);
    driver.start();
    assert.is(driver.armedAtMs, 1_200);
    assert.is(clock.countTimers(), 1);
    clock.tick(199);
    assert.equal(core.calls, [], 'nothing before the deadline');
    clock.tick(1);
    assert.equal(core.calls, ['timeout@1200']);
    assert.is(driver.armedAtMs, 1_500, 're-armed at the next deadline');
    clock.tick(300);
    assert.equal(core.calls, ['timeout@1200', 'timeout@1500']);
    assert.is(driver.armedAtMs, 3_000);
    assert.is(clock.countTimers(), 1, 'never more than one timer');
  } finally {
    clock.restore();
  }
});

test('re-arms after each input: earlier deadline moves the timer, an unchanged one leaves it', () => {
  const { clock, core, driver } = setup();
  try {
    core.deadlines = new Set([2_000]);
    driver.start();
    const arms = driver.stats.timerArms;
    clock.tick(100);
    driver.handleDatagram(A, Buffer.from('x'));
    assert.equal(core.calls, ['datagram@1100 from 127.0.0.1:7701 (1 B)']);
    assert.is(driver.stats.timerArms, arms, 'same deadline: the armed timer is kept');
    core.react = (now, cause) => { if (cause === 'datagram') core.deadlines.add(now + 50); };
    driver.handleDatagram(B, Buffer.from('yy'));
    assert.is(driver.armedAtMs, 1_150, 'the new, earlier deadline');
    assert.is(clock.countTimers(), 1, 'the old timer was cleared');
    clock.tick(50);
    assert.equal(core.calls.at(-1), 'timeout@1150');
    assert.is(driver.armedAtMs, 2_000);
  } finally {
    clock.restore();
  }
});

test('drains everything after each input, events before datagrams', () => {
  const { clock, core, out, driver } = setup();
  try {
    core.react = (_now, cause) => {
      core.transmits.push(tx(A, `${cause}-1`), tx(B, `${cause}-2`));
      core.events.push(`${cause}-persist`, `${cause}-member`);
      core.transmits.push(tx(A, `${cause}-3`));
    };
    core.deadlines = new Set([1_010]);
    driver.start();
    clock.tick(10);
    assert.equal(out, [
      'event timeout-persist', 'event timeout-member',
      'send 127.0.0.1:7701 timeout-1', 'send 127.0.0.1:7702 timeout-2', 'send 127.0.0.1:7701 timeout-3',
    ]);
    out.length = 0;
    driver.input(() => core.events.push('joined'));
    assert.equal(out, ['event joined'], 'a command is an input like any other');
    assert.is(core.pollEvent(), undefined);
    assert.is(core.pollTransmit(), undefined);
  } finally {
    clock.restore();
  }
});

test('a deadline already past fires at once; an idle core arms nothing until it has work', () => {
  const { clock, core, driver } = setup();
  try {
    driver.start();
    assert.is(driver.armedAtMs, undefined);
    assert.is(clock.countTimers(), 0);
    driver.input((now) => core.deadlines.add(now - 5));
    assert.is(clock.countTimers(), 1);
    clock.tick(0);
    assert.equal(core.calls, ['timeout@1000']);
    assert.is(clock.countTimers(), 0);
  } finally {
    clock.restore();
  }
});

test('a timer that fires early (deadline still ahead) is harmless and re-armed', () => {
  let fire: (() => void) | undefined;
  const core = new FakeCore();
  let now = 1_000;
  const driver = new Driver<string>({
    core, sink: { send() {} }, onEvent() {}, onError() {}, now: () => now,
    setTimer: (fn) => { fire = fn; return 1; }, clearTimer() {},
  });
  core.deadlines = new Set([1_100]);
  driver.start();
  now = 1_099;
  fire!();
  assert.equal(core.calls, ['timeout@1099']);
  assert.is(driver.armedAtMs, 1_100, 'the core kept its deadline; so does the driver');
});

test('a throwing handler or sink is reported and the loop goes on', () => {
  const { clock, core, errors } = setup();
  try {
    const sent: string[] = [];
    const d = new Driver<string>({
      core,
      sink: { send: (to) => { if (to === A) throw new Error('send failed'); sent.push(to); } },
      onEvent: (e) => { if (e === 'bad') throw new Error('handler failed'); },
      onError: (err, where) => errors.push(`${where}: ${(err as Error).message}`),
      now: () => clock.now,
    });
    core.events.push('bad', 'good');
    core.transmits.push(tx(A, '1'), tx(B, '2'));
    d.input(() => { throw new Error('command failed'); });
    assert.equal(errors, ['input: command failed', 'event: handler failed', 'transmit: send failed']);
    assert.equal(sent, [B]);
  } finally {
    clock.restore();
  }
});

test('stop disarms the timer and ignores later inputs', () => {
  const { clock, core, driver } = setup();
  try {
    core.deadlines = new Set([1_100]);
    driver.start();
    driver.stop();
    assert.is(clock.countTimers(), 0);
    driver.handleDatagram(A, Buffer.from('late'));
    clock.tick(1_000);
    assert.equal(core.calls, []);
    assert.ok(driver.isStopped);
  } finally {
    clock.restore();
  }
});

test('an input made from an event handler is drained by the running loop, not a nested one', () => {
  const { clock, core, out } = setup();
  try {
    const d: Driver<string> = new Driver<string>({
      core,
      sink: { send: (to, bytes) => out.push(`send ${Buffer.from(bytes).toString()}`) },
      onEvent: (e) => {
        out.push(`event ${e}`);
        if (e === 'first') d.input(() => { core.events.push('second'); core.transmits.push(tx(A, 'reply')); });
      },
      onError() {},
      now: () => clock.now,
    });
    core.events.push('first');
    core.transmits.push(tx(A, 'one'));
    d.start();
    assert.equal(out, ['event first', 'event second', 'send one', 'send reply']);
  } finally {
    clock.restore();
  }
});

test('datagrams drained after a persist wait for its commit; a failed commit drops them', async () => {
  const core = new FakeCore();
  const out: string[] = [];
  const errors: string[] = [];
  let pending: { resolve: () => void; reject: (e: Error) => void } | undefined;
  let wantCommit = false;
  const driver = new Driver<string>({
    core,
    sink: { send: (_to, bytes) => out.push(`send ${Buffer.from(bytes).toString()}`) },
    onEvent: (e) => {
      out.push(`event ${e}`);
      if (e.startsWith('persist')) wantCommit = true;
    },
    onError: (err, where) => errors.push(`${where}: ${(err as Error).message}`),
    commitBarrier: () => {
      if (!wantCommit) return undefined;
      wantCommit = false;
      return new Promise<void>((resolve, reject) => (pending = { resolve, reject }));
    },
    now: () => 0,
    setTimer: () => 0,
    clearTimer: () => {},
  });
  core.events = ['persist write'];
  core.transmits = [tx(A, 'ack'), tx(B, 'delta')];
  driver.input(() => {});
  assert.equal(out, ['event persist write'], 'nothing leaves before the commit');
  core.transmits = [tx(A, 'later')];
  driver.input(() => {});
  assert.equal(out, ['event persist write'], 'a later datagram waits behind the commit too');
  pending!.resolve();
  await new Promise((r) => setImmediate(r));
  assert.equal(out, ['event persist write', 'send ack', 'send delta', 'send later']);
  core.events = ['persist again'];
  core.transmits = [tx(A, 'ack2')];
  driver.input(() => {});
  pending!.reject(new Error('disk full'));
  await new Promise((r) => setImmediate(r));
  assert.not.ok(out.includes('send ack2'), 'an ack for a write that did not commit must never leave');
  assert.equal(errors, ['commit: disk full']);
});

test('each commit releases what was drained after it, without waiting for newer commits', async () => {
  const core = new FakeCore();
  const out: string[] = [];
  const commits: { resolve: () => void }[] = [];
  let wantCommit = false;
  const driver = new Driver<string>({
    core,
    sink: { send: (_to, bytes) => out.push(Buffer.from(bytes).toString()) },
    onEvent: () => { wantCommit = true; },
    onError: (err) => { throw err; },
    commitBarrier: () => {
      if (!wantCommit) return undefined;
      wantCommit = false;
      return new Promise<void>((resolve) => commits.push({ resolve }));
    },
    now: () => 0,
    setTimer: () => 0,
    clearTimer: () => {},
  });
  const write = (answer: string) => {
    core.events = ['persist'];
    core.transmits = [tx(A, answer)];
    driver.input(() => {});
  };
  write('ack1');
  write('ack2');
  write('ack3');
  const settle = () => new Promise((r) => setImmediate(r));
  commits[1]!.resolve(); // out of order: nothing may pass commit 1
  await settle();
  assert.equal(out, []);
  commits[0]!.resolve();
  await settle();
  assert.equal(out, ['ack1', 'ack2'], 'commit 3 still runs: the answers of 1 and 2 leave');
  commits[2]!.resolve();
  await settle();
  assert.equal(out, ['ack1', 'ack2', 'ack3']);
});

test.run();
