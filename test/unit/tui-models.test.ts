/**
 * The TUI's models without a screen: the contact list (snapshots, single
 * changes, the filter matching exactly what the server's search matches,
 * the cursor), the cluster's event log, and the form's writes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import type { Contact } from '../../protocol/contacts/model.ts';
import { fold, matches, queryTerms } from '../../protocol/client/search.ts';
import { ContactList } from '../../tui/app/model/contact-list.ts';
import { ClusterState } from '../../tui/app/model/cluster-state.ts';
import { ContactForm } from '../../tui/app/model/contact-form.ts';
import { LineEditor } from '../../tui/app/model/line-editor.ts';
import { LinkedClient } from '../../tui/app/remote/link.ts';

/** The list's order: folded name, then id. */
const keyOrder = (c: Contact): string => `${fold(c.formattedName)}\u0000${c.id}`;

let seq = 0;
function contact(name: string, more: Record<string, unknown> = {}, dots = [1, 1]): Contact {
  const id = `01J${String(++seq).padStart(23, '0')}`;
  return {
    id, formattedName: name, phones: [], emails: [], addresses: [], urls: [], groups: [], extra: {},
    revived: false, conflicts: [], seen: { '00000000000000a1': dots }, updated: { wallMs: 1, logical: 0 }, ...more,
  } as unknown as Contact;
}

test('snapshots: sorted by folded name; added, changed (by dots) and removed reported; the cursor stays on its contact', () => {
  const list = new ContactList();
  const [zoe, ada, emile] = [contact('Zoë'), contact('ada'), contact('Émile')];
  let diff = list.replaceAll([zoe, ada, emile]);
  assert.equal([0, 1, 2].map((i) => list.at(i)!.formattedName), ['ada', 'Émile', 'Zoë']);
  assert.is(diff.added.length, 3);
  list.moveTo(1);
  const emile2 = { ...emile, formattedName: 'Emile B', seen: { '00000000000000a1': [1, 2] } };
  diff = list.replaceAll([{ ...zoe }, emile2]);
  assert.equal(diff.removed.map((c) => c.formattedName), ['ada']);
  assert.equal(diff.changed.map(([a, b]) => `${a.formattedName}>${b.formattedName}`), ['Émile>Emile B']);
  assert.is(diff.added.length, 0, 'an unchanged copy is not a change');
  assert.is(list.selected()!.formattedName, 'Emile B', 'the cursor followed its contact');
});

test('single changes keep the filtered view in order', () => {
  const empty = new ContactList();
  empty.upsert(contact('First'));
  assert.is(empty.selected()?.formattedName, 'First', 'a contact added to an empty list shows at once');
  const list = new ContactList();
  list.replaceAll([contact('Ada'), contact('Alan'), contact('Grace')]);
  list.setQuery('a');
  assert.is(list.size, 3);
  list.setQuery('al');
  assert.equal([list.at(0)!.formattedName], ['Alan']);
  list.upsert(contact('Albert'));
  list.upsert(contact('Bob'));
  assert.equal([0, 1].map((i) => list.at(i)!.formattedName), ['Albert', 'Alan'].sort());
  assert.is(list.size, 2);
  assert.is(list.total, 5);
  list.remove(list.at(0)!.id);
  assert.is(list.size, 1);
  list.setQuery('');
  assert.is(list.size, 4);
});

