/**
 * The JSON text of an entry's value, as replication sends it (RepState
 * entries) and the SQLite store keeps it: printable ASCII, as
 * client/json.ts writes it.
 *
 * How this works: an entry never changes (a dot names one immutable
 * entry), so its text is a function of the entry object. A write's entries
 * are serialized three times in one turn of the node (the size check, the
 * delta pushed to the peers, the stored row), so the texts of the most
 * recent entries are kept, keyed by the entry object. An entry that arrived
 * from a peer keeps the text it came in when that is printable ASCII (it
 * is the JSON its value was parsed from), so a member that stores a peer's
 * write does not serialize it again. Bounded: the map is emptied when it
 * reaches RECENT_MAX, which costs nothing but a recomputation. Not a
 * WeakMap: that would hold a second copy of every value of every contact
 * for as long as the contact is held.
 */
import { toAsciiJson } from '../client/json.ts';
import type { Entry } from './state.ts';

/** Entries whose text is kept (a putMany of 100 sample contacts has ~1,100). */
export const RECENT_MAX = 8192;

const recent = new Map<Entry, string>();
const NOT_PRINTABLE_ASCII = /[^\x20-\x7e]/;

/** `toAsciiJson(e.value)`, computed once while `e` is recent. */
export function entryJson(e: Entry): string {
  let text = recent.get(e);
  if (text === undefined) {
    text = toAsciiJson(e.value);
    if (recent.size >= RECENT_MAX) recent.clear();
    recent.set(e, text);
  }
  return text;
}

/** Records `text`, the JSON `e.value` was parsed from, as its text if it is printable ASCII (as ours always is). */
export function keepEntryJson(e: Entry, text: string): void {
  if (NOT_PRINTABLE_ASCII.test(text)) return;
  if (recent.size >= RECENT_MAX) recent.clear();
  recent.set(e, text);
}
