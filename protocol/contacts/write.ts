/**
 * Applying a client's write at the node that takes it: validate, check the
 * contact exists (or not, for a create), turn the patch into a delta state,
 * and join it.
 *
 * How this works: each op removes the entries of its register (or list
 * entry) whose dots are in the client's read context and adds one new entry
 * per new value. Every entry the write adds gets its own dot, consecutive
 * seqs from `nextSeq`, and one HLC timestamp above the node's clock and
 * above every timestamp already in the contact (so it outranks what it
 * replaces). A create or edit also replaces the node's live tokens with a
 * fresh one and clears the revival flag the client saw; a delete replaces
 * the live tokens the client saw with a delete marker, so an edit the
 * client never saw keeps the contact alive (revived). The delta {added
 * entries; ctx = their dots ∪ the removed dots} is what peers receive; the
 * new state is join(current, delta).
 *
 * Idempotency and history: the write also adds an '$op' entry (uid = op
 * id, dot and HLC = the node and time that took it, value = the dots it
 * used, its kind and the fields it touched: `OpRecord`) and, as any write
 * does, prunes the '$op' entries beyond the newest OPS_REMEMBERED. The
 * record thus lives in the contact itself and replicates with it, so a
 * retry that reaches any server that has the first attempt is answered with
 * the first result, and any server can tell a contact's recent history
 * (history.ts); a retry that outruns the first attempt to another server
 * writes the same values again, which merge without a conflict because
 * equal values are one value to a reader.
 *
 * Writes to a deleted contact are refused ('deleted'): otherwise a client
 * holding an old read could revive a contact at any time, and no tombstone
 * could ever be collected (see gc.ts). Concurrent edit-vs-delete still
 * happens between servers, and the edit wins.
 */
import { cloudHas, vvCovers, type DotCloud, type DotRange, type VersionVector } from './dots.ts';
import { HLC_ZERO, hlcCompare, hlcMax, hlcNext, type Hlc } from './hlc.ts';
import { DEL_KEY, LIMITS, LIST_FIELDS, LIVE_KEY, OP_KEY, SINGLE_FIELDS, type ContactInput, type FieldKey } from './model.ts';
import { patchContactId, type FieldOp, type Patch } from './patch.ts';
import { compact, emptyState, entriesOf, isLive, isTombstone, join, makeDelta, type ContactState, type Entry } from './state.ts';
import { checkWriteRequest, LIST_MAX, type FieldIssue } from './validate.ts';
import type { WriteRequest } from './patch.ts';
import { ProtocolUsageError, type NodeId } from '../types.ts';

/**
 * Op records each contact keeps (newest by HLC): its history, and the op
 * ids a retry is recognised by (older retries are applied again). About
 * 110 bytes each in a replicated state, so at most ~5.5 KB per contact.
 */
export const OPS_REMEMBERED = 50;

/** What a write's '$op' entry holds (besides the op id, node and time its entry carries). */
export interface OpRecord {
  /** The dots this write used: `first`..`last` of the node that took it. */
  first: number;
  last: number;
  kind: Patch['kind'];
  /** The fields it set, changed or cleared (extra properties as 'extra'), sorted; empty for a delete. */
  fields: string[];
}

const MODEL_FIELDS = [...SINGLE_FIELDS, ...LIST_FIELDS];

/** The fields a patch touches, as OpRecord.fields lists them. */
export function patchFields(patch: Patch): string[] {
  const out = new Set<string>();
  const add = (op: FieldOp) => out.add(op.op === 'setExtra' ? 'extra' : op.field);
  if (patch.kind === 'create') {
    for (const f of MODEL_FIELDS) if (patch.contact[f] !== undefined && !(Array.isArray(patch.contact[f]) && (patch.contact[f] as unknown[]).length === 0)) out.add(f);
    if (Object.keys(patch.contact.extra ?? {}).length > 0) out.add('extra');
  } else if (patch.kind === 'update') patch.ops.forEach(add);
  else if (patch.kind === 'resolve') add(patch.op);
  return [...out].sort();
}

/** What the node taking the write supplies. */
export interface WriterEnv {
  node: NodeId;
  /** First seq this write may use: one above the highest dot this node ever issued. */
  nextSeq: number;
  /** The last HLC timestamp this node issued. */
  clock: Hlc;
  /** Physical time, ms. */
  nowMs: number;
  /** The node's stable vector, to compact the new state with (optional). */
  stable?: VersionVector;
  /** For a contact this node forgot lately (created again since or not): the store's forgottenFloor. */
  forgottenFloor?: VersionVector;
}