test('the filter matches exactly what the server\'s search matches', () => {
  const word = fc.constantFrom('ada', 'Zoë', 'ÉMILE', 'lovelace', 'x', '555', '0100', '+1', 'org', 'a.b', '(555)');
  const arbContact = fc.record({
    name: fc.array(word, { minLength: 1, maxLength: 3 }).map((w) => w.join(' ')),
    phone: fc.option(fc.constantFrom('+1 (555) 010-0', '555 0100', '+44 20'), { nil: undefined }),
    email: fc.option(fc.constantFrom('ada@example.org', 'zoe@x.org'), { nil: undefined }),
    note: fc.option(fc.array(word, { maxLength: 3 }).map((w) => w.join(' ')), { nil: undefined }),
  }, { noNullPrototype: true });
  fc.assert(fc.property(fc.array(arbContact, { maxLength: 30 }), fc.array(word, { minLength: 1, maxLength: 3 }), (specs, q) => {
    const contacts = specs.map((s) => contact(s.name, {
      phones: s.phone ? [{ uid: 'p', value: s.phone, types: [], pref: false }] : [],
      emails: s.email ? [{ uid: 'e', value: s.email, types: [], pref: false }] : [],
      ...(s.note ? { note: s.note } : {}),
    }));
    const list = new ContactList();
    list.replaceAll(contacts);
    const query = q.join(' ');
    list.setQuery(query);
    const shown = new Set(Array.from({ length: list.size }, (_, i) => list.at(i)!.id));
    const expected = new Set(contacts.filter((c) => matches(c, queryTerms(query))).map((c) => c.id));
    assert.equal([...shown].sort(), [...expected].sort(), `query ${JSON.stringify(query)}`);
  }), { numRuns: 300, seed: 11 });
});

test('the filter through the search index matches what the server\'s search matches, also after changes the index does not hold', () => {
  // Words that make both dense and sparse postings, pairs that span words, non-ASCII pairs and phone digits.
  const word = fc.constantFrom('ada', 'anna', 'Zoë', 'ÉMILE', '山田', '太郎', 'lovelace', 'x', 'aa', '555', '0100', '+1', 'org', 'a.b', '(555)', '😀');
  const name = fc.array(word, { minLength: 1, maxLength: 3 }).map((w) => w.join(' '));
  const arbContact = fc.record({
    name,
    phone: fc.option(fc.constantFrom('+1 (555) 010-0', '555 0100', '+44 20'), { nil: undefined }),
    email: fc.option(fc.constantFrom('ada@example.org', 'zoe@x.org'), { nil: undefined }),
  }, { noNullPrototype: true });
  const make = (s: { name: string; phone: string | undefined; email: string | undefined }, dots?: number[]) => contact(s.name, {
    phones: s.phone ? [{ uid: 'p', value: s.phone, types: [], pref: false }] : [],
    emails: s.email ? [{ uid: 'e', value: s.email, types: [], pref: false }] : [],
  }, dots);
  // A query term is a word or a piece of one (pieces of 1, 2 and more characters).
  const term = fc.tuple(word, fc.nat(), fc.nat()).map(([w, a, b]) => w.slice(Math.min(a % w.length, b % w.length), Math.max(a % w.length, b % w.length) + 1));
  const change = fc.oneof(
    fc.record({ kind: fc.constant('add' as const), spec: arbContact }, { noNullPrototype: true }),
    fc.record({ kind: fc.constant('edit' as const), at: fc.nat(), name, bySnapshot: fc.boolean() }, { noNullPrototype: true }),
    fc.record({ kind: fc.constant('remove' as const), at: fc.nat(), bySnapshot: fc.boolean() }, { noNullPrototype: true }),
  );
  // Changes land before, during and after the index is built: each is followed by a few slices of the build.
  const changes = fc.array(fc.tuple(change, fc.nat(3)), { maxLength: 8 });
  fc.assert(fc.property(fc.array(arbContact, { minLength: 1, maxLength: 80 }), fc.nat(5), changes, fc.array(term, { minLength: 1, maxLength: 3 }), (specs, slicesFirst, steps, q) => {
    const contacts = specs.map((s) => make(s));
    const list = new ContactList();
    list.replaceAll(contacts);
    for (let i = 0; i < slicesFirst; i++) list.indexSome(7);
    const held = [...contacts];
    let version = 1;
    for (const [ch, slices] of steps) {
      if (ch.kind === 'add') {
        const c = make(ch.spec);
        held.push(c);
        list.upsert(c);
      } else if (held.length > 0 && ch.kind === 'edit') {
        const i = ch.at % held.length;
        const c = { ...held[i]!, formattedName: ch.name, seen: { '00000000000000a1': [1, ++version] } };
        held[i] = c;
        if (ch.bySnapshot) list.replaceAll(held);
        else list.upsert(c);
      } else if (held.length > 0 && ch.kind === 'remove') {
        const [gone] = held.splice(ch.at % held.length, 1);
        if (ch.bySnapshot) list.replaceAll(held);
        else list.remove(gone!.id);
      }
      for (let i = 0; i < slices; i++) list.indexSome(7);
    }
    const query = q.join(' ');
    list.setQuery(query);
    const shown = Array.from({ length: list.size }, (_, i) => list.at(i)!.id);
    const expected = held.filter((c) => matches(c, queryTerms(query))).sort((a, b) => keyOrder(a) < keyOrder(b) ? -1 : 1).map((c) => c.id);
    assert.equal(shown, expected, `query ${JSON.stringify(query)}`);
  }), { numRuns: 300, seed: 12 });
});

