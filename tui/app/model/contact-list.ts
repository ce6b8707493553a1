/**
 * The contacts as the list shows them: sorted by name, filtered by the
 * live query, with a cursor and a window, and no widget per contact.
 *
 * How this works. Each contact is a Row: the contact, its sort key (folded
 * name, then id) and, once needed, its search haystack (folded text, as
 * the server's search reads it: protocol/client/search.ts). `all` holds
 * every row in sort order; `shown` is `all`, or the rows matching the
 * query. The view asks for `window(height)`, the rows from `top`, and only
 * those are drawn: 100,000 contacts cost no more to draw than 20.
 *
 * Filtering 100,000 contacts within a keystroke: the haystacks are joined
 * into one corpus string (rows in `all` order, separated by a character no
 * query term holds), and each term is found with `indexOf` over the
 * corpus, jumping to the next row after a hit. The cost follows the
 * matches, not the contacts. Haystacks are built lazily, and ahead of time
 * in small slices while the user does nothing (`indexSome`).
 *
 * A snapshot (a poll) is compared with what is held by each contact's
 * `seen` dots (any write changes them), so an unchanged book costs one
 * lookup and a few integer compares per contact. Single changes (a write
 * here, or pushed by a subscription) update `shown` in place. The cursor
 * stays on the same contact across updates when it can.
 */
import type { Contact } from '../../../protocol/contacts/model.ts';
import { fold, haystack, haystackMatches, prepareTerms, queryTerms, type PreparedTerm } from '../../../protocol/client/search.ts';

interface Row {
  c: Contact;
  key: string;
  hay: string | undefined;
  /** The snapshot that last listed it: rows the latest one did not list are gone. */
  gen: number;
}

/** What a snapshot changed. */
export interface ListDiff {
  added: Contact[];
  removed: Contact[];
  /** [before, after] */
  changed: [Contact, Contact][];
}

/** Between haystacks in the corpus: a query term never holds it (the filter takes no control characters). */
const SEPARATOR = '\u0001';