/** invalid: a field failed validation; not-found / deleted / exists: the contact's state forbids it; too-many: a list would pass its limit; too-large: the contact would not fit a replication packet. */
export type WriteErrorCode = 'invalid' | 'not-found' | 'deleted' | 'exists' | 'too-many' | 'too-large';

/** Why a write was refused. */
export interface WriteError {
  code: WriteErrorCode;
  /** Empty unless the code is 'invalid' or 'too-many'. */
  issues: readonly FieldIssue[];
  message: string;
}

/** The result of a write: applied (persist `state`, ship `delta`), an earlier attempt's result, or refused. */
export type WriteOutcome =
  | { kind: 'applied'; state: ContactState; delta: ContactState; dots: DotRange; clock: Hlc; nextSeq: number }
  | { kind: 'duplicate'; dots: DotRange }
  | { kind: 'rejected'; error: WriteError };

interface Draft {
  key: FieldKey;
  uid: string;
  value: unknown;
}

/** What a write will add and remove, before dots are assigned. */
class Plan {
  readonly added: Draft[] = [];
  readonly removed = new Map<string, Entry>();
  constructor(private readonly current: ContactState, private readonly read: DotCloud | undefined) {}

  /** Removes the entries of (key, uid) the client saw (`all`: every one this node holds). */
  remove(key: FieldKey, uid: string, all = false): void {
    for (const e of entriesOf(this.current, key, uid)) {
      if (all || !this.read || cloudHas(this.read, e.dot)) this.removed.set(`${e.dot.origin}:${e.dot.seq}`, e);
    }
  }

  add(key: FieldKey, uid: string, value: unknown): void {
    this.added.push({ key, uid, value });
  }

  /** Replaces what the client saw of (key, uid) with `value` (null: nothing). */
  replace(key: FieldKey, uid: string, value: unknown): void {
    this.remove(key, uid);
    if (value !== null) this.add(key, uid, value);
  }
}

function rejected(code: WriteErrorCode, message: string, issues: readonly FieldIssue[] = []): WriteOutcome {
  return { kind: 'rejected', error: { code, message, issues } };
}

function planCreate(plan: Plan, c: ContactInput): void {
  for (const f of SINGLE_FIELDS) if (c[f] !== undefined) plan.add(f, '', c[f]);
  for (const f of LIST_FIELDS) {
    for (const item of c[f] ?? []) {
      const { uid, ...value } = item;
      plan.add(f, uid, value);
    }
  }
  const extra = c.extra ?? {};
  for (const name of Object.keys(extra).sort()) plan.add(`x:${name}`, '', extra[name]);
}

function planOp(plan: Plan, op: FieldOp): void {
  if (op.op === 'set') plan.replace(op.field, '', op.value);
  else if (op.op === 'put') plan.replace(op.field, op.uid, op.value);
  else if (op.op === 'remove') plan.remove(op.field, op.uid);
  else plan.replace(`x:${op.name}`, '', op.values);
}

function planPatch(plan: Plan, patch: Patch): void {
  if (patch.kind === 'delete') {
    plan.remove(LIVE_KEY, '');
    plan.remove(DEL_KEY, '');
    plan.add(DEL_KEY, '', true);
    return;
  }
  if (patch.kind === 'create') planCreate(plan, patch.contact);
  else for (const op of patch.kind === 'update' ? patch.ops : [patch.op]) planOp(plan, op);
  // An edit keeps the contact alive whatever the client read, and clears the revival flag it showed.
  plan.remove(LIVE_KEY, '', true);
  plan.remove(DEL_KEY, '');
  plan.add(LIVE_KEY, '', true);
}

/** Forget all but the newest OPS_REMEMBERED - 1 op ids (the write adds its own). */
function pruneOps(plan: Plan, current: ContactState): void {
  const ops = entriesOf(current, OP_KEY).sort((a, b) => hlcCompare(b.hlc, a.hlc));
  for (const e of ops.slice(OPS_REMEMBERED - 1)) plan.remove(OP_KEY, e.uid, true);
}

function refusal(current: ContactState | undefined, patch: Patch): WriteOutcome | undefined {
  if (patch.kind === 'create') {
    return current && (isLive(current) || isTombstone(current)) ? rejected('exists', `contact ${patch.contact.id} already exists`) : undefined;
  }
  if (!current || !(isLive(current) || isTombstone(current))) return rejected('not-found', `no contact ${patch.id}`);
  return isLive(current) ? undefined : rejected('deleted', `contact ${patch.id} was deleted`);
}

