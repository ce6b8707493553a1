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

/** Bytes as a short human size. */
export function bytesText(n: number): string {
  return n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1024 ** 2).toFixed(1)} MB`;
}

/**
 * A server's counters for a person: the headline figures first (contacts,
 * traffic, bad input dropped by reason), then every counter by its dotted
 * path, as `--json` nests them.
 */
export function statsLines(s: Record<string, unknown>): string[] {
  const num = (path: string): number => {
    let x: unknown = s;
    for (const k of path.split('.')) x = x !== null && typeof x === 'object' ? (x as Record<string, unknown>)[k] : undefined;
    return typeof x === 'number' ? x : 0;
  };
  const bad = (s.badInput ?? { total: 0, byReason: {} }) as { total: number; byReason: Record<string, number> };
  const rows: string[][] = [
    ['contacts', String(num('contacts'))],
    ['datagrams in', `${num('node.datagramsIn')} (${bytesText(num('node.bytesIn'))})`],
    ['datagrams out', `${num('outbox.datagramsSent')} (${bytesText(num('outbox.bytesSent'))})`],
    ['client requests', `${num('client.requests')} (${num('client.errors')} answered with an error)`],
    ['subscriptions', `${num('subscriptions.active')} active, ${num('subscriptions.pushes')} pushes sent, ${num('subscriptions.pushesWithheld')} withheld`],
    ['bad input dropped', `${bad.total} (malformed, foreign or misdirected; counted, never acted on)`],
    ...Object.entries(bad.byReason).map(([reason, n]) => [`  ${clean(reason)}`, String(n)]),
  ];
  const lines: string[] = [];
  const walk = (prefix: string, x: unknown): void => {
    if (x !== null && typeof x === 'object') for (const [k, y] of Object.entries(x)) walk(prefix ? `${prefix}.${k}` : k, y);
    else lines.push(`  ${clean(prefix)} ${clean(x)}`);
  };
  const { badInput: _shown, ...rest } = s;
  walk('', rest);
  const width = Math.max(...rows.map((r) => r[0]!.length));
  return [...rows.map(([k, v]) => `${k!.padEnd(width)}  ${v}`), '', 'every counter (--json gives them nested):', ...lines];
}
