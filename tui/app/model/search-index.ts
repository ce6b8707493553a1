/**
 * An n-gram index over the contacts' search haystacks, so that a filter
 * keystroke at 100,000 contacts costs what its matches cost, not a scan of
 * every haystack (8 MB of text there: 4–27 ms a term on this machine, the
 * most for terms whose first letter is common, the first ones typed).
 *
 * How this works (the trigram index of Google Code Search, with pairs: a
 * filter's terms are short). For every character and every pair of
 * adjacent characters, the rows (haystacks, numbered by `slot`) that hold
 * it. A one-character term is its posting exactly; a two-character term
 * is its pair's; a longer term is the intersection of its pairs' postings,
 * then each candidate is checked with `includes`. A phone-like term also
 * matches by its digits (search.ts), so its rows are the union of both.
 * Whitespace never occurs in a term, so no gram holds it.
 *
 * A posting held by at least 1/32 of the rows is a bitset (n / 8 bytes),
 * a rarer one a sorted list of slots (4 bytes a row): no posting costs more
 * than n / 8 bytes. At 100,000 synthetic contacts (test/bench/tui.bench.ts):
 * 5.3 MB, built with 0.4–0.8 s of CPU (besides 0.4 s for the haystacks)
 * in slices while the user does nothing.
 *
 * The index is built from a snapshot (slots 0..n-1, one haystack each) and
 * is immutable after: row-index.ts keeps it true as contacts change.
 *
 * The build is one pass over the haystacks, in slices (`step`): each row
 * is added to the postings of its grams, a list that grows past 1/32 of
 * the rows turning into a bitset. Grams of ASCII characters are numbered
 * by arithmetic; the rest through a Map.
 */
import type { PreparedTerm } from '../../../protocol/client/search.ts';

/** Rows matching, as a bitset over slots. */
export type SlotSet = Int32Array;

/** Gram numbers: 0..127 one ASCII character, 128..16511 two; above, others (numbered by the Map). */
const ASCII_GRAMS = 128 + 128 * 128;

/** A posting: a bitset when dense, else sorted slots (one shape, so the loops over them stay monomorphic). */
interface Posting {
  count: number;
  dense: Int32Array | undefined;
  sparse: Int32Array | undefined;
}

