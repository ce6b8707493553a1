import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createLogger, formatTextLine, journaldPriority, type LogOptions } from '../../daemon/log.ts';

function capture(opts: Omit<LogOptions, 'destination'>) {
  const lines: string[] = [];
  const log = createLogger({ ...opts, destination: { write: (s: string) => { lines.push(s); } } });
  return { log, lines };
}

test('journald priorities: error 3, warn 4, info 6, debug and trace 7', () => {
  const table: [number, number][] = [[60, 3], [50, 3], [40, 4], [30, 6], [20, 7], [10, 7]];
  for (const [level, prio] of table) assert.is(journaldPriority(level), prio, `level ${level}`);
});

test('json under journald: priority prefix, no time, no pid', () => {
  const { log, lines } = capture({ level: 'debug', format: 'json', journald: true });
  log.info({ event: 'member', id: 'x' }, 'member a alive');
  log.warn('careful');
  log.error('broken');
  log.debug('detail');
  assert.equal(lines.map((l) => l.slice(0, 3)), ['<6>', '<4>', '<3>', '<7>']);
  const rec = JSON.parse(lines[0]!.slice(3));
  assert.is(rec.msg, 'member a alive');
  assert.is(rec.event, 'member');
  assert.is(rec.time, undefined);
  assert.is(rec.pid, undefined);
  assert.ok(lines.every((l) => l.endsWith('\n') && l.indexOf('\n') === l.length - 1), 'one line per record');
});

test('json off journald: plain JSON lines with an ISO time and the pid', () => {
  const { log, lines } = capture({ level: 'info', format: 'json', journald: false });
  log.info({ event: 'joined', members: 3 }, 'joined');
  const rec = JSON.parse(lines[0]!);
  assert.is(rec.level, 30);
  assert.is(rec.pid, process.pid);
  assert.match(rec.time, /^\d{4}-\d\d-\d\dT/);
  assert.is(rec.members, 3);
});

test('text: time LEVEL message key=value; under journald the time goes and every line is prefixed', () => {
  const { log, lines } = capture({ level: 'info', format: 'text', journald: false });
  log.info({ event: 'member', name: 'node a', state: 'alive', incarnation: 2 }, 'member node a alive');
  assert.match(lines[0]!, /^\d{4}-\d\d-\d\dT[\d:.]+Z INFO  member node a alive event=member name="node a" state=alive incarnation=2\n$/);
  const j = capture({ level: 'info', format: 'text', journald: true });
  j.log.error({ err: new Error('boom') }, 'failed');
  const text = j.lines.join('');
  assert.ok(text.startsWith('<3>ERROR failed'), text);
  assert.ok(text.includes('\n<3>    Error: boom'), 'the stack follows, each line with the priority');
  assert.ok(text.split('\n').filter(Boolean).every((l) => l.startsWith('<3>')));
});

test('level can be changed at run time (SIGHUP reload)', () => {
  const { log, lines } = capture({ level: 'info', format: 'json', journald: false });
  log.level = 'warn';
  log.info('hidden');
  log.warn('shown');
  assert.is(lines.length, 1);
});

test('formatTextLine leaves a line that is not JSON as it is', () => {
  assert.is(formatTextLine('not json\n'), 'not json\n');
});

test.run();
