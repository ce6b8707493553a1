/**
 * One contact as a CRDT: a dot kernel (Almeida, Shoker, Baquero, "Delta
 * State Replicated Data Types", 2018) per contact, as Riak keeps a causal
 * context per key.
 *
 * How this works:
 * - The state is a set of *entries* — (key, uid, value, dot, hlc) — and a
 *   causal context `ctx`: every dot that ever touched this contact (above
 *   the stable vector, see below). Each entry has its own dot, so an entry
 *   is identified by its dot. Single-valued fields (name, org, …) are
 *   multi-value registers: the entries under one key with uid ''. List
 *   fields (phones, emails, …) are add-wins sets: entries under one key with
 *   distinct uids. Existence is an add-wins flag: entries under 'live'.
 *   A delete removes the live entries it observed and adds one 'del' entry.
 * - Join: keep an entry if both sides hold it, or if one side holds it and
 *   the other has not seen its dot. A write is a delta state (its new
 *   entries; ctx = their dots plus the dots of the entries it overwrote)
 *   joined like any other state, so a delta, a full state and a
 *   retransmission are one operation: commutative, associative, idempotent.
 * - Stability: a dot at or below the *stable vector* W (every member has
 *   applied it) is implied in every ctx. So explicit ctx dots ≤ W can be
 *   dropped, an entry ≤ W that one side lacks was removed there, and a
 *   contact whose dots are all ≤ W and that has no live entry is gone for
 *   good: its tombstone can be forgotten, and no node however long away can
 *   bring it back (its old entries are ≤ W and get rejected).
 */
import { createHash } from 'node:crypto';
import type { NodeId } from '../types.ts';
import { DotCloud, type DotCloudWire } from './dots.ts';
import type { Hlc } from './hlc.ts';

/** A contact id (a ULID). */
export type ContactId = string & { readonly __brand: 'ContactId' };

/** A stable vector: origin → every seq up to this is applied everywhere. */
export type StableVector = ReadonlyMap<NodeId, number>;

export const NO_STABLE: StableVector = new Map();

/** Keys with a meaning to the CRDT itself (not user fields). */
export const LIVE_KEY = 'live';
export const DELETED_KEY = 'del';

export interface Entry {
  readonly key: string;
  /** '' for single-valued fields; the list entry's id for list fields. */
  readonly uid: string;
  readonly value: unknown;
  readonly origin: NodeId;
  readonly seq: number;
  readonly hlc: Hlc;
}

export interface ContactState {
  readonly id: ContactId;
  readonly entries: readonly Entry[];
  readonly ctx: DotCloud;
}

/** Wire/storage form: plain data, the stable vector it was compacted under attached. */
export interface ContactStateWire {
  id: ContactId;
  entries: [key: string, uid: string, value: unknown, origin: NodeId, seq: number, t: number, c: number][];
  ctx: DotCloudWire;
  stable: [NodeId, number][];
}

/** An empty state: a contact nobody wrote yet. */
export function emptyState(id: ContactId): ContactState {
  return { id, entries: [], ctx: new DotCloud() };
}

function covered(ctx: DotCloud, stable: StableVector, origin: NodeId, seq: number): boolean {
  return seq <= (stable.get(origin) ?? 0) || ctx.has(origin, seq);
}

function entryKey(e: Entry): string {
  return `${e.origin}:${e.seq}`;
}

/**
 * Joins `remote` (compacted under `remoteStable`) into `local` (ours, under
 * `localStable`). Pure: returns a new state.
 */
export function join(local: ContactState, remote: ContactState, localStable: StableVector, remoteStable: StableVector): ContactState {
  const localIds = new Set(local.entries.map(entryKey));
  const remoteIds = new Set(remote.entries.map(entryKey));
  const entries: Entry[] = [];
  for (const e of local.entries) {
    if (remoteIds.has(entryKey(e)) || !covered(remote.ctx, remoteStable, e.origin, e.seq)) entries.push(e);
  }
  for (const e of remote.entries) {
    if (!localIds.has(entryKey(e)) && !covered(local.ctx, localStable, e.origin, e.seq)) entries.push(e);
  }
  const ctx = local.ctx.clone();
  ctx.merge(remote.ctx);
  ctx.dropBelow(localStable);
  entries.sort(compareEntries);
  return { id: local.id, entries, ctx };
}

/** Canonical entry order: by dot. Keeps equal states byte-identical. */
export function compareEntries(a: Entry, b: Entry): number {
  return a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : a.seq - b.seq;
}

/** True when no live entry remains: the contact is deleted (hidden). */
export function isDeleted(s: ContactState): boolean {
  return !s.entries.some((e) => e.key === LIVE_KEY);
}

/**
 * True when the state carries nothing any member could still need: no
 * live entry, and every dot it knows is stable. Such a tombstone can be
 * dropped from storage.
 */
export function isForgettable(s: ContactState, stable: StableVector): boolean {
  if (!isDeleted(s)) return false;
  for (const e of s.entries) if (!covered(new DotCloud(), stable, e.origin, e.seq)) return false;
  for (const o of s.ctx.origins()) if (s.ctx.max(o) > (stable.get(o) ?? 0)) return false;
  return true;
}

/** Every dot this state knows of (entries and ctx), as (origin, max seq) pairs: what catch-up indexes. */
export function maxSeqByOrigin(s: ContactState): Map<NodeId, number> {
  const out = new Map<NodeId, number>();
  for (const o of s.ctx.origins()) out.set(o, s.ctx.max(o));
  for (const e of s.entries) if (e.seq > (out.get(e.origin) ?? 0)) out.set(e.origin, e.seq);
  return out;
}

/**
 * The digest version of a contact: 64 bits of SHA-256 over its id and the
 * dots of its entries. Two replicas holding the same entries agree on it
 * however differently their contexts were compacted; undefined for a
 * state with no entries (it is not an item of the digest set).
 */
export function version(s: ContactState): bigint | undefined {
  if (s.entries.length === 0) return undefined;
  const h = createHash('sha256');
  h.update(s.id);
  for (const e of s.entries) h.update(`|${e.origin}:${e.seq}`);
  return h.digest().readBigUInt64LE(0);
}

export function toWire(s: ContactState, stable: StableVector): ContactStateWire {
  return {
    id: s.id,
    entries: s.entries.map((e) => [e.key, e.uid, e.value, e.origin, e.seq, e.hlc.t, e.hlc.c]),
    ctx: s.ctx.toWire(),
    stable: [...stable],
  };
}

export function fromWire(w: ContactStateWire): { state: ContactState; stable: StableVector } {
  const entries = w.entries.map(([key, uid, value, origin, seq, t, c]) => ({ key, uid, value, origin, seq, hlc: { t, c } }));
  entries.sort(compareEntries);
  return { state: { id: w.id, entries, ctx: DotCloud.fromWire(w.ctx) }, stable: new Map(w.stable) };
}