const LIMITED: ReadonlyMap<string, number> = new Map<string, number>([...LIST_FIELDS.map((f): [string, number] => [f, LIST_MAX[f]]), ['extra', LIMITS.extrasMax]]);

/** The bounded collection an entry key belongs to: its list field, 'extra' for extra properties, else none. */
function limitedAs(key: FieldKey): string | undefined {
  return key.startsWith('x:') ? 'extra' : LIMITED.has(key) ? key : undefined;
}

/** Distinct list uids (or extra properties) the state holds in collection `of`. */
function sizeOf(s: ContactState, of: string): number {
  const seen = new Set<string>();
  for (const e of s.entries) if (limitedAs(e.key) === of) seen.add(of === 'extra' ? e.key : e.uid);
  return seen.size;
}

/**
 * A write may not grow a list (or the extras) past its limit; merges of
 * concurrent writes may. Only a collection the write adds to can grow, so
 * only those are counted.
 */
function overLimit(before: ContactState, after: ContactState, added: readonly Draft[]): FieldIssue[] {
  const grown = new Set<string>();
  for (const d of added) {
    const of = limitedAs(d.key);
    if (of !== undefined) grown.add(of);
  }
  const issues: FieldIssue[] = [];
  for (const [of, max] of LIMITED) {
    if (!grown.has(of)) continue;
    const now = sizeOf(after, of);
    if (now > max && now > sizeOf(before, of)) issues.push({ path: of, reason: `would hold more than ${max} entries` });
  }
  return issues;
}

function maxHlc(s: ContactState): Hlc {
  return s.entries.reduce((m, e) => hlcMax(m, e.hlc), HLC_ZERO);
}

/** Applies one client write to the contact's current state (undefined when this node has none). */
export function applyWrite(current: ContactState | undefined, req: WriteRequest, env: WriterEnv): WriteOutcome {
  const checked = checkWriteRequest(req);
  if (!checked.ok) return rejected('invalid', checked.issues.map((i) => `${i.path}: ${i.reason}`).join('; '), checked.issues);
  const { patch, read, opId } = checked.value;
  const id = patchContactId(patch);
  if (current && current.id !== id) throw new ProtocolUsageError(`write for ${id} applied to ${current.id}`);
  const done = current && entriesOf(current, OP_KEY, opId)[0];
  if (done) {
    const { first, last } = done.value as OpRecord;
    return { kind: 'duplicate', dots: { origin: done.dot.origin, first, last } };
  }
  const refused = refusal(current, patch);
  if (refused) return refused;

  // A contact forgotten here is, to a join, the absent state under the bound
  // of its old life (gc.ts). A write that creates it again starts from that,
  // and its deltas (this one and the next ones while the store remembers the
  // bound: the create's may come late) carry the bound as their floor, so a
  // member still holding the old tombstone drops the old life's entries
  // rather than merge them into the new one. Sound while the state holds no
  // entry under the bound (then delta ⊑ state): new dots are above anything
  // their node issued before, and joins refuse old entries under the floor.
  const base = current ?? emptyState(id, env.forgottenFloor);
  const oldLife = env.forgottenFloor;
  const floor = oldLife && !base.entries.some((e) => vvCovers(oldLife, e.dot)) ? oldLife : undefined;
  const plan = new Plan(base, read);
  planPatch(plan, patch);
  pruneOps(plan, base);
  const first = env.nextSeq;
  const last = first + plan.added.length; // the '$op' entry takes the last seq
  plan.add(OP_KEY, opId, { first, last, kind: patch.kind, fields: patchFields(patch) } satisfies OpRecord);
  const hlc = hlcNext(hlcMax(env.clock, maxHlc(base)), env.nowMs);
  const added: Entry[] = plan.added.map((d, k) => ({ key: d.key, uid: d.uid, value: d.value, dot: { origin: env.node, seq: first + k }, hlc }));
  const made = makeDelta(id, added, [...plan.removed.values()].map((e) => e.dot));
  const delta = floor ? { ...made, floor } : made;
  const joined = join(base, delta);
  const issues = overLimit(base, joined, plan.added);
  if (issues.length > 0) return rejected('too-many', issues.map((i) => `${i.path}: ${i.reason}`).join('; '), issues);
  const state = env.stable ? compact(joined, env.stable) : joined;
  return { kind: 'applied', state, delta, dots: { origin: env.node, first, last }, clock: hlc, nextSeq: last + 1 };
}
