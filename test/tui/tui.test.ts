/**
 * The TUI as a person uses it, on fake terminal streams against an
 * in-process core (harness.ts): keys in, screen text out. Each test
 * waits on what the screen shows.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FakeCluster, startApp, type TestApp } from './harness.ts';

/** Runs `body` with a fresh app and closes it whatever happens. */
async function withApp(opts: Parameters<typeof startApp>[0], body: (t: TestApp) => Promise<void>): Promise<void> {
  const t = startApp(opts);
  try {
    await body(t);
  } finally {
    t.close();
  }
}

/** The list's rows (left pane), trimmed. */
function listRows(t: TestApp): string[] {
  const width = Math.floor(t.rows()[0]!.length * 0.4);
  return t.rows().slice(2, -2).map((r) => r.slice(1, width - 1).trim()).filter(Boolean);
}

/** The name in the details pane's first line. */
function detailsName(t: TestApp): string {
  const width = Math.floor(t.rows()[0]!.length * 0.4);
  return t.rows()[2]!.slice(width + 1, -1).trim();
}

async function seed(cluster: FakeCluster, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await cluster.add(`Person ${String(i).padStart(3, '0')}`);
}

test('list on the left, details on the right; j/k, arrows, g/G and PgDn/PgUp move the cursor', async () => {
  const cluster = new FakeCluster();
  await seed(cluster, 60);
  await withApp({ cluster, rows: 24 }, async (t) => {
    await t.waitFor('Contacts 60');
    assert.is(detailsName(t), 'Person 000');
    t.press('j', 'down');
    await t.waitFor(() => detailsName(t) === 'Person 002');
    t.press('k');
    await t.waitFor(() => detailsName(t) === 'Person 001');
    t.press('G');
    await t.waitFor(() => detailsName(t) === 'Person 059');
    assert.ok(listRows(t).includes('Person 059'), 'the list scrolled to the last contact');
    assert.not.ok(listRows(t).includes('Person 000'), 'only the rows that fit are drawn');
    t.press('g');
    await t.waitFor(() => detailsName(t) === 'Person 000');
    t.press('pagedown');
    await t.waitFor(() => detailsName(t) !== 'Person 000');
    const afterPage = Number(detailsName(t).slice(-3));
    assert.ok(afterPage >= 15 && afterPage <= 20, `a page is the list's height (moved to ${afterPage})`);
    t.press('pageup');
    await t.waitFor(() => detailsName(t) === 'Person 000');
  });
});

test('/ filters as you type, Enter keeps the filter, Esc clears it and keeps the selection', async () => {
  const cluster = new FakeCluster();
  await cluster.add('Ada Lovelace', { emails: [{ uid: 'e1', value: 'ada@example.org', types: [], pref: false }] });
  await cluster.add('Grace Hopper');
  await cluster.add('Zoë Émile', { phones: [{ uid: 'p1', value: '+1 (555) 010-0', types: [], pref: false }] });
  await withApp({ cluster }, async (t) => {
    await t.waitFor('Contacts 3');
    t.press('/');
    t.type('zoe');
    await t.waitFor('Contacts 1 of 3 matching');
    assert.equal(listRows(t).filter((r) => !r.startsWith('/')), ['Zoë Émile']);
    t.press('C-u');
    t.type('5550100');
    await t.waitFor(() => detailsName(t) === 'Zoë Émile' && t.text().includes('/5550100'));
    t.press('C-u');
    t.type('example.org');
    await t.waitFor(() => detailsName(t) === 'Ada Lovelace');
    t.press('enter');
    await t.waitFor('/example.org  (Esc clears)');
    t.press('escape');
    await t.waitFor('Contacts 3 ');
    assert.is(detailsName(t), 'Ada Lovelace');
    t.press('/');
    t.type('nobody');
    await t.waitFor('no contact matches');
    t.press('escape');
    await t.waitFor('Contacts 3 ');
  });
});

