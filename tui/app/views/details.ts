/**
 * A contact as lines of tagged text: the details pane on the right, and
 * the fuller card that Enter opens. Values are made safe (text.ts) and
 * their braces escaped before any colour is added.
 */
import type { Contact } from '../../../protocol/contacts/model.ts';
import type { Theme } from '../theme.ts';
import { paint } from '../theme.ts';
import { displayText, escapeTags, localTime, wrap } from '../text.ts';

const LABEL_COLS = 10;

/** Tells node ids apart by name where the member list knows them. */
export type NameOf = (nodeId: string) => string | undefined;

/** A node id as a person reads it: the member's name, else the first 8 hex digits. */
export function nodeLabel(nameOf: NameOf, id: string): string {
  return nameOf(id) ?? `node ${id.slice(0, 8)}`;
}

function labelled(theme: Theme, label: string, value: string, width: number): string[] {
  const lines = wrap(displayText(value), Math.max(8, width - LABEL_COLS - 1));
  return lines.map((l, i) => `${i === 0 ? paint(theme, 'cyan', label.padEnd(LABEL_COLS)) : ' '.repeat(LABEL_COLS)} ${escapeTags(l)}`);
}

/** Dot ranges [from, to, from, to…] as `1..3,5`. */
function rangesText(r: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i + 1 < r.length; i += 2) out.push(r[i] === r[i + 1] ? `${r[i]}` : `${r[i]}..${r[i + 1]}`);
  return out.join(',');
}

const typed = (v: { value: string; types: readonly string[]; pref: boolean }): string =>
  v.value + (v.types.length > 0 || v.pref ? ` (${[...v.types, ...(v.pref ? ['preferred'] : [])].join(', ')})` : '');

/** The lines of the details pane (`full`: the card, with ids and every field). */
export function detailLines(c: Contact, width: number, theme: Theme, nameOf: NameOf, full = false): string[] {
  const out: string[] = [];
  const add = (label: string, value: string | undefined) => {
    if (value) out.push(...labelled(theme, label, value, width));
  };
  out.push(theme.bold(escapeTags(displayText(c.formattedName))));
  if (c.name && full) add('Full name', [c.name.prefixes, c.name.given, c.name.additional, c.name.family, c.name.suffixes].filter(Boolean).join(' '));
  out.push('');
  for (const p of c.phones) add('Phone', typed(p));
  for (const e of c.emails) add('Email', typed(e));
  if (c.org) add('Org', [c.org.name, ...c.org.units].join(', '));
  add('Title', c.title);
  add('Birthday', c.birthday);
  for (const u of c.urls) add('Web', typed(u));
  for (const a of c.addresses) add('Address', [a.poBox, a.extended, a.street, a.locality, a.region, a.postalCode, a.country].filter(Boolean).join(', ') + (a.types.length ? ` (${a.types.join(', ')})` : ''));
  if (c.groups.length > 0) add('Groups', c.groups.map((g) => g.name).join(', '));
  add('Note', c.note);
  for (const [name, values] of Object.entries(c.extra)) add(name.slice(0, LABEL_COLS), values.join('; '));
  if (c.photo && full) add('Photo', `${c.photo.mediaType}, ${Math.round((c.photo.base64.length * 3) / 4)} bytes`);
  out.push('');
  if (c.conflicts.length > 0) {
    const fields = c.conflicts.map((f) => f.field + (f.uid ? ` (${f.uid.slice(-6)})` : '')).join(', ');
    out.push(...wrap(`! Conflicting edits: ${fields}. Press c to choose.`, width).map((l) => paint(theme, 'red', l)));
  }
  if (c.revived) out.push(...wrap('Deleted elsewhere while edited here: the edit won and the contact came back.', width).map((l) => paint(theme, 'yellow', l)));
  if (c.updated.wallMs > 0) add('Updated', localTime(c.updated.wallMs));
  if (full) {
    add('Id', c.id);
    const seen = Object.entries(c.seen).map(([node, ranges]) => `${nodeLabel(nameOf, node)} #${rangesText(ranges)}`).join('; ');
    add('Writes', seen);
  }
  return out;
}
