/**
 * How the `contacts` CLI shows things to a person (its --json output is the
 * objects themselves). One line per contact in lists, a block per contact
 * for `get`, aligned columns for members. Terminal safety: every value from
 * a server goes through `clean`, so a contact's name cannot carry escape
 * sequences to the user's terminal.
 */
import type { Contact, FieldConflict } from '../protocol/contacts/model.ts';

/** `s` without control characters (ESC and friends become U+FFFD). */
export function clean(s: unknown): string {
  return String(s).replace(/[\p{Cc}]/gu, (c) => (c === '\n' ? ' ' : '\uFFFD'));
}

/** One line: id, name, first phone, first email. */
export function contactLine(c: Contact): string {
  const cols = [c.id, clean(c.formattedName), clean(c.phones[0]?.value ?? ''), clean(c.emails[0]?.value ?? '')];
  return cols.filter((x, i) => i < 2 || x !== '').join('  ') + (c.conflicts.length > 0 ? '  (conflicts)' : '');
}

/** A value as one short line: text as is, objects as compact JSON. */
export function valueText(v: unknown): string {
  return clean(typeof v === 'string' ? v : JSON.stringify(v));
}

/** The field a conflict is about, as `resolve` takes it: `phones --uid U`, `name`. */
export function conflictTarget(f: FieldConflict): string {
  return f.uid ? `${f.field} --uid ${f.uid}` : f.field;
}

/** A contact's conflicts, numbered as `resolve --pick` counts them. */
export function conflictLines(c: Contact): string[] {
  const out = [`${c.id}  ${clean(c.formattedName)}`];
  for (const f of c.conflicts) {
    out.push(`  ${conflictTarget(f)}:`);
    f.values.forEach((v, i) => out.push(`    ${i + 1}) ${valueText(v.value)}   (from ${v.origin}${i === 0 ? ', shown now' : ''})`));
  }
  return out;
}

/** A contact as a block of `label: value` lines. */
export function contactBlock(c: Contact): string[] {
  const out = [`id: ${c.id}`, `name: ${clean(c.formattedName)}`];
  if (c.org) out.push(`org: ${clean([c.org.name, ...c.org.units].join(', '))}`);
  if (c.title) out.push(`title: ${clean(c.title)}`);
  for (const p of c.phones) out.push(`phone: ${clean(p.value)}${p.types.length ? ` (${clean(p.types.join(', '))})` : ''}`);
  for (const e of c.emails) out.push(`email: ${clean(e.value)}${e.types.length ? ` (${clean(e.types.join(', '))})` : ''}`);
  for (const u of c.urls) out.push(`url: ${clean(u.value)}`);
  if (c.birthday) out.push(`birthday: ${clean(c.birthday)}`);
  if (c.note) out.push(`note: ${clean(c.note)}`);
  if (c.revived) out.push('revived: deleted elsewhere while edited here; the edit won');
  if (c.conflicts.length > 0) out.push(`conflicts: ${c.conflicts.map(conflictTarget).join('; ')} (see: contacts conflicts)`);
  return out;
}

/** Rows as aligned columns under a header. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((x, i) => (i === r.length - 1 ? x : x.padEnd(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)];
}

/** Milliseconds as a short human duration. */
export function ago(ms: number | null): string {
  if (ms === null) return 'never';
  return ms < 1000 ? `${ms} ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 60_000)} min`;
}

/** What the `history` op answers (protocol/client/client-service.ts). */
export interface HistoryAnswer {
  id: string;
  deleted: boolean;
  entries: { opId: string; node: string; nodeName: string; atMs: number; kind: string; fields: string[] }[];
}

/** A contact's history, one write a line, oldest first: UTC time, node, kind, fields, op id. */
export function historyLines(h: HistoryAnswer): string[] {
  const rows = h.entries.map((e) => [
    new Date(e.atMs).toISOString().replace('T', ' ').replace('Z', ' UTC'),
    e.nodeName ? `${clean(e.nodeName)} (${clean(e.node)})` : clean(e.node),
    clean(e.kind),
    e.fields.length > 0 ? clean(e.fields.join(', ')) : '-',
    clean(e.opId),
  ]);
  const out = table(['WHEN', 'NODE', 'KIND', 'FIELDS', 'OP'], rows);
  if (h.deleted) out.push(`${h.id} is deleted; the history is kept until the deletion has reached every member`);
  return out;
}
