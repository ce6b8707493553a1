/**
 * One page of contacts for list, search and conflicts, cut to fit a reply.
 *
 * How this works: states are read from the store in contact-id order after
 * the client's cursor, each shown (`view`) and offered to `pick`, which
 * returns what to send for it or undefined to skip it. The page ends when
 * the next item would take the JSON past `budgetChars`, when `limit` items
 * are in, or after `scanMax` states (bounding the work one datagram can ask
 * for, matches or not). The cursor is the last id looked at, so the next
 * page starts right after it and nothing is skipped or repeated.
 */
import type { ContactId } from '../contacts/ids.ts';
import type { Contact } from '../contacts/model.ts';
import type { ContactStore } from '../contacts/store.ts';
import { view } from '../contacts/view.ts';
import { toAsciiJson } from './json.ts';

/** Store states read per call to `store.page`. */
const BATCH = 256;

export interface PageOptions {
  after: ContactId | undefined;
  /** Most items in the page. */
  limit: number;
  /** Most JSON characters of the items together. */
  budgetChars: number;
  /** Most states looked at. */
  scanMax: number;
}

/** A page: its items, the id to resume after ('' when nothing was looked at), and whether more may follow. */
export interface Page {
  items: unknown[];
  cursor: string;
  more: boolean;
}

/** Builds one page of what `pick` makes of each live contact after `opts.after`. */
export function pageOf(store: ContactStore, opts: PageOptions, pick: (c: Contact) => unknown): Page {
  const items: unknown[] = [];
  let cursor = opts.after ?? '';
  let used = 2; // the array's brackets
  let scanned = 0;
  for (;;) {
    const batch = store.page((cursor || undefined) as ContactId | undefined, BATCH);
    if (batch.length === 0) return { items, cursor, more: false };
    for (const s of batch) {
      if (scanned >= opts.scanMax || items.length >= opts.limit) return { items, cursor, more: true };
      const c = view(s);
      const item = c === undefined ? undefined : pick(c);
      if (item !== undefined) {
        const chars = toAsciiJson(item).length + 1;
        // One item always goes in, however large, so a page never comes back empty for want of room.
        if (items.length > 0 && used + chars > opts.budgetChars) return { items, cursor, more: true };
        items.push(item);
        used += chars;
      }
      scanned++;
      cursor = s.id;
    }
  }
}