/** True when two contacts show the same writes. Compared in place: a poll compares 100,000. */
function sameVersion(a: Contact, b: Contact): boolean {
  let origins = 0;
  for (const origin in a.seen) {
    const x = a.seen[origin]!;
    const y = b.seen[origin];
    if (!y || x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    origins++;
  }
  for (const _ in b.seen) origins--;
  return origins === 0;
}

const keyOf = (c: Contact): string => `${fold(c.formattedName)}\u0000${c.id}`;

export class ContactList {
  private readonly byId = new Map<string, Row>();
  private all: Row[] = [];
  /** `all` itself when there is no query (so single changes show at once). */
  private shown: Row[] = this.all;
  private terms: PreparedTerm[] = [];
  private queryText = '';
  private indexed = 0;
  private gen = 0;
  private corpus: { text: string; starts: Int32Array } | undefined;
  /** Index of the selected row in the shown rows. */
  cursor = 0;
  /** Index of the first row drawn. */
  top = 0;

  /** Contacts held. */
  get total(): number {
    return this.all.length;
  }

  /** Contacts the query lets through (all of them without a query). */
  get size(): number {
    return this.shown.length;
  }

  get query(): string {
    return this.queryText;
  }

  /** The contact at shown position `i`. */
  at(i: number): Contact | undefined {
    return this.shown[i]?.c;
  }

  get(id: string): Contact | undefined {
    return this.byId.get(id)?.c;
  }

  selected(): Contact | undefined {
    return this.shown[this.cursor]?.c;
  }

  /** Replaces every contact with `contacts` (a full read); says what changed. */
  replaceAll(contacts: readonly Contact[]): ListDiff {
    const keep = this.selected()?.id;
    const gen = ++this.gen;
    const diff: ListDiff = { added: [], removed: [], changed: [] };
    /** Rows to put in place (new, or renamed), and rows to take out (gone, or renamed: their old place). */
    const place: Row[] = [];
    const out = new Set<Row>();
    let listed = 0;
    for (const c of contacts) {
      const row = this.byId.get(c.id);
      if (!row) {
        const fresh: Row = { c, key: keyOf(c), hay: undefined, gen };
        this.byId.set(c.id, fresh);
        diff.added.push(c);
        place.push(fresh);
        listed++;
        continue;
      }
      if (row.gen === gen) continue; // listed twice in one read: the first stands
      row.gen = gen;
      listed++;
      if (sameVersion(row.c, c)) continue;
      diff.changed.push([row.c, c]);
      const key = keyOf(c);
      row.c = c;
      row.hay = undefined;
      if (key === row.key) continue;
      // Renamed: out of its old place, into its new one (a new Row, so the two are told apart).
      out.add(row);
      const moved: Row = { c, key, hay: undefined, gen };
      this.byId.set(c.id, moved);
      place.push(moved);
    }
    if (this.byId.size > listed) {
      for (const [id, row] of this.byId) {
        if (row.gen === gen) continue;
        this.byId.delete(id);
        diff.removed.push(row.c);
        out.add(row);
      }
    }
    const order = place.length > 0 || out.size > 0;
    if (order) this.reorder(place, out);
    if (order || diff.changed.length > 0) {
      this.contentChanged();
      this.refilter(keep);
    }
    return diff;
  }

  /** Adds or replaces one contact; true when anything changed. */
  upsert(c: Contact): boolean {
    const row = this.byId.get(c.id);
    if (row && sameVersion(row.c, c)) return false;
    const keep = this.selected()?.id;
    if (row) {
      this.all.splice(this.indexIn(this.all, row), 1);
      if (this.shown !== this.all) {
        const i = this.indexIn(this.shown, row);
        if (i >= 0) this.shown.splice(i, 1);
      }
    }
    const next: Row = { c, key: keyOf(c), hay: undefined, gen: this.gen };
    this.byId.set(c.id, next);
    this.all.splice(this.insertionPoint(this.all, next.key), 0, next);
    if (this.shown !== this.all && haystackMatches(this.hayOf(next), this.terms)) {
      this.shown.splice(this.insertionPoint(this.shown, next.key), 0, next);
    }
    this.contentChanged();
    this.keepCursorOn(keep);
    return true;
  }

  /** Removes one contact; what it was, if it was here. */
  remove(id: string): Contact | undefined {
    const row = this.byId.get(id);
    if (!row) return undefined;
    const keep = this.selected()?.id;
    this.byId.delete(id);
    this.all.splice(this.indexIn(this.all, row), 1);
    if (this.shown !== this.all) {
      const i = this.indexIn(this.shown, row);
      if (i >= 0) this.shown.splice(i, 1);
    }
    this.contentChanged();
    this.keepCursorOn(keep === id ? undefined : keep);
    return row.c;
  }

  /**
   * Filters by `q` (every word must occur, as the server's search has it).
   * A new query puts the cursor on the first match; clearing it ('') shows
   * every contact with the cursor still on the one that was selected.
   */
  setQuery(q: string): void {
    if (q === this.queryText) return;
    const keep = this.selected()?.id;
    // Every row the longer query matches, the shorter one matched too (terms only grow or are added).
    const previous = this.terms.length > 0 && q.startsWith(this.queryText) ? this.shown : undefined;
    this.queryText = q;
    this.terms = prepareTerms(queryTerms(q));
    if (this.terms.length === 0) return this.refilter(keep);
    this.shown = this.matching(previous);
    this.cursor = 0;
    this.top = 0;
  }

  /** Builds up to `n` haystacks (then the corpus) ahead of a search; false once all is built. */
  indexSome(n: number): boolean {
    const end = Math.min(this.all.length, this.indexed + n);
    for (; this.indexed < end; this.indexed++) this.hayOf(this.all[this.indexed]!);
    if (this.indexed < this.all.length) return true;
    this.corpusNow();
    return false;
  }

  /** Moves the cursor by `delta` rows (clamped). */
  moveBy(delta: number): void {
    this.moveTo(this.cursor + delta);
  }

  moveTo(i: number): void {
    this.cursor = Math.max(0, Math.min(this.shown.length - 1, i));
  }

  /** Puts the cursor on contact `id` if it is shown; true when it is. */
  select(id: string): boolean {
    const row = this.byId.get(id);
    const i = row ? this.indexIn(this.shown, row) : -1;
    if (i >= 0) this.cursor = i;
    return i >= 0;
  }

  /** Moves to the next contact (after the cursor, wrapping) that holds conflicts; false when none does. */
  nextConflict(): boolean {
    const n = this.shown.length;
    for (let k = 1; k <= n; k++) {
      const i = (this.cursor + k) % n;
      if (this.shown[i]!.c.conflicts.length > 0) {
        this.cursor = i;
        return true;
      }
    }
    return false;
  }

  /** Contacts holding conflicts, among all. */
  conflicted(): number {
    let n = 0;
    for (const r of this.all) if (r.c.conflicts.length > 0) n++;
    return n;
  }

  /** The rows to draw in `height` lines, scrolled so the cursor is among them. */
  window(height: number): { first: number; contacts: Contact[] } {
    if (this.cursor < this.top) this.top = this.cursor;
    if (this.cursor >= this.top + height) this.top = this.cursor - height + 1;
    this.top = Math.max(0, Math.min(this.top, this.shown.length - height));
    const rows = this.shown.slice(this.top, this.top + height);
    return { first: this.top, contacts: rows.map((r) => r.c) };
  }

  /**
   * Takes `out` rows out of `all` and puts `place` rows in: a few by binary
   * search (a poll that brings one new contact must not sort 100,000), many
   * by sorting everything once.
   */
  private reorder(place: Row[], out: Set<Row>): void {
    if (place.length + out.size > Math.max(64, this.all.length / 16)) {
      this.all = [...this.byId.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      return;
    }
    const all = out.size > 0 ? this.all.filter((r) => !out.has(r)) : this.all.slice();
    for (const row of place) all.splice(this.insertionPoint(all, row.key), 0, row);
    this.all = all;
  }

  private contentChanged(): void {
    this.corpus = undefined;
    this.indexed = 0;
  }

  private refilter(keepId: string | undefined): void {
    this.shown = this.terms.length === 0 ? this.all : this.matching(undefined);
    this.keepCursorOn(keepId);
  }

  private keepCursorOn(id: string | undefined): void {
    if (id === undefined || !this.select(id)) this.moveTo(this.cursor);
  }

  /**
   * The rows holding every term, in `all` order. The first term is found in
   * the corpus; the others are tested on the rows it found when those are
   * few, or found in the corpus too. A query that extends the previous one
   * tests only the rows that one found, when they are few.
   */
  private matching(previous: readonly Row[] | undefined): Row[] {
    const few = this.all.length / 20;
    if (previous && previous.length <= few) return previous.filter((r) => haystackMatches(this.hayOf(r), this.terms));
    const { text, starts } = this.corpusNow();
    let hits: Uint8Array | undefined;
    let count = 0;
    for (const term of this.terms) {
      if (hits && count <= few) {
        count = 0;
        for (let i = 0; i < hits.length; i++) {
          if (hits[i] === 1 && !haystackMatches(this.hayOf(this.all[i]!), [term])) hits[i] = 0;
          else count += hits[i]!;
        }
        continue;
      }
      const marks = new Uint8Array(this.all.length);
      markRows(text, starts, term.text, marks);
      if (term.digits !== undefined && term.digits !== term.text) markRows(text, starts, term.digits, marks);
      count = 0;
      if (hits) for (let i = 0; i < hits.length; i++) count += hits[i]! &= marks[i]!;
      else for (let i = 0; i < marks.length; i++) count += marks[i]!;
      hits = hits ?? marks;
    }
    const out: Row[] = [];
    for (let i = 0; i < hits!.length; i++) if (hits![i] === 1) out.push(this.all[i]!);
    return out;
  }

  private corpusNow(): { text: string; starts: Int32Array } {
    if (this.corpus) return this.corpus;
    const starts = new Int32Array(this.all.length);
    const parts: string[] = new Array(this.all.length);
    let at = 0;
    for (let i = 0; i < this.all.length; i++) {
      const hay = this.hayOf(this.all[i]!);
      starts[i] = at;
      parts[i] = hay;
      at += hay.length + 1;
    }
    this.corpus = { text: parts.join(SEPARATOR), starts };
    return this.corpus;
  }

  private hayOf(r: Row): string {
    return (r.hay ??= haystack(r.c));
  }

  /** Where a row with `key` goes in the sorted rows `rows`. */
  private insertionPoint(rows: readonly Row[], key: string): number {
    let lo = 0;
    let hi = rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (rows[mid]!.key < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The position of `row` in the sorted rows `rows`, or -1. */
  private indexIn(rows: readonly Row[], row: Row): number {
    const i = this.insertionPoint(rows, row.key);
    return rows[i] === row ? i : -1;
  }
}

/** Marks each row (by its start offset in `text`) that holds `needle`; one `indexOf` per hit row at most. */
function markRows(text: string, starts: Int32Array, needle: string, marks: Uint8Array): void {
  let row = 0;
  let at = text.indexOf(needle);
  while (at >= 0) {
    // Hits come in order: walk forward to the row that holds this one (at most n steps in all).
    while (row + 1 < starts.length && starts[row + 1]! <= at) row++;
    marks[row] = 1;
    if (row + 1 >= starts.length) return;
    at = text.indexOf(needle, starts[row + 1]!);
  }
}
