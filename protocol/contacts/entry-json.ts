/**
 * The JSON text of an entry's value, as replication sends it (RepState
 * entries) and the SQLite store keeps it: printable ASCII, as
 * client/json.ts writes it.
 *
 * How this works: an entry never changes (a dot names one immutable
 * entry), so its text is a function of the entry object. A write's entries
 * are serialized three times in one turn of the node (the size check, the
 * delta pushed to the peers, the stored row), so the texts of the most
 * recent entries are kept, keyed by the entry object. Bounded in entries
 * and in characters (a photo's text is ~44 KB): past either bound the map
 * is emptied, which costs nothing but a recomputation. Only texts made
 * here are kept, never one a peer sent: ours are canonical, so the size a
 * write was checked at is the size its delta and its row have, whenever
 * they are made. Not a WeakMap: that would hold a second copy of every
 * value of every contact for as long as the contact is held.
 */
import { toAsciiJson } from '../client/json.ts';
import type { Entry } from './state.ts';

/** Entries whose text is kept (a putMany of 100 sample contacts has ~1,100). */
const RECENT_MAX = 8192;
/** Characters of text kept, at most (UTF-16 units; the texts are ASCII: bytes). */
const RECENT_CHARS_MAX = 4 * 1024 * 1024;

const recent = new Map<Entry, string>();
let recentChars = 0;

/** `toAsciiJson(e.value)`, computed once while `e` is recent. */
export function entryJson(e: Entry): string {
  let text = recent.get(e);
  if (text === undefined) {
    text = toAsciiJson(e.value);
    if (recent.size >= RECENT_MAX || recentChars + text.length > RECENT_CHARS_MAX) {
      recent.clear();
      recentChars = 0;
    }
    recent.set(e, text);
    recentChars += text.length;
  }
  return text;
}
