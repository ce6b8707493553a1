/**
 * A contact's history: the writes that made it, as far back as the contact
 * remembers (write.ts: OPS_REMEMBERED op records, newest kept).
 *
 * How this works: every write leaves an '$op' entry in the contact's state:
 * its uid is the op id, its dot names the node that took the write, its HLC
 * says when, and its value (OpRecord) the kind of write and the fields it
 * touched. Those entries replicate with the contact, so every node holding
 * the contact tells the same history (once it has the same entries), and a
 * deleted contact keeps its history until its tombstone is collected.
 * Records are read defensively: a peer's value of another shape becomes a
 * record of kind 'unknown' rather than an error.
 */
import type { Hlc } from './hlc.ts';
import { compareStamped } from './hlc.ts';
import { OP_KEY } from './model.ts';
import { entriesOf, isLive, type ContactState } from './state.ts';
import type { NodeId } from '../types.ts';

/** One write, as history shows it. */
export interface HistoryEntry {
  opId: string;
  /** The node that took the write. */
  node: NodeId;
  /** When (the write's hybrid logical timestamp; `hlc.wallMs` is wall-clock ms). */
  hlc: Hlc;
  kind: 'create' | 'update' | 'resolve' | 'delete' | 'unknown';
  /** The fields it set, changed or cleared (extra properties as 'extra'). */
  fields: string[];
}

const KINDS = new Set(['create', 'update', 'resolve', 'delete']);

/** The writes remembered in `s`, oldest first (by HLC, then node), and whether the contact is deleted. */
export function history(s: ContactState): { deleted: boolean; entries: HistoryEntry[] } {
  const ops = entriesOf(s, OP_KEY).sort(compareStamped);
  const entries = ops.map((e): HistoryEntry => {
    const v = (e.value ?? {}) as { kind?: unknown; fields?: unknown };
    const kind = typeof v.kind === 'string' && KINDS.has(v.kind) ? (v.kind as HistoryEntry['kind']) : 'unknown';
    const fields = Array.isArray(v.fields) ? v.fields.filter((f): f is string => typeof f === 'string').slice(0, 64) : [];
    return { opId: e.uid, node: e.dot.origin, hlc: e.hlc, kind, fields };
  });
  return { deleted: !isLive(s), entries };
}