test('a adds: errors show at their field, local and from the server; saved, the new contact is selected', async () => {
  await withApp({}, async (t) => {
    await t.waitFor('no contacts yet');
    t.press('a');
    await t.waitFor('Add a contact');
    t.type('Alan Turing');
    t.press('tab');
    t.type('abc, +44 1234 5678');
    t.press('tab');
    t.type('alan@');
    t.press('C-s');
    await t.waitFor('"abc" needs at least 2 digits');
    assert.match(t.text(), /"alan@" is not an email address/);
    assert.is(t.cluster.requests.filter((r) => r.op === 'put').length, 0, 'nothing was sent');
    assert.match(t.text(), /▸ Phones/, 'the cursor goes to the first field in error');
    t.press('C-u');
    t.type('+1 555 0199, +44 1234 5678');
    t.press('tab', 'C-u');
    t.type('alan@example.org');
    t.cluster.refuseNext = { op: 'put', code: 'invalid', message: 'the write is invalid', issues: [{ path: 'emails[0].value', reason: 'is on the server\'s deny list' }] };
    t.press('C-s');
    await t.waitFor('"alan@example.org" is on the server\'s deny list');
    t.press('C-s');
    await t.waitFor('added Alan Turing');
    assert.not.match(t.text(), /Add a contact/);
    assert.is(detailsName(t), 'Alan Turing');
    const rows = t.rows().join('\n');
    assert.ok(rows.indexOf('+1 555 0199') < rows.indexOf('+44 1234 5678'), 'phones keep the order they were typed in');
  });
});

test('e edits: only what changed is sent, list entries keep their uid; Esc on a changed form asks first', async () => {
  const cluster = new FakeCluster();
  await cluster.add('Ada Lovelace', {
    phones: [{ uid: 'p1', value: '+44 20 7946 0000', types: ['work'], pref: true }],
    emails: [{ uid: 'e1', value: 'ada@example.org', types: [], pref: false }],
  });
  await withApp({ cluster }, async (t) => {
    await t.waitFor('Ada Lovelace');
    t.press('e');
    await t.waitFor('Edit Ada Lovelace');
    t.press('tab', 'C-u');
    t.type('+44 20 7946 0001, +1 555 0100');
    t.press('tab', 'tab');
    t.type('Analytical Engines');
    t.press('escape');
    await t.waitFor('Discard what you typed? [y/N]');
    t.press('n');
    await t.waitFor(() => !t.text().includes('Discard what'));
    t.press('C-s');
    await t.waitFor('saved Ada Lovelace');
    const put = t.cluster.requests.filter((r) => r.op === 'put').at(-1)!;
    const ops = (put.args.patch as { ops: Record<string, unknown>[] }).ops;
    assert.equal(ops.map((o) => `${o.op} ${o.field}`).sort(), ['put phones', 'put phones', 'set org']);
    const kept = ops.find((o) => o.uid === 'p1');
    assert.equal(kept?.value, { value: '+44 20 7946 0001', types: ['work'], pref: true }, 'the edited phone keeps its uid and labels');
    assert.ok(put.args.read, 'the edit carries what it read');
    await t.waitFor('Analytical Engines');
  });
});

test('d deletes after y; anything else keeps the contact', async () => {
  const cluster = new FakeCluster();
  await cluster.add('Ada Lovelace');
  await cluster.add('Grace Hopper');
  await withApp({ cluster }, async (t) => {
    await t.waitFor('Contacts 2');
    t.press('d');
    await t.waitFor('Delete Ada Lovelace? [y/N]');
    t.press('n');
    await t.waitFor(() => !t.text().includes('[y/N]'));
    t.press('d');
    await t.waitFor('[y/N]');
    t.press('y');
    await t.waitFor('deleted Ada Lovelace');
    await t.waitFor('Contacts 1 ');
    assert.equal(listRows(t), ['Grace Hopper']);
  });
});