/** True for what `\s` matches (queryTerms splits on it, so no term holds one). */
function isSpace(c: number): boolean {
  if (c < 0xa0) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/** Numbers for grams: arithmetic for ASCII ones, a Map for the rest (assigned while counting). */
class GramNumbers {
  private readonly other = new Map<number, number>();

  /** A gram's number (`b` < 0: the single character `a`); undefined for one never assigned. */
  of(a: number, b: number, assign = false): number | undefined {
    if (a < 128 && b < 128) return b < 0 ? a : 128 + a * 128 + b;
    const key = b < 0 ? a : 0x10000 + a * 0x10000 + b; // one character, or two: never the same key
    let n = this.other.get(key);
    if (n === undefined && assign) this.other.set(key, (n = ASCII_GRAMS + this.other.size));
    return n;
  }
}

/** Terms whose rows a SearchIndex keeps (12.5 KB each at 100,000 rows): typing a second word, or a backspace, asks for them again. */
const RECENT_TERMS = 8;

/** Built by `SearchIndex.builder`; see the file comment. */
export class SearchIndex {
  /** Rows in it. */
  readonly size: number;
  private readonly words: number;
  /** The rows of the last few needles asked for, most recent last (the index never changes). */
  private readonly recent = new Map<string, SlotSet>();

  constructor(private readonly hays: readonly string[], private readonly numbers: GramNumbers, private readonly postings: readonly (Posting | undefined)[]) {
    this.size = hays.length;
    this.words = (hays.length + 31) >>> 5;
  }

  /**
   * Starts building the index of `count` haystacks (slot i holds
   * `hayAt(i)`, asked for once, in the first pass); call `step` until it
   * returns the index.
   */
  static builder(count: number, hayAt: (slot: number) => string): SearchIndexBuilder {
    return new SearchIndexBuilder(count, hayAt);
  }

  /** The haystack the index holds for `slot`. */
  hayAt(slot: number): string | undefined {
    return this.hays[slot];
  }

  /** The rows holding every term (each by its text or, if it has them, its digits). */
  match(terms: readonly PreparedTerm[]): SlotSet {
    let out: SlotSet | undefined;
    for (const t of terms) {
      const rows = this.remembered(t.text).slice();
      if (t.digits !== undefined && t.digits !== t.text) orInto(rows, this.remembered(t.digits));
      if (out) andInto(out, rows);
      else out = rows;
    }
    return out ?? new Int32Array(this.words);
  }

  /** `rowsHolding(needle)`, from the last few when it is one of them (do not change what it returns). */
  private remembered(needle: string): SlotSet {
    let rows = this.recent.get(needle);
    if (rows) this.recent.delete(needle);
    else rows = this.rowsHolding(needle);
    this.recent.set(needle, rows);
    if (this.recent.size > RECENT_TERMS) this.recent.delete(this.recent.keys().next().value!);
    return rows;
  }

  /** The rows whose haystack holds `needle` (no whitespace in it). */
  private rowsHolding(needle: string): SlotSet {
    const out = new Int32Array(this.words);
    if (needle.length === 0) {
      // Every haystack holds '' (queryTerms never makes one; `includes` would say so).
      for (let slot = 0; slot < this.size; slot++) out[slot >>> 5]! |= 1 << (slot & 31);
      return out;
    }
    const grams: Posting[] = [];
    for (const [a, b] of gramsOf(needle)) {
      const n = this.numbers.of(a, b);
      const p = n === undefined ? undefined : this.postings[n];
      if (!p) return out; // a gram no row holds
      if (!grams.includes(p)) grams.push(p);
    }
    if (grams.length === 0) return out;
    grams.sort((a, b) => a.count - b.count);
    const check = needle.length > 2;
    const first = grams[0]!;
    if (first.sparse) {
      // Walk the rarest list, testing the others (sorted lists by binary search).
      for (const slot of first.sparse) {
        if (!grams.every((g, i) => i === 0 || holds(g, slot))) continue;
        if (check && !this.hays[slot]!.includes(needle)) continue;
        out[slot >>> 5]! |= 1 << (slot & 31);
      }
      return out;
    }
    // All dense: intersect word by word, then check the candidates.
    out.set(first.dense!);
    for (let i = 1; i < grams.length; i++) andInto(out, grams[i]!.dense!);
    if (check) {
      for (let w = 0; w < out.length; w++) {
        let bits = out[w]!;
        while (bits !== 0) {
          const b = 31 - Math.clz32(bits);
          bits &= ~(1 << b);
          if (!this.hays[(w << 5) + b]!.includes(needle)) out[w]! &= ~(1 << b);
        }
      }
    }
    return out;
  }
}

/** Builds a SearchIndex in slices (see the file comment). */
export class SearchIndexBuilder {
  private row = 0;
  private readonly numbers = new GramNumbers();
  /** Filled to its size: an array written far past its end turns into a slow dictionary. */
  private readonly postings: (Posting | undefined)[] = new Array<Posting | undefined>(ASCII_GRAMS).fill(undefined);
  /** The last row that noted each gram, + 1 (0: none yet): a row counts once in a posting. */
  private last = new Int32Array(ASCII_GRAMS);
  private readonly hays: string[];
  private readonly words: number;
  private readonly denseMin: number;

  constructor(count: number, private readonly hayAt: (slot: number) => string) {
    this.hays = new Array<string>(count);
    this.words = (count + 31) >>> 5;
    this.denseMin = Math.max(1, Math.ceil(count / 32));
  }

  /** Works through up to `rows` haystacks; the index once it is whole, else undefined. */
  step(rows: number): SearchIndex | undefined {
    const end = Math.min(this.hays.length, this.row + rows);
    for (; this.row < end; this.row++) this.visit(this.row, (this.hays[this.row] = this.hayAt(this.row)));
    if (this.row < this.hays.length) return undefined;
    for (const p of this.postings) if (p?.sparse && p.sparse.length > p.count) p.sparse = p.sparse.slice(0, p.count);
    return new SearchIndex(this.hays, this.numbers, this.postings);
  }

  private visit(slot: number, hay: string): void {
    let prev = -1;
    for (let k = 0; k < hay.length; k++) {
      const c = hay.charCodeAt(k);
      if (isSpace(c)) {
        prev = -1;
        continue;
      }
      this.note(c < 128 ? c : this.numbers.of(c, -1, true)!, slot);
      if (prev >= 0) this.note(prev < 128 && c < 128 ? 128 + prev * 128 + c : this.numbers.of(prev, c, true)!, slot);
      prev = c;
    }
  }

  /** Adds `slot` to the posting of `gram`, once; a list that reaches `denseMin` becomes a bitset. */
  private note(gram: number, slot: number): void {
    if (gram >= this.last.length) this.grow(gram + 1);
    if (this.last[gram] === slot + 1) return;
    this.last[gram] = slot + 1;
    const p = (this.postings[gram] ??= { count: 0, dense: undefined, sparse: new Int32Array(4) });
    if (p.dense) {
      p.dense[slot >>> 5]! |= 1 << (slot & 31);
    } else if (p.count + 1 >= this.denseMin) {
      const dense = new Int32Array(this.words);
      for (let i = 0; i < p.count; i++) dense[p.sparse![i]! >>> 5]! |= 1 << (p.sparse![i]! & 31);
      dense[slot >>> 5]! |= 1 << (slot & 31);
      p.dense = dense;
      p.sparse = undefined;
    } else {
      if (p.count === p.sparse!.length) {
        const grown = new Int32Array(Math.min(this.denseMin, p.count * 2));
        grown.set(p.sparse!);
        p.sparse = grown;
      }
      p.sparse![p.count] = slot;
    }
    p.count++;
  }

  private grow(size: number): void {
    const grown = new Int32Array(Math.max(size, this.last.length * 2));
    grown.set(this.last);
    this.last = grown;
    while (this.postings.length < grown.length) this.postings.push(undefined);
  }
}

/** The grams that find `needle`: its one character, or its pairs of adjacent ones ([a, -1] or [a, b]). */
function gramsOf(needle: string): [number, number][] {
  if (needle.length === 1) return [[needle.charCodeAt(0), -1]];
  const out: [number, number][] = [];
  for (let k = 1; k < needle.length; k++) out.push([needle.charCodeAt(k - 1), needle.charCodeAt(k)]);
  return out;
}

/** True when posting `p` holds `slot`. */
function holds(p: Posting, slot: number): boolean {
  if (p.dense) return (p.dense[slot >>> 5]! & (1 << (slot & 31))) !== 0;
  const list = p.sparse!;
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]! < slot) lo = mid + 1;
    else hi = mid;
  }
  return list[lo] === slot;
}

function andInto(a: Int32Array, b: Int32Array): void {
  for (let i = 0; i < a.length; i++) a[i]! &= b[i]!;
}

function orInto(a: Int32Array, b: Int32Array): void {
  for (let i = 0; i < a.length; i++) a[i]! |= b[i]!;
}

/** True when `slot` is in `set`. */
export function hasSlot(set: SlotSet, slot: number): boolean {
  return (set[slot >>> 5]! & (1 << (slot & 31))) !== 0;
}
