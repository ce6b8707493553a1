/**
 * Synthetic contacts for the store's tests, bench and crash-test child
 * (test/integration/store-writer.ts): realistic field sizes, names with
 * diacritics, and every searched field filled. The daemon does not use it.
 *
 * How this works: contact number `i` is built from small word lists, so a
 * test can predict what a search finds, and writes go through the core's
 * own commitWrite, so what is stored is exactly what a node would store.
 */
import { randomBytes } from 'node:crypto';
import { commitWrite } from '../../protocol/contacts/book.ts';
import { entryUid, opId, ulid, ULID_RANDOM_BYTES, type ContactId } from '../../protocol/contacts/ids.ts';
import type { ContactInput } from '../../protocol/contacts/model.ts';
import type { ContactStore } from '../../protocol/contacts/store.ts';
import type { WriteOutcome } from '../../protocol/contacts/write.ts';
import type { NodeId } from '../../protocol/types.ts';

const GIVEN = ['Zoë', 'Ann', 'José', 'Chloé', 'Bjørn', 'Mary', 'Łukasz', 'Noémie', 'Omar', 'Priya', 'Søren', 'Yuki'];
const FAMILY = ['Müller', 'Smith', 'García', 'Dvořák', 'Nguyễn', 'Okafor', 'Öztürk', 'Kowalski', 'Rossi', 'Tanaka'];
const ORGS = ['ACME', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Stark Industries'];

/** A fresh contact id: a ULID for the current time. */
export function newContactId(): ContactId {
  return ulid(Date.now(), randomBytes(ULID_RANDOM_BYTES));
}

/** Contact number `i` under `id`: name, structured name, org, title, two emails, two phones, a note. */
export function sampleContact(id: ContactId, i: number): ContactInput {
  const given = GIVEN[i % GIVEN.length]!;
  const family = FAMILY[Math.floor(i / GIVEN.length) % FAMILY.length]!;
  const org = ORGS[i % ORGS.length]!;
  const login = `${given}.${family}${i}`.normalize('NFD').replace(/[^A-Za-z0-9.]/g, '').toLowerCase();
  const label = (uid: string, value: string, types: string[]) => ({ uid: entryUid(uid), value, types, pref: false });
  return {
    id,
    formattedName: `${given} ${family}`,
    name: { family, given, additional: '', prefixes: '', suffixes: '' },
    org: { name: org, units: ['Sales'] },
    title: 'Account manager',
    emails: [label('e1', `${login}@${org.toLowerCase().replace(/\s/g, '')}.example`, ['work']), label('e2', `${login}@mail.example`, ['home'])],
    phones: [label('p1', `+1 555 ${String(i % 10_000).padStart(4, '0')}`, ['cell']), label('p2', `+44 20 7946 ${String(i % 1000).padStart(3, '0')}0`, ['work'])],
    note: `Met at the ${org} conference; prefers email. Customer number ${i}.`,
  };
}

/** Creates contact number `i` at `node` through commitWrite (journaled in `store`); throws if refused. */
export function writeSample(store: ContactStore, node: NodeId, id: ContactId, i: number, nowMs: number): Extract<WriteOutcome, { kind: 'applied' }> {
  const out = commitWrite(store, node, { opId: opId(`op-${id}`), patch: { kind: 'create', contact: sampleContact(id, i) } }, nowMs);
  if (out.kind !== 'applied') throw new Error(`sample write ${i} refused: ${JSON.stringify(out)}`);
  return out;
}
