/**
 * `contacts <command> --help` documents every command: a usage line, what
 * it does, every option it accepts, and an example; errors from a server
 * come with what to do.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { COMMANDS, run } from '../../tui/cli.ts';
import { COMMAND_HELP, errorHint } from '../../tui/cli-help.ts';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(argv, { out: (t) => void (out += t), err: (t) => void (err += t), env: {} });
  return { code, out, err };
}

for (const [name, spec] of Object.entries(COMMANDS)) {
  test(`contacts ${name} --help documents it`, async () => {
    const r = await cli(name, '--help');
    assert.is(r.code, 0);
    assert.is(r.err, '');
    assert.ok(r.out.startsWith(`usage: contacts ${name}`), r.out);
    assert.ok(COMMAND_HELP[name], `${name} has no COMMAND_HELP entry`);
    assert.ok(COMMAND_HELP[name]!.details.join(' ').length > 40, `${name}: say what it does`);
    for (const o of spec.options) assert.match(r.out, new RegExp(`^  --${o}\\b`, 'm'), `--${o} of ${name} is not documented`);
    for (const o of ['--server', '--cluster', '--json']) assert.ok(r.out.includes(o), `${name}: ${o}`);
    assert.match(r.out, /\nexamples:\n {2}contacts /);
  });
}

test('help documents no command that does not exist', () => {
  assert.equal(Object.keys(COMMAND_HELP).sort(), Object.keys(COMMANDS).sort());
});

test('usage errors point at the command\'s help; server errors say what to do', async () => {
  const r = await cli('get');
  assert.is(r.code, 2);
  assert.match(r.err, /give exactly one contact id/);
  assert.match(r.err, /usage: contacts get/);
  const stray = await cli('list', '--pick', '1');
  assert.is(stray.code, 2);
  assert.match(stray.err, /--pick is not an option of list/);
  assert.match(errorHint('get', 'not-found')!, /contacts list/);
  assert.match(errorHint('history', 'unknown-op')!, /older contactd/);
  assert.is(errorHint('search', 'not-found'), undefined);
});

test.run();
