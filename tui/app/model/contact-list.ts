/**
 * The contacts as the list shows them: sorted by name, filtered by the
 * live query, with a cursor and a window, and no widget per contact.
 *
 * How this works. Each contact is a Row: the contact, its sort key (folded
 * name, then id), a version (its `seen` dots: any write changes them) and,
 * once needed, its search haystack (folded text, as the server's search
 * reads it). `all` holds every row in sort order; `shown` is `all` or the
 * rows matching the query. The view asks for `window(height)`: the rows
 * from `top`, and only those are drawn, so 100,000 contacts cost no more
 * to draw than 20. A query that extends the previous one filters the rows
 * already shown. Haystacks are built lazily, and ahead of time in small
 * slices (`indexSome`) while the user does nothing. The cursor stays on
 * the same contact across updates when it can.
 */
import type { Contact } from '../../../protocol/contacts/model.ts';
import { fold, haystack, haystackMatches, prepareTerms, queryTerms, type PreparedTerm } from '../../../protocol/client/search.ts';

interface Row {
  c: Contact;
  key: string;
  version: string;
  hay: string | undefined;
}

/** What a snapshot changed. */
export interface ListDiff {
  added: Contact[];
  removed: Contact[];
  /** [before, after] */
  changed: [Contact, Contact][];
}

const versionOf = (c: Contact): string => JSON.stringify(c.seen);
const keyOf = (c: Contact): string => `${fold(c.formattedName)}\u0000${c.id}`;
const byKey = (a: Row, b: Row): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

export class ContactList {
  private readonly byId = new Map<string, Row>();
  private all: Row[] = [];
  private shown: Row[] = [];
  private terms: PreparedTerm[] = [];
  private queryText = '';
  private indexed = 0;
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
    const diff: ListDiff = { added: [], removed: [], changed: [] };
    const seen = new Set<string>();
    let order = false;
    for (const c of contacts) {
      seen.add(c.id);
      const row = this.byId.get(c.id);
      if (!row) {
        this.byId.set(c.id, { c, key: keyOf(c), version: versionOf(c), hay: undefined });
        diff.added.push(c);
        order = true;
        continue;
      }
      const version = versionOf(c);
      if (version === row.version) continue;
      diff.changed.push([row.c, c]);
      const key = keyOf(c);
      if (key !== row.key) order = true;
      Object.assign(row, { c, key, version, hay: undefined });
    }
    if (this.byId.size > seen.size) {
      for (const [id, row] of this.byId) {
        if (!seen.has(id)) {
          this.byId.delete(id);
          diff.removed.push(row.c);
          order = true;
        }
      }
    }
    if (order) {
      this.all = [...this.byId.values()].sort(byKey);
      this.indexed = 0;
    }
    if (order || diff.changed.length > 0) this.refilter(keep);
    return diff;
  }

  /** Adds or replaces one contact; true when anything changed. */
  upsert(c: Contact): boolean {
    const keep = this.selected()?.id;
    const row = this.byId.get(c.id);
    const version = versionOf(c);
    if (row && row.version === version) return false;
    if (row) this.all.splice(this.indexOf(row), 1);
    const next: Row = { c, key: keyOf(c), version, hay: undefined };
    this.byId.set(c.id, next);
    this.all.splice(this.insertionPoint(next.key), 0, next);
    this.indexed = 0;
    this.refilter(keep);
    return true;
  }

  /** Removes one contact; what it was, if it was here. */
  remove(id: string): Contact | undefined {
    const row = this.byId.get(id);
    if (!row) return undefined;
    const keep = this.selected()?.id;
    this.byId.delete(id);
    this.all.splice(this.indexOf(row), 1);
    this.indexed = 0;
    this.refilter(keep === id ? undefined : keep);
    return row.c;
  }

  /**
   * Filters by `q` (every word must occur, as the server's search does).
   * A new query puts the cursor on the first match; clearing it ('') shows
   * every contact with the cursor still on the one that was selected.
   */
  setQuery(q: string): void {
    if (q === this.queryText) return;
    const keep = this.selected()?.id;
    const narrower = this.queryText !== '' && q.startsWith(this.queryText);
    this.queryText = q;
    this.terms = prepareTerms(queryTerms(q));
    if (q.trim() === '') return this.refilter(keep);
    this.refilter(undefined, narrower);
    this.cursor = 0;
    this.top = 0;
  }

  /** Builds up to `n` haystacks ahead of a search; false once all are built. */
  indexSome(n: number): boolean {
    const end = Math.min(this.all.length, this.indexed + n);
    for (; this.indexed < end; this.indexed++) this.hayOf(this.all[this.indexed]!);
    return this.indexed < this.all.length;
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
    const i = this.shown.findIndex((r) => r.c.id === id);
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

  private refilter(keepId: string | undefined, narrower = false): void {
    if (this.terms.length === 0) this.shown = this.all;
    else this.shown = (narrower ? this.shown : this.all).filter((r) => haystackMatches(this.hayOf(r), this.terms));
    if (keepId !== undefined) {
      const i = this.shown.findIndex((r) => r.c.id === keepId);
      if (i >= 0) this.cursor = i;
    }
    this.moveTo(this.cursor);
  }

  private hayOf(r: Row): string {
    return (r.hay ??= haystack(r.c));
  }

  private insertionPoint(key: string): number {
    let lo = 0;
    let hi = this.all.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.all[mid]!.key < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private indexOf(row: Row): number {
    const i = this.insertionPoint(row.key);
    return this.all[i] === row ? i : this.all.indexOf(row);
  }
}