test('conflicts are marked with ! and resolved in a dialog that shows each value with its node and time', async () => {
  const cluster = new FakeCluster();
  const c = await cluster.add('Ada Lovelace');
  await cluster.add('Grace Hopper');
  // Two writes that read the same version: concurrent edits of one field.
  for (const [opId, title] of [['t1', 'Countess'], ['t2', 'Mathematician']]) {
    await cluster.request('put', { opId, patch: { kind: 'update', id: c.id, ops: [{ op: 'set', field: 'title', value: title }] }, read: c.seen });
  }
  await withApp({ cluster }, async (t) => {
    await t.waitFor('!Ada Lovelace');
    await t.waitFor('Conflicting edits: title');
    t.press('G', 'n');
    await t.waitFor(() => detailsName(t) === 'Ada Lovelace');
    t.press('c');
    await t.waitFor('Keep which value?');
    assert.match(t.text(), /Mathematician\s+from node-1 at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
    assert.match(t.text(), /Countess\s+from node-1 at/);
    t.press('j', 'enter');
    await t.waitFor('conflicts of Ada Lovelace resolved');
    assert.not.match(t.text(), /!Ada Lovelace/);
    assert.match(t.text(), /Title\s+Countess/);
    const resolve = t.cluster.requests.find((r) => r.op === 'resolve')!;
    assert.equal(resolve.args.op, { op: 'set', field: 'title', value: 'Countess' });
  });
});

test('Enter opens the card; h shows the history: when, which node, what kind of write, which fields', async () => {
  const cluster = new FakeCluster();
  const c = await cluster.add('Ada Lovelace', { note: 'first programmer' });
  await cluster.request('put', { opId: 'title-1', patch: { kind: 'update', id: c.id, ops: [{ op: 'set', field: 'title', value: 'Countess' }] } });
  await withApp({ cluster }, async (t) => {
    await t.waitFor('Ada Lovelace');
    t.press('enter');
    await t.waitFor(/Id\s+01J/);
    assert.match(t.text(), /Writes\s+node-1 #/);
    t.press('h');
    await t.waitFor('History of Ada Lovelace');
    await t.waitFor(/update\s+title\s+title-1/);
    assert.match(t.text(), /create\s+formattedName, note/);
    t.press('escape', 'escape');
    await t.waitFor(() => !t.text().includes('Writes'));
  });
});

test('cluster view: members with state, incarnation and last heard; changes land in the event log', async () => {
  // The scripted member list is read by polling (pushes carry only the in-process core's own changes).
  await withApp({ feed: 'poll' }, async (t) => {
    await t.waitFor('3 alive');
    t.press('tab');
    await t.waitFor('Members: 3 (3 alive, 0 suspect, 0 dead, 0 left)');
    assert.match(t.text(), /node-2\s+127\.0\.0\.1:7002\s+alive\s+0\s+\d+ ms/);
    t.cluster.members[1] = { ...t.cluster.members[1]!, state: 'suspect' };
    await t.waitFor('node-2 (127.0.0.1:7002) is suspected');
    t.cluster.members[1] = { ...t.cluster.members[1]!, state: 'dead' };
    t.cluster.members.push({ id: '00000000000000a4', name: 'node-4', address: '127.0.0.1:7004', state: 'alive', incarnation: 2, lastHeardMsAgo: 5 });
    await t.waitFor('node-2 (127.0.0.1:7002) is dead');
    await t.waitFor('node-4 (127.0.0.1:7004) joined');
    assert.match(t.text(), /node-2\s+127\.0\.0\.1:7002\s+dead/);
    assert.match(t.text(), /3 alive 0 suspect/);
    t.press('1');
    await t.waitFor('Contacts 0');
    t.press('2');
    await t.waitFor('Members: 4');
  });
});

test('failover: the attached server dies mid-save; the form keeps its text, the top line and log say so, the write is applied once', async () => {
  await withApp({}, async (t) => {
    await t.waitFor('● node-1');
    t.press('a');
    t.type('Margaret Hamilton');
    t.cluster.loseAnswerOf = 'put'; // node-1 applies the write, then dies before answering
    t.press('C-s');
    await t.waitFor('added Margaret Hamilton');
    await t.waitFor('● node-2');
    t.press('tab');
    await t.waitFor('failover: now attached to node-2 (127.0.0.1:7002)');
    const ids = t.cluster.requests.filter((r) => r.op === 'put').map((r) => r.args.opId);
    assert.is(ids.length, 2, 'the write went to node-1 and again to node-2');
    assert.is(ids[0], ids[1], 'with the same op id');
    const all = await t.cluster.request('list');
    assert.is((all.result as { formattedName: string }[]).filter((c) => c.formattedName === 'Margaret Hamilton').length, 1, 'applied once');
  });
});

test('no server answers: read-only, the form stays open, it comes back by itself and the same save is applied once', async () => {
  const cluster = new FakeCluster();
  await cluster.add('Ada Lovelace');
  await withApp({ cluster }, async (t) => {
    await t.waitFor('Ada Lovelace');
    t.press('e', 'tab', 'tab', 'tab', 'tab');
    t.type('Countess');
    for (const s of cluster.serverList) cluster.down.add(s);
    t.press('C-s');
    await t.waitFor('no server answered');
    await t.waitFor('no server answers · read-only');
    assert.match(t.text(), /Title\s+▸?\s*Countess|Countess/);
    t.press('C-s');
    await t.waitFor(/no server answered/);
    cluster.down.clear();
    await t.waitFor(/● node-\d/);
    t.press('C-s');
    await t.waitFor('saved Ada Lovelace');
    const puts = cluster.requests.filter((r) => r.op === 'put');
    assert.ok(puts.length >= 1);
    assert.is(new Set(puts.map((p) => p.args.opId)).size, 1, `every try carried the same op id: ${JSON.stringify(puts.map((p) => [p.server, p.args.opId, (p.args.patch as { ops: unknown[] }).ops]))}`);
    t.press('tab');
    await t.waitFor('a server answers again');
    t.press('1');
    for (const s of cluster.serverList) cluster.down.add(s);
    await t.waitFor('no server answers · read-only');
    t.press('a');
    await t.waitFor('cannot add a contact: no server answers');
    assert.match(t.text(), /Ada Lovelace/, 'the last data stays on screen');
  });
});

test('a server without subscriptions is polled instead, and says so', async () => {
  const cluster = new FakeCluster();
  cluster.refuseNext = { op: 'subscribe', code: 'unknown-op', message: 'unknown op "subscribe"', issues: [] };
  await withApp({ cluster }, async (t) => {
    await t.waitFor('synced just now');
    await cluster.add('Barbara Liskov');
    await t.waitFor('Barbara Liskov');
    t.press('tab');
    await t.waitFor('does not push changes');
  });
});

test('a contact added elsewhere appears without a keypress', async () => {
  await withApp({}, async (t) => {
    await t.waitFor('no contacts yet');
    await t.cluster.add('Barbara Liskov');
    await t.waitFor('Barbara Liskov');
  });
});

test('too small a terminal says so; a resize redraws', async () => {
  await withApp({ cols: 50, rows: 10 }, async (t) => {
    await t.waitFor('The terminal is too small: 50x10');
    t.term.resize(100, 30);
    await t.waitFor('1 Contacts');
    assert.not.match(t.text(), /too small/);
    t.term.resize(40, 30);
    await t.waitFor('too small: 40x30');
  });
});

test('NO_COLOR: nothing is drawn in colour; the selection still shows (reverse video)', async () => {
  const cluster = new FakeCluster();
  await cluster.add('Ada Lovelace');
  await withApp({ cluster, env: { NO_COLOR: '1' } }, async (t) => {
    await t.waitFor('Ada Lovelace');
    t.press('tab', 'tab');
    await t.waitFor('[1 Contacts]');
    const colours = t.term.written().match(/\x1b\[[0-9;]*m/g)?.filter((sgr) => /(^|\[|;)([34][0-7]|[34]8;5;\d+|9[0-7]|10[0-7])(;|m)/.test(sgr)) ?? [];
    assert.equal(colours, [], 'no colour escape sequences');
    assert.match(t.term.written(), /\x1b\[[0-9;]*7[;m]/, 'reverse video marks the selection');
  });
  await withApp({ cluster, env: {} }, async (t) => {
    await t.waitFor('Ada Lovelace');
    assert.match(t.term.written(), /\x1b\[[0-9;]*(3[0-7]|4[0-7])[;m]/, 'colours are used without NO_COLOR');
  });
});

test('mouse: a click selects a row, a second click opens it, the wheel moves', async () => {
  const cluster = new FakeCluster();
  await seed(cluster, 10);
  await withApp({ cluster }, async (t) => {
    await t.waitFor('Contacts 10');
    const row = t.rows().findIndex((r) => r.includes('Person 003'));
    // SGR mouse reports, one per write as a terminal sends them: press, then release.
    const click = (x: number, y: number) => {
      t.term.input.write(`\x1b[<0;${x + 1};${y + 1}M`);
      t.term.input.write(`\x1b[<0;${x + 1};${y + 1}m`);
    };
    click(5, row);
    await t.waitFor(() => detailsName(t) === 'Person 003');
    t.term.input.write('\x1b[<65;5;5M');
    await t.waitFor(() => detailsName(t) === 'Person 006');
    t.term.input.write('\x1b[<64;5;5M');
    await t.waitFor(() => detailsName(t) === 'Person 003');
    click(5, row);
    await t.waitFor(/Id\s+01J/);
    t.press('escape');
    const tab = t.rows()[0]!.indexOf('2 Cluster');
    click(tab + 1, 0);
    await t.waitFor('Members: 3');
  });
});

test('? lists every key; q quits; with a changed form open, Ctrl-C asks first', async () => {
  await withApp({}, async (t) => {
    await t.waitFor('1 Contacts');
    t.press('?');
    await t.waitFor('this help');
    assert.match(t.text(), /Everywhere/);
    t.press('G');
    await t.waitFor('click "1 Contacts"');
    t.press('escape');
    t.press('a');
    t.type('Someone');
    t.press('C-c');
    await t.waitFor('Quit and lose the unsaved form? [y/N]');
    t.press('n');
    await t.waitFor(() => !t.text().includes('Quit and lose'));
    assert.is(t.quitCalls, 0);
    t.press('escape', 'y', 'q');
    await t.waitFor(() => t.quitCalls === 1 || false);
  }).catch((e) => {
    throw e;
  });
});

test.run();
