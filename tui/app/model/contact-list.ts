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
 * Filtering 100,000 contacts within a keystroke: an n-gram index over the
 * haystacks finds the rows holding each term, at a cost that follows the
 * matches, not the contacts (row-index.ts, search-index.ts). It is built
 * in small slices while the user does nothing (`indexSome`); rows changed
 * since are tested on their own. Until the first index is built, every row
 * is tested.
 *
 * A snapshot (a poll) is compared with what is held by each contact's
 * `seen` dots (any write changes them), so an unchanged book costs one
 * lookup and a few integer compares per contact. Single changes (a write
 * here, or pushed by a subscription) update `shown` in place. The cursor
 * stays on the same contact across updates when it can.
 */
import type { Contact } from '../../../protocol/contacts/model.ts';
import { fold, haystack, haystackMatches, prepareTerms, queryTerms, type PreparedTerm } from '../../../protocol/client/search.ts';
import { NOT_HELD, RowIndex } from './row-index.ts';

interface Row {
  c: Contact;
  key: string;
  hay: string | undefined;
  /** The snapshot that last listed it: rows the latest one did not list are gone. */
  gen: number;
  /** Its slot in the search index (row-index.ts). */
  ix: number;
}

/** What a snapshot changed. */
export interface ListDiff {
  added: Contact[];
  removed: Contact[];
  /** [before, after] */
  changed: [Contact, Contact][];
}

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
  private gen = 0;
  private readonly index = new RowIndex<Row>((r) => this.hayOf(r));
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
        const fresh: Row = { c, key: keyOf(c), hay: undefined, gen, ix: NOT_HELD };
        this.byId.set(c.id, fresh);
        this.index.added(fresh);
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
      if (key === row.key) {
        this.index.changed(row);
        continue;
      }
      // Renamed: out of its old place, into its new one (a new Row, so the two are told apart).
      out.add(row);
      this.index.removed(row);
      const moved: Row = { c, key, hay: undefined, gen, ix: NOT_HELD };
      this.byId.set(c.id, moved);
      this.index.added(moved);
      place.push(moved);
    }
    if (this.byId.size > listed) {
      for (const [id, row] of this.byId) {
        if (row.gen === gen) continue;
        this.byId.delete(id);
        diff.removed.push(row.c);
        out.add(row);
        this.index.removed(row);
      }
    }
    const order = place.length > 0 || out.size > 0;
    if (order) this.reorder(place, out);
    if (order || diff.changed.length > 0) this.refilter(keep);
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
      this.index.removed(row);
    }
    const next: Row = { c, key: keyOf(c), hay: undefined, gen: this.gen, ix: NOT_HELD };
    this.byId.set(c.id, next);
    this.index.added(next);
    this.all.splice(this.insertionPoint(this.all, next.key), 0, next);
    if (this.shown !== this.all && haystackMatches(this.hayOf(next), this.terms)) {
      this.shown.splice(this.insertionPoint(this.shown, next.key), 0, next);
    }
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
    this.index.removed(row);
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

  /**
   * Works up to `n` rows further on the search index, when it is missing or
   * enough rows have changed since it was built; false when there is
   * nothing (more) to do.
   */
  indexSome(n: number): boolean {
    return this.index.step(n, this.all);
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

  private refilter(keepId: string | undefined): void {
    this.shown = this.terms.length === 0 ? this.all : this.matching(undefined);
    this.keepCursorOn(keepId);
  }

  private keepCursorOn(id: string | undefined): void {
    if (id === undefined || !this.select(id)) this.moveTo(this.cursor);
  }

  /**
   * The rows holding every term, in `all` order: by the index when there is
   * one, else by testing every row. A query that extends the previous one
   * tests only the rows that one found, when they are few.
   */
  private matching(previous: readonly Row[] | undefined): Row[] {
    if (previous && previous.length <= this.all.length / 20) return previous.filter((r) => haystackMatches(this.hayOf(r), this.terms));
    return this.index.match(this.terms, this.all.length) ?? this.all.filter((r) => haystackMatches(this.hayOf(r), this.terms));
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
