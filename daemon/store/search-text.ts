/**
 * What the full-text index holds for a contact, and how a user's search
 * becomes an FTS5 query that cannot be a syntax error.
 *
 * How this works: the indexed text comes from `view(state)`, the contact a
 * reader sees, so a search finds what the list shows (the winner of a
 * conflict, not a superseded value) and a deleted contact has no text at
 * all (its index row is removed). Five columns, weighted at query time:
 * names (formatted and structured parts), emails, phones (as typed, plus
 * the digits alone, so "15550100" finds "+1 555-0100"), organisation
 * (name, units and title) and the note. The tokenizer (schema.ts) is
 * unicode61 with remove_diacritics 2 and folds case, so "zoe" finds "Zoë";
 * letters that are not a base letter plus a mark (ø, ł, ß, æ…) are indexed
 * a second time in their usual ASCII spelling.
 *
 * A query is split on white space; each piece becomes a quoted FTS5 phrase
 * with the prefix star: `"ann@acme"*` is the phrase "ann acme" with its
 * last token a prefix, so what users type (emails, "555-01") works. Pieces
 * are ANDed. Inside quotes FTS5 treats every character as text except the
 * quote, which is doubled, so no input can reach the query syntax
 * (operators, column filters, NEAR, parentheses). Control characters become
 * spaces first: FTS5 stops reading the query at a NUL.
 */
import type { ContactState } from '../../protocol/contacts/state.ts';
import { view } from '../../protocol/contacts/view.ts';

/** The FTS5 columns, in order: the schema and the bm25 weights follow it. */
export const FTS_COLUMNS = ['name', 'email', 'phone', 'org', 'note'] as const;

/** bm25 weight per column (a name match ranks above a note match). */
export const FTS_WEIGHTS: Readonly<Record<(typeof FTS_COLUMNS)[number], number>> = { name: 10, email: 5, phone: 5, org: 3, note: 1 };

/** Longest search text taken, characters; the rest is ignored. */
export const SEARCH_CHARS_MAX = 256;
/** Most words a search matches on; further words are ignored. */
export const SEARCH_TERMS_MAX = 8;

/** The indexed text of a state, one string per FTS column; undefined when the contact is not live. */
export function ftsColumns(s: ContactState): string[] | undefined {
  const c = view(s);
  if (!c) return undefined;
  const n = c.name;
  const names = [c.formattedName, ...(n ? [n.prefixes, n.given, n.additional, n.family, n.suffixes] : [])];
  const phones = c.phones.flatMap((p) => {
    const digits = p.value.replace(/\D+/g, '');
    return digits === p.value ? [p.value] : [p.value, digits];
  });
  const org = [...(c.org ? [c.org.name, ...c.org.units] : []), c.title ?? ''];
  return [join(names), join(c.emails.map((e) => e.value)), join(phones), join(org), c.note ?? ''].map(withFolded);
}

function join(parts: readonly string[]): string {
  return parts.filter((p) => p !== '').join(' ');
}

/** Letters remove_diacritics leaves alone (they are letters of their own, not a base plus a mark), and what users type for them. */
const FOLDS: Readonly<Record<string, string>> = {
  ø: 'o', Ø: 'O', ł: 'l', Ł: 'L', đ: 'd', Đ: 'D', ð: 'd', Ð: 'D', ß: 'ss', æ: 'ae', Æ: 'AE', œ: 'oe', Œ: 'OE', þ: 'th', Þ: 'Th', ı: 'i',
};
// Every key is one UTF-16 unit: no need for the slower Unicode mode.
const FOLDABLE = new RegExp(`[${Object.keys(FOLDS).join('')}]`);
const FOLDABLE_ALL = new RegExp(FOLDABLE.source, 'g');

/** The text, plus its folded spelling when it differs, so "bjorn" finds "Bjørn" and "lukasz" finds "Łukasz". */
function withFolded(text: string): string {
  if (!FOLDABLE.test(text)) return text;
  return `${text} ${text.replace(FOLDABLE_ALL, (ch) => FOLDS[ch]!)}`;
}

/** The FTS5 MATCH expression for a user's search text; undefined when it has nothing to search for. */
export function ftsQuery(input: string): string | undefined {
  const pieces = input
    .slice(0, SEARCH_CHARS_MAX)
    // Control characters separate words: FTS5 reads a NUL as the end of the query (then the quote is unterminated).
    .replace(/\p{Cc}/gu, ' ')
    .split(/\s+/u)
    // A piece with no letter or digit would be an empty phrase: it matches nothing and means nothing.
    .filter((p) => /[\p{L}\p{N}]/u.test(p))
    .slice(0, SEARCH_TERMS_MAX);
  if (pieces.length === 0) return undefined;
  return pieces.map((p) => `"${p.replaceAll('"', '""')}"*`).join(' ');
}
