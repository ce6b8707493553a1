/**
 * Writes to a contact, as delta states.
 *
 * A write names what it changes (field patches) and what the writer had
 * read (`observed`: the dots of the entries it saw; absent means "whatever
 * this replica holds now"). It removes only observed entries, so a value
 * written concurrently elsewhere survives as a conflict instead of being
 * silently lost, and it adds one entry per new value, each with its own dot
 * (seqs drawn from the node's counter). Every upsert also replaces the live
 * entries it observed with a fresh one; a delete replaces them with a 'del'
 * entry. The result is a delta joined into the local state and shipped to
 * peers as is.
 */
import type { NodeId } from '../types.ts';
import {
  type ContactId, type ContactState, DELETED_KEY, type Entry, LIVE_KEY, type StableVector, emptyState, join, NO_STABLE,
} from './contact-state.ts';
import { DotCloud } from './dots.ts';
import type { Hlc } from './hlc.ts';

export type FieldPatch =
  /** Single-valued field: replaces the observed values of `key` with `value`. */
  | { op: 'set'; key: string; value: unknown }
  /** Single-valued field: removes the observed values of `key`. */
  | { op: 'clear'; key: string }
  /** List field: adds an entry `uid` (a new uid; an existing one also keeps its other values). */
  | { op: 'add'; key: string; uid: string; value: unknown }
  /** List field: replaces the observed values of entry `uid`. */
  | { op: 'replace'; key: string; uid: string; value: unknown }
  /** List field: removes the observed values of entry `uid`. */
  | { op: 'remove'; key: string; uid: string };

export type WriteOp =
  | { kind: 'upsert'; patches: FieldPatch[]; observed?: readonly { origin: NodeId; seq: number }[] }
  | { kind: 'delete'; observed?: readonly { origin: NodeId; seq: number }[] };

export interface WriteContext {
  origin: NodeId;
  /** Draws this node's next write seq (the caller persists the counter). */
  nextSeq: () => number;
  hlc: Hlc;
  stable?: StableVector;
}

export interface WriteResult {
  state: ContactState;
  delta: ContactState;
  /** The seqs this write used, ascending. */
  seqs: number[];
}

/** Applies `op` to contact `id` (whose current state is `current`, if any). */
export function applyWrite(id: ContactId, current: ContactState | undefined, op: WriteOp, ctx: WriteContext): WriteResult {
  const base = current ?? emptyState(id);
  const seen = op.observed ? new Set(op.observed.map((d) => `${d.origin}:${d.seq}`)) : undefined;
  const observed = (e: Entry) => (seen ? seen.has(`${e.origin}:${e.seq}`) : true);
  const removed: Entry[] = [];
  const added: Entry[] = [];
  const seqs: number[] = [];
  const add = (key: string, uid: string, value: unknown) => {
    const seq = ctx.nextSeq();
    seqs.push(seq);
    added.push({ key, uid, value, origin: ctx.origin, seq, hlc: ctx.hlc });
  };
  const removeWhere = (pred: (e: Entry) => boolean) => {
    for (const e of base.entries) if (pred(e) && observed(e) && !removed.includes(e)) removed.push(e);
  };

  // Whatever else it does, a write supersedes the existence markers it saw.
  removeWhere((e) => e.key === LIVE_KEY || e.key === DELETED_KEY);
  if (op.kind === 'delete') {
    add(DELETED_KEY, '', true);
  } else {
    for (const p of op.patches) {
      if (p.op === 'set' || p.op === 'clear') removeWhere((e) => e.key === p.key && e.uid === '');
      if (p.op === 'replace' || p.op === 'remove') removeWhere((e) => e.key === p.key && e.uid === p.uid);
      if (p.op === 'set') add(p.key, '', p.value);
      if (p.op === 'add' || p.op === 'replace') add(p.key, p.uid, p.value);
    }
    add(LIVE_KEY, '', true);
  }

  const deltaCtx = new DotCloud();
  for (const e of [...added, ...removed]) deltaCtx.add(e.origin, e.seq);
  const delta: ContactState = { id, entries: added, ctx: deltaCtx };
  const stable = ctx.stable ?? NO_STABLE;
  return { state: join(base, delta, stable, NO_STABLE), delta, seqs };
}
