/**
 * The simple search: a case- and diacritics-insensitive substring match over
 * a contact's names, emails, phones, organisation and note.
 *
 * How this works: text is folded (NFKD, combining marks dropped, lower
 * case), the query split on white space, and a contact matches when every
 * term occurs somewhere in its folded text. Phones are also indexed by their
 * digits alone, so "555 0100" finds "+1 (555) 010-0". A linear scan over the
 * in-memory store: fine for an address book of thousands; SQLite FTS comes
 * with the SQLite store.
 */
import type { Contact } from '../contacts/model.ts';

/** Longest query accepted, characters (a query is a few words). */
export const QUERY_CHARS_MAX = 256;

/** `s` without case or diacritics: "Émile Zoë" → "emile zoe". */
export function fold(s: string): string {
  return s.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
}

/** The folded terms of a query; empty when it has none. */
export function queryTerms(q: string): string[] {
  return fold(q).split(/\s+/).filter((t) => t.length > 0);
}

/** Everything search looks at in `c`, folded, one line per value. */
export function haystack(c: Contact): string {
  const parts: string[] = [c.formattedName];
  if (c.name) parts.push(c.name.given, c.name.family, c.name.additional, c.name.prefixes, c.name.suffixes);
  if (c.org) parts.push(c.org.name, ...c.org.units);
  if (c.note) parts.push(c.note);
  for (const e of c.emails) parts.push(e.value);
  for (const p of c.phones) parts.push(p.value, p.value.replace(/\D/g, ''));
  return fold(parts.join('\n'));
}

/** True when every term occurs in `c` (a query without terms matches nothing). */
export function matches(c: Contact, terms: readonly string[]): boolean {
  return haystackMatches(haystack(c), prepareTerms(terms));
}

/** A query term ready to test many haystacks: its text, and its digits when it looks like a phone number. */
export interface PreparedTerm {
  readonly text: string;
  readonly digits: string | undefined;
}

/** Terms (from `queryTerms`) prepared once for `haystackMatches`. */
export function prepareTerms(terms: readonly string[]): PreparedTerm[] {
  return terms.map((t) => ({ text: t, digits: /^[\d\s()+.-]+$/.test(t) && /\d/.test(t) ? t.replace(/\D/g, '') : undefined }));
}

/** `matches` on a haystack computed earlier (a client filtering many contacts keeps them). */
export function haystackMatches(text: string, terms: readonly PreparedTerm[]): boolean {
  if (terms.length === 0) return false;
  return terms.every((t) => text.includes(t.text) || (t.digits !== undefined && text.includes(t.digits)));
}