test('the search index is rebuilt in slices once enough rows changed, and holds them again', () => {
  const list = new ContactList();
  const people = Array.from({ length: 3000 }, (_, i) => contact(`Person ${i}`));
  list.replaceAll(people);
  let slices = 0;
  while (list.indexSome(500)) slices++;
  assert.ok(slices >= 2, `built in ${slices + 1} slices`);
  assert.not.ok(list.indexSome(500), 'nothing to do when nothing changed');
  for (let i = 0; i < 999; i++) list.upsert(contact(`Added ${i}`));
  assert.not.ok(list.indexSome(500), 'a few changes are tested one by one, not reindexed');
  list.upsert(contact('Added 999'));
  list.upsert(contact('Added 1000'));
  assert.ok(list.indexSome(500), 'past the threshold the index is rebuilt');
  while (list.indexSome(500));
  list.setQuery('added 100');
  assert.equal(Array.from({ length: list.size }, (_, i) => list.at(i)!.formattedName), ['Added 100', 'Added 1000']);
});

test('the window scrolls with the cursor and never draws more rows than fit', () => {
  const list = new ContactList();
  list.replaceAll(Array.from({ length: 1000 }, (_, i) => contact(`P${String(i).padStart(4, '0')}`)));
  assert.is(list.window(10).contacts.length, 10);
  list.moveTo(999);
  const w = list.window(10);
  assert.is(w.first, 990);
  assert.is(w.contacts.at(-1)!.formattedName, 'P0999');
  list.moveBy(-995);
  assert.is(list.window(10).first, 4);
});

test('cluster state: joins, state changes and members no longer listed become events', () => {
  const cs = new ClusterState();
  const m = (id: string, state: 'alive' | 'suspect' | 'dead' | 'left') => ({ id, name: `n${id}`, address: `127.0.0.1:70${id}`, state, incarnation: 0, lastHeardMsAgo: 5 });
  assert.equal(cs.update([m('1', 'alive'), m('2', 'alive')], 1000).map((e) => e.kind), ['info']);
  assert.equal(cs.update([m('1', 'alive'), m('2', 'suspect'), m('3', 'alive')], 2000).map((e) => `${e.kind} ${e.text}`), [
    'suspect n2 (127.0.0.1:702) is suspected (was alive, incarnation 0)', 'join n3 (127.0.0.1:703) joined (alive)',
  ]);
  assert.equal(cs.update([m('1', 'alive'), m('3', 'left')], 3000).map((e) => e.kind), ['left', 'left']);
  assert.equal(cs.counts(), { alive: 1, suspect: 0, dead: 0, left: 1 });
  assert.is(cs.heardAgoMs(cs.members[0]!, 3500), 505);
  assert.is(cs.describe('127.0.0.1:701'), 'n1 (127.0.0.1:701)');
});

