/**
 * The contact list's search index, kept true while rows come, change and
 * go: the immutable SearchIndex of a snapshot of the rows, plus what
 * happened since.
 *
 * How this works. A row the index holds carries its slot (`ix`); the slot
 * stays valid (a bit in `valid`) until the row changes or leaves. Rows
 * added or changed since the build are `loose`: tested one by one on their
 * own haystacks. A query takes the index's rows (slot order is the list's
 * sort order at the build, and a valid row's key has not changed since),
 * drops the invalid ones with one AND over the bitset, and merges in the
 * loose rows that match: its cost follows the matches, and never touches a
 * row that does not match. Once enough rows have changed, `step` builds a
 * new index from the rows as they are, in slices, while the old one still
 * answers.
 */
import { haystackMatches, prepareTerms, type PreparedTerm } from '../../../protocol/client/search.ts';
import { SearchIndex, type SearchIndexBuilder } from './search-index.ts';

/** What the index needs of a row. */
export interface IndexedRow {
  /** Sort key: the rows are kept in its order. */
  readonly key: string;
  /** Its haystack, once computed; undefined after its contact changed. */
  hay: string | undefined;
  /** Its slot in the current index; NOT_HELD, or GONE once it left the list. */
  ix: number;
}

/** `ix` of a row the index does not hold. */
export const NOT_HELD = -1;
/** `ix` of a row that left the list (a contact that comes back gets a new row). */
const GONE = -2;

/** Changes past which the index is rebuilt (tested one by one, 1,000 loose rows cost about 0.1 ms a keystroke). */
const REBUILD_AFTER_MIN = 1000;

export class RowIndex<R extends IndexedRow> {
  private index: SearchIndex | undefined;
  /** Slot → row, for the current index. */
  private rows: R[] = [];
  /** Slots whose row is still as the index holds it. */
  private valid = new Int32Array(0);
  /** Rows in the list that the index does not hold. */
  private readonly loose = new Set<R>();
  private building: { builder: SearchIndexBuilder; rows: R[] } | undefined;
  /** Rows added, changed or removed since the index (being) built was begun. */
  private changes = 0;

  constructor(private readonly hayOf: (r: R) => string) {}

  /** A row entered the list (a new contact, or the new row of a renamed one). */
  added(r: R): void {
    r.ix = NOT_HELD;
    this.loose.add(r);
    this.changes++;
  }

  /** The contact of a row in the list changed (its haystack is reset). */
  changed(r: R): void {
    this.invalidate(r);
    r.ix = NOT_HELD;
    this.loose.add(r);
    this.changes++;
  }

  /** A row left the list. */
  removed(r: R): void {
    this.invalidate(r);
    r.ix = GONE;
    this.loose.delete(r);
    this.changes++;
  }

  /**
   * The rows of the list holding every term, in key order; undefined when
   * there is no index yet, or too much has changed since it was built for
   * it to help (then test every row).
   */
  match(terms: readonly PreparedTerm[], listed: number): R[] | undefined {
    if (!this.index || this.loose.size > Math.max(REBUILD_AFTER_MIN, listed / 8)) return undefined;
    const found = this.index.match(terms);
    for (let w = 0; w < found.length; w++) found[w]! &= this.valid[w]!;
    // Sized first: growing an array of 100,000 by push copies it a dozen times.
    let count = 0;
    for (let w = 0; w < found.length; w++) count += bitCount(found[w]!);
    const held = new Array<R>(count);
    let k = 0;
    for (let w = 0; w < found.length; w++) {
      // Lowest bit first: slots, and so rows, in order.
      for (let bits = found[w]!; bits !== 0; ) {
        const low = bits & -bits;
        bits ^= low;
        held[k++] = this.rows[(w << 5) + 31 - Math.clz32(low)]!;
      }
    }
    if (this.loose.size === 0) return held;
    const extra = [...this.loose].filter((r) => haystackMatches(this.hayOf(r), terms)).sort(byKey);
    if (extra.length > 16) return mergeByKey(held, extra);
    // A few: each into its place (splice moves the rest natively, fast even before the JIT has seen this).
    for (const r of extra) held.splice(lowerBound(held, r.key), 0, r);
    return held;
  }

  /**
   * Works up to `n` rows further on a new index, when there is none or
   * enough has changed since the last; `list` is the list in key order.
   * False when there is nothing (more) to do.
   */
  step(n: number, list: readonly R[]): boolean {
    if (!this.building) {
      if (list.length === 0 && !this.index) return false;
      if (this.index && this.changes <= Math.max(REBUILD_AFTER_MIN, list.length / 32)) return false;
      const rows = list.slice();
      this.building = { builder: SearchIndex.builder(rows.length, (i) => this.hayOf(rows[i]!)), rows };
      this.changes = 0;
    }
    const built = this.building.builder.step(n);
    if (!built) return true;
    this.install(built, this.building.rows);
    this.building = undefined;
    return false;
  }

  /** Makes `built` (of `rows`) the index: it holds each row that is as it was when read. */
  private install(built: SearchIndex, rows: R[]): void {
    const valid = new Int32Array((rows.length + 31) >>> 5);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      if (r.ix === GONE || r.hay !== built.hayAt(i)) {
        if (r.ix !== GONE) r.ix = NOT_HELD;
        continue;
      }
      r.ix = i;
      valid[i >>> 5]! |= 1 << (i & 31);
    }
    for (const r of this.loose) if (r.ix >= 0) this.loose.delete(r);
    this.index = built;
    this.rows = rows;
    this.valid = valid;
    this.warmUp(rows);
  }

  /**
   * Runs a few queries on the new index (one, two and three characters,
   * two terms), for nothing but V8: run cold, the first keystroke's loops
   * ran in the interpreter, 60–90 ms at 100,000 contacts against 5 ms warm.
   */
  private warmUp(rows: R[]): void {
    const sample = rows.length > 0 ? this.hayOf(rows[0]!).replace(/\s+/g, '') : '';
    if (sample.length < 3) return;
    const queries = [[sample.slice(0, 1)], [sample.slice(0, 2)], [sample.slice(0, 3)], [sample.slice(0, 2), sample.slice(1, 3)]];
    for (let round = 0; round < 2; round++) for (const q of queries) this.match(prepareTerms(q), rows.length);
  }

  private invalidate(r: R): void {
    if (r.ix >= 0) this.valid[r.ix >>> 5]! &= ~(1 << (r.ix & 31));
  }
}

function byKey(a: IndexedRow, b: IndexedRow): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/** Set bits in a 32-bit word. */
function bitCount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

/** The first position in `rows` (sorted by key) from `from` on whose key is not below `key`. */
function lowerBound(rows: readonly IndexedRow[], key: string, from = 0): number {
  let lo = from;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (rows[mid]!.key < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Two lists in key order, merged; `b` is the shorter (the loose rows), so
 * each of its rows finds its place by binary search and the runs of `a`
 * between are copied without comparing keys.
 */
function mergeByKey<R extends IndexedRow>(a: readonly R[], b: readonly R[]): R[] {
  const out = new Array<R>(a.length + b.length);
  let k = 0;
  let from = 0;
  for (const r of b) {
    const at = lowerBound(a, r.key, from);
    while (from < at) out[k++] = a[from++]!;
    out[k++] = r;
  }
  while (from < a.length) out[k++] = a[from++]!;
  return out;
}
