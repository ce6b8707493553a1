/**
 * What a reader sees of a contact state: one value per single-valued field
 * (the winner by (hlc, origin) when writes conflicted, with every competing
 * value listed in `conflicts`), every entry of each list field, and whether
 * the contact is deleted or was revived by an edit concurrent with a delete.
 */
import type { NodeId } from '../types.ts';
import { type ContactId, type ContactState, DELETED_KEY, type Entry, LIVE_KEY } from './contact-state.ts';
import { compareStamp, type Hlc } from './hlc.ts';

export interface ConflictValue {
  value: unknown;
  origin: NodeId;
  /** Wall-clock ms of the write (from its HLC). */
  atMs: number;
}

export interface Conflict {
  key: string;
  /** For a list entry, its uid; '' for a single-valued field. */
  uid: string;
  /** Every competing value, the winner first. */
  values: ConflictValue[];
}

export interface ListItem {
  uid: string;
  value: unknown;
}

export interface ContactView {
  id: ContactId;
  /** Winner per single-valued field. */
  fields: Record<string, unknown>;
  /** Entries per list field, oldest first. */
  lists: Record<string, ListItem[]>;
  conflicts: Conflict[];
  deleted: boolean;
  /** Deleted somewhere while edited elsewhere: kept, and flagged for the user. */
  revived: boolean;
  /** The dots this view was read at: what a client sends back as `observed` with its next write. */
  observed: { origin: NodeId; seq: number }[];
  /** Latest write time seen in this contact. */
  updatedAtMs: number;
}

function byStampDesc(a: Entry, b: Entry): number {
  return -compareStamp(a.hlc, a.origin, b.hlc, b.origin);
}

/** The reader's view of `s`. Pure and deterministic: equal states give equal views. */
export function view(s: ContactState, listKeys: ReadonlySet<string>): ContactView {
  const groups = new Map<string, Entry[]>();
  let live = false;
  let deletedMark = false;
  let latest: Hlc = { t: 0, c: 0 };
  for (const e of s.entries) {
    if (e.hlc.t > latest.t) latest = e.hlc;
    if (e.key === LIVE_KEY) live = true;
    else if (e.key === DELETED_KEY) deletedMark = true;
    else {
      const k = `${e.key}\u0000${e.uid}`;
      let g = groups.get(k);
      if (!g) groups.set(k, (g = []));
      g.push(e);
    }
  }
  const fields: Record<string, unknown> = {};
  const lists: Record<string, ListItem[]> = {};
  const conflicts: Conflict[] = [];
  const listed: { key: string; item: ListItem; first: Entry }[] = [];
  for (const g of groups.values()) {
    g.sort(byStampDesc);
    const winner = g[0]!;
    if (g.length > 1) {
      conflicts.push({ key: winner.key, uid: winner.uid, values: g.map((e) => ({ value: e.value, origin: e.origin, atMs: e.hlc.t })) });
    }
    if (listKeys.has(winner.key)) listed.push({ key: winner.key, item: { uid: winner.uid, value: winner.value }, first: g[g.length - 1]! });
    else fields[winner.key] = winner.value;
  }
  listed.sort((a, b) => -byStampDesc(a.first, b.first) || (a.item.uid < b.item.uid ? -1 : 1));
  for (const { key, item } of listed) (lists[key] ??= []).push(item);
  conflicts.sort((a, b) => (a.key + a.uid < b.key + b.uid ? -1 : 1));
  return {
    id: s.id,
    fields,
    lists,
    conflicts,
    deleted: !live,
    revived: live && deletedMark,
    observed: s.entries.map((e) => ({ origin: e.origin, seq: e.seq })),
    updatedAtMs: latest.t,
  };
}