test('form: a create holds every field; an edit sends only changes; a retry of the same values keeps its op id', () => {
  const add = new ContactForm(undefined);
  add.editors[0]!.set('Ada Lovelace');
  add.editors[1]!.set('+44 20 7946 0000,  +1 555 0100 ,');
  add.editors[8]!.set('line one↵line two');
  const built = add.build();
  assert.is(built.kind, 'write');
  const w = (built as { write: { args: any } }).write;
  const c = w.args.patch.contact;
  assert.equal(c.phones.map((p: { value: string }) => p.value), ['+44 20 7946 0000', '+1 555 0100']);
  assert.ok(c.phones[0].uid < c.phones[1].uid, 'entry uids follow the typed order');
  assert.is(c.note, 'line one\nline two');
  assert.is((add.build() as { write: { args: any } }).write.args.opId, w.args.opId, 'same values, same op id');
  add.editors[0]!.set('Ada King');
  assert.is.not((add.build() as { write: { args: any } }).write.args.opId, w.args.opId, 'changed values, a new op id');

  const base = contact('Ada', { title: 'Countess', emails: [{ uid: 'e1', value: 'a@x.org', types: ['home'], pref: true }] });
  const edit = new ContactForm(base);
  assert.is(edit.build().kind, 'unchanged');
  edit.editors[2]!.set('b@x.org');
  edit.editors[4]!.set('');
  const ops = (edit.build() as { write: { args: any } }).write.args.patch.ops;
  assert.equal(ops, [
    { op: 'set', field: 'title', value: null },
    { op: 'put', field: 'emails', uid: 'e1', value: { value: 'b@x.org', types: ['home'], pref: true } },
  ]);
});

test('form: refusals land at their field, by list index (create) or by entry uid (update)', () => {
  const add = new ContactForm(undefined);
  add.editors[0]!.set('');
  add.editors[1]!.set('12, x');
  assert.is(add.build().kind, 'invalid');
  assert.is(add.errors.get('formattedName'), 'must not be empty');
  assert.is(add.errors.get('phones'), '"x" needs at least 2 digits');
  const base = contact('Ada', { phones: [{ uid: 'p1', value: '555 0100', types: [], pref: false }] });
  const edit = new ContactForm(base);
  edit.editors[1]!.set('555 0101');
  assert.is(edit.build().kind, 'write');
  edit.showIssues([{ path: 'phones[p1].value', reason: 'is taken' }, { path: 'ops[0].op', reason: 'odd' }, { path: 'read', reason: 'too old' }]);
  assert.is(edit.errors.get('phones'), '"555 0101" is taken; "555 0101" odd');
  assert.is(edit.message, 'read: too old');
});

test('link: moving and attached as requests fare; a late give-up on a server already left is old news', async () => {
  const answers: Record<string, string> = { a: 'A', b: 'B' };
  let next = 'a';
  const client = {
    serverList: ['A', 'B'], addServer: () => undefined, close: () => undefined,
    request: async () => ({ result: null, cursor: '', more: false, server: answers[next]! }),
  };
  const link = new LinkedClient(client);
  const seen: string[] = [];
  link.onChange((l) => seen.push(l.kind === 'attached' ? `attached ${l.server}` : l.kind === 'moving' ? `moving ${l.from}>${l.to}` : l.kind));
  await link.request('members');
  link.failover('A', 'B');
  next = 'b';
  await link.request('members');
  link.failover('A', 'B'); // a second request that was in flight at A gives up on it too
  link.unreachable(['A', 'B']);
  link.answered('B');
  assert.equal(seen, ['attached A', 'moving A>B', 'attached B', 'offline', 'attached B']);
});

test('line editor: insert, delete, move and kill as readline does, never splitting a surrogate pair', () => {
  const e = new LineEditor('a🎂b');
  e.left();
  e.left();
  assert.is(e.cursor, 1);
  e.deleteForward();
  assert.is(e.text, 'ab');
  e.insert('xy z');
  e.killWord();
  assert.is(e.text, 'axy b');
  e.home();
  e.killToEnd();
  assert.is(e.text, '');
});

test.run();
