/**
 * Strict validation of what clients send: a new contact, a patch, a whole
 * write request with its read context.
 *
 * How this works: each check walks untrusted input (`unknown`, straight
 * from the decoder) and returns either the typed value or every problem
 * found (up to ISSUES_MAX), each naming the field path and the reason:
 * `phones[2].value: needs at least 2 digits`. Unknown keys are refused, not
 * dropped, so a client bug shows at once. Paths inside an update name the
 * field and entry uid (`phones[01J…].value`) because that is what the user
 * edited; structural problems name the op (`ops[1].field`). Limits live in
 * model.ts (LIMITS); per-value checks in validate-fields.ts.
 */
import { cloudAddRange, EMPTY_CLOUD, type DotCloud } from './dots.ts';
import { isContactId, isEntryUid, isOpId, type ContactId, type EntryUid } from './ids.ts';
import { DEL_KEY, LIMITS, LIST_FIELDS, LIVE_KEY, OP_KEY, SINGLE_FIELDS, type ContactInput, type ListField, type ListValues, type SingleField, type SingleValues } from './model.ts';
import type { FieldOp, Patch, WriteRequest } from './patch.ts';
import {
  checkAddress, checkArray, checkEach, checkEmail, checkExtraName, checkExtraValues, checkLabeled, checkObject, checkOrganization,
  checkPartialDate, checkPhone, checkPhoto, checkRecord, checkStructuredName, checkText, checkUrl, Issues, join, type FieldIssue,
} from './validate-fields.ts';
import { isNodeId, type NodeId } from '../types.ts';

export type { FieldIssue } from './validate-fields.ts';

/** A checked value, or why it was refused. */
export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly issues: readonly FieldIssue[] };

type Check<T> = (x: unknown, path: string, out: Issues) => T | undefined;

const SINGLE_CHECKS: { [F in SingleField]: Check<SingleValues[F]> } = {
  formattedName: (x, p, o) => checkText(x, p, o, LIMITS.formattedNameCharsMax, { required: true }),
  name: checkStructuredName,
  org: checkOrganization,
  title: (x, p, o) => checkText(x, p, o, LIMITS.titleCharsMax, { required: true }),
  birthday: checkPartialDate,
  note: (x, p, o) => checkText(x, p, o, LIMITS.noteCharsMax, { multiline: true, required: true }),
  photo: checkPhoto,
};

const LIST_CHECKS: { [F in ListField]: Check<ListValues[F]> } = {
  phones: (x, p, o) => checkLabeled(x, p, o, checkPhone),
  emails: (x, p, o) => checkLabeled(x, p, o, checkEmail),
  urls: (x, p, o) => checkLabeled(x, p, o, checkUrl),
  addresses: checkAddress,
  groups: (x, p, o) => {
    const g = checkObject(x, p, o, ['name']);
    const name = g && checkText(g.name, join(p, 'name'), o, LIMITS.groupNameCharsMax, { required: true });
    return name === undefined ? undefined : { name };
  },
};

/** Most entries a write may leave in each list field. */
export const LIST_MAX: { readonly [F in ListField]: number } = {
  phones: LIMITS.phonesMax,
  emails: LIMITS.emailsMax,
  addresses: LIMITS.addressesMax,
  urls: LIMITS.urlsMax,
  groups: LIMITS.groupsMax,
};

/** Most ranges a read context may carry: bounds the work one request can cause. */
export const READ_RANGES_MAX = 4096;

function result<T>(value: T | undefined, out: Issues): Checked<T> {
  if (value !== undefined && out.list.length === 0) return { ok: true, value };
  return refused(out);
}

function refused<T>(out: Issues): Checked<T> {
  if (out.list.length === 0) out.add('', 'is invalid');
  return { ok: false, issues: out.list };
}

/** One single-field value. */
export function checkSingleValue<F extends SingleField>(field: F, x: unknown, path: string, out: Issues): SingleValues[F] | undefined {
  return (SINGLE_CHECKS[field] as Check<SingleValues[F]>)(x, path, out);
}

/** One list entry's value (without its uid). */
export function checkListValue<F extends ListField>(field: F, x: unknown, path: string, out: Issues): ListValues[F] | undefined {
  return (LIST_CHECKS[field] as Check<ListValues[F]>)(x, path, out);
}

function checkContactId(x: unknown, path: string, out: Issues): ContactId | undefined {
  return isContactId(x) ? x : out.add(path, 'must be a ULID (26 upper-case characters) or a lower-case UUID');
}

function checkUid(x: unknown, path: string, out: Issues): EntryUid | undefined {
  return isEntryUid(x) ? x : out.add(path, 'must be 1 to 64 characters of A-Z a-z 0-9 . _ -');
}

function checkListItems<F extends ListField>(field: F, x: unknown, out: Issues): ({ uid: EntryUid } & ListValues[F])[] | undefined {
  if (x === undefined || x === null) return [];
  const seen = new Set<string>();
  return checkEach(x, field, out, LIST_MAX[field], (item, p) => {
    const o = checkRecord(item, p, out);
    if (!o) return undefined;
    const { uid: rawUid, ...rest } = o;
    const uid = checkUid(rawUid, join(p, 'uid'), out);
    if (uid !== undefined && seen.has(uid)) return out.add(join(p, 'uid'), 'appears twice in this list');
    if (uid !== undefined) seen.add(uid);
    const value = checkListValue(field, rest, p, out);
    return uid !== undefined && value !== undefined ? { uid, ...value } : undefined;
  });
}

function checkExtras(x: unknown, out: Issues): Record<string, string[]> | undefined {
  if (x === undefined || x === null) return {};
  const o = checkRecord(x, 'extra', out);
  if (!o) return undefined;
  const names = Object.keys(o);
  if (names.length > LIMITS.extrasMax) return out.add('extra', `more than ${LIMITS.extrasMax} properties`);
  const extra: Record<string, string[]> = {};
  for (const name of names) {
    const ok = checkExtraName(name, `extra.${name}`, out);
    const values = checkExtraValues(o[name], `extra.${name}`, out);
    if (ok !== undefined && values) extra[name] = values;
  }
  return Object.keys(extra).length === names.length ? extra : undefined;
}

const CONTACT_KEYS = ['id', ...SINGLE_FIELDS, ...LIST_FIELDS, 'extra'];

/** A new contact: id, formattedName, any other fields; lists and extra may be omitted (empty). */
export function checkContactInput(x: unknown, out: Issues = new Issues()): Checked<ContactInput> {
  const o = checkObject(x, '', out, CONTACT_KEYS, ['id', 'formattedName']);
  if (!o) return refused(out);
  const id = checkContactId(o.id, 'id', out);
  const contact: Record<string, unknown> = { id };
  for (const f of SINGLE_FIELDS) if (o[f] !== undefined && o[f] !== null) contact[f] = checkSingleValue(f, o[f], f, out);
  for (const f of LIST_FIELDS) contact[f] = checkListItems(f, o[f], out);
  contact.extra = checkExtras(o.extra, out);
  return result(out.list.length === 0 ? (contact as unknown as ContactInput) : undefined, out);
}

function checkSetOp(o: Record<string, unknown>, path: string, out: Issues): FieldOp | undefined {
  if (!checkObject(o, path, out, ['op', 'field', 'value'])) return undefined;
  const field = o.field as SingleField;
  if (!SINGLE_FIELDS.includes(field)) return out.add(join(path, 'field'), `must be one of ${SINGLE_FIELDS.join(', ')}`);
  if (o.value === null) return field === 'formattedName' ? out.add(field, 'cannot be cleared') : ({ op: 'set', field, value: null } as FieldOp);
  const value = checkSingleValue(field, o.value, field, out);
  return value === undefined ? undefined : ({ op: 'set', field, value } as FieldOp);
}

function checkListOp(o: Record<string, unknown>, path: string, out: Issues): FieldOp | undefined {
  const put = o.op === 'put';
  if (!checkObject(o, path, out, put ? ['op', 'field', 'uid', 'value'] : ['op', 'field', 'uid'])) return undefined;
  const field = o.field as ListField;
  if (!LIST_FIELDS.includes(field)) return out.add(join(path, 'field'), `must be one of ${LIST_FIELDS.join(', ')}`);
  const uid = checkUid(o.uid, join(path, 'uid'), out);
  if (uid === undefined) return undefined;
  if (!put) return { op: 'remove', field, uid };
  const value = checkListValue(field, o.value, `${field}[${uid}]`, out);
  return value === undefined ? undefined : ({ op: 'put', field, uid, value } as FieldOp);
}

function checkSetExtraOp(o: Record<string, unknown>, path: string, out: Issues): FieldOp | undefined {
  if (!checkObject(o, path, out, ['op', 'name', 'values'])) return undefined;
  const name = checkExtraName(o.name, join(path, 'name'), out);
  if (name === undefined) return undefined;
  if (o.values === null) return { op: 'setExtra', name, values: null };
  const values = checkExtraValues(o.values, `extra.${name}`, out);
  return values ? { op: 'setExtra', name, values } : undefined;
}

/** One field op of an update or resolve. */
export function checkFieldOp(x: unknown, path: string, out: Issues): FieldOp | undefined {
  const o = checkObject(x, path, out, ['op', 'field', 'uid', 'value', 'name', 'values'], ['op']);
  if (!o) return undefined;
  if (o.op === 'set') return checkSetOp(o, path, out);
  if (o.op === 'put' || o.op === 'remove') return checkListOp(o, path, out);
  if (o.op === 'setExtra') return checkSetExtraOp(o, path, out);
  return out.add(join(path, 'op'), 'must be set, put, remove or setExtra');
}

/** The register an op writes: two ops of one write may not touch the same one. */
export function opTarget(op: FieldOp): string {
  if (op.op === 'setExtra') return `x:${op.name}`;
  return op.op === 'set' ? op.field : `${op.field}[${op.uid}]`;
}

function checkOps(x: unknown, out: Issues): FieldOp[] | undefined {
  const ops = checkArray(x, 'ops', out, LIMITS.opsPerUpdateMax);
  if (!ops) return undefined;
  if (ops.length === 0) return out.add('ops', 'must hold at least one change');
  const checked = ops.map((op, i) => checkFieldOp(op, `ops[${i}]`, out));
  if (checked.some((op) => op === undefined)) return undefined;
  const targets = new Set<string>();
  for (const op of checked as FieldOp[]) {
    const t = opTarget(op);
    if (targets.has(t)) return out.add(t, 'is changed twice in one write');
    targets.add(t);
  }
  return checked as FieldOp[];
}

/** A patch: create, update, resolve or delete. */
export function checkPatch(x: unknown, out: Issues = new Issues()): Checked<Patch> {
  const o = checkObject(x, '', out, ['kind', 'contact', 'id', 'ops', 'op'], ['kind']);
  if (!o) return refused(out);
  if (o.kind === 'create') {
    if (!checkObject(o, '', out, ['kind', 'contact'])) return refused(out);
    const c = checkContactInput(o.contact, out);
    return result(c.ok ? ({ kind: 'create', contact: c.value } as Patch) : undefined, out);
  }
  const keys = o.kind === 'update' ? ['kind', 'id', 'ops'] : o.kind === 'resolve' ? ['kind', 'id', 'op'] : ['kind', 'id'];
  if (!['update', 'resolve', 'delete'].includes(o.kind as string)) {
    out.add('kind', 'must be create, update, resolve or delete');
    return refused(out);
  }
  if (!checkObject(o, '', out, keys)) return refused(out);
  const id = checkContactId(o.id, 'id', out);
  if (o.kind === 'delete') return result(id && ({ kind: 'delete', id } as Patch), out);
  if (o.kind === 'update') {
    const ops = checkOps(o.ops, out);
    return result(id && ops && ({ kind: 'update', id, ops } as Patch), out);
  }
  const op = checkFieldOp(o.op, 'op', out);
  return result(id && op && ({ kind: 'resolve', id, op } as Patch), out);
}

/** A read context: NodeId → ascending inclusive ranges [from, to, …]; canonicalised. */
export function checkReadContext(x: unknown, path: string, out: Issues): DotCloud | undefined {
  const o = checkRecord(x, path, out);
  if (!o) return undefined;
  let cloud: DotCloud = EMPTY_CLOUD;
  let count = 0;
  for (const [origin, ranges] of Object.entries(o)) {
    const p = join(path, origin);
    if (!isNodeId(origin)) return out.add(p, 'is not a node id (16 lower-case hex characters)');
    if (!Array.isArray(ranges) || ranges.length % 2 !== 0) return out.add(p, 'must be a list of [from, to] pairs');
    count += ranges.length / 2;
    if (count > READ_RANGES_MAX) return out.add(path, `more than ${READ_RANGES_MAX} ranges`);
    for (let i = 0; i < ranges.length; i += 2) {
      const [from, to] = [ranges[i], ranges[i + 1]];
      if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || (from as number) < 1 || (to as number) < (from as number)) {
        return out.add(`${p}[${i}]`, 'must be whole numbers 1 ≤ from ≤ to');
      }
      cloud = cloudAddRange(cloud, origin as NodeId, from as number, to as number);
    }
  }
  return cloud;
}

/**
 * Requests checkWriteRequest built: a write validated by the client service
 * is not validated again when it is applied. Each is a fresh object of the
 * check's own making, which nothing changes afterwards (a caller that did
 * would be our own bug: the check would not see its change).
 */
const CHECKED = new WeakSet<WriteRequest>();

/** A whole write request: op id, patch, optional read context. A request it returns passes it again without work. */
export function checkWriteRequest(x: unknown): Checked<WriteRequest> {
  if (CHECKED.has(x as WriteRequest)) return { ok: true, value: x as WriteRequest };
  const out = new Issues();
  const o = checkObject(x, '', out, ['opId', 'patch', 'read'], ['opId', 'patch']);
  if (!o) return refused(out);
  if (!isOpId(o.opId)) out.add('opId', 'must be 1 to 64 characters of A-Z a-z 0-9 . _ -');
  const patch = checkPatch(o.patch, out);
  const read = o.read === undefined ? undefined : checkReadContext(o.read, 'read', out);
  if (out.list.length > 0 || !patch.ok) return refused(out);
  const req: WriteRequest = { opId: o.opId as WriteRequest['opId'], patch: patch.value };
  if (read) req.read = read;
  CHECKED.add(req);
  return result(req, out);
}

/**
 * True when a replicated entry is one a node of this version could have
 * written: a known key, a uid of the form its key takes, and a value its
 * field's check accepts ('$op' records are read defensively by
 * history.ts, so any JSON object passes). A peer's state holding anything
 * else is malformed input, dropped and counted by replication: readers of
 * stored states (view.ts, the SQLite search index) rely on these shapes.
 */
export function isValidEntry(key: string, uid: string, value: unknown): boolean {
  if (key === LIVE_KEY || key === DEL_KEY) return uid === '' && value === true;
  if (key === OP_KEY) return isOpId(uid) && value !== null && typeof value === 'object' && !Array.isArray(value);
  const out = new Issues();
  let ok: unknown;
  if (key.startsWith('x:')) ok = uid === '' && checkExtraName(key.slice(2), key, out) !== undefined && checkExtraValues(value, key, out);
  else if ((SINGLE_FIELDS as readonly string[]).includes(key)) ok = uid === '' && checkSingleValue(key as SingleField, value, key, out);
  else if ((LIST_FIELDS as readonly string[]).includes(key)) ok = isEntryUid(uid) && checkListValue(key as ListField, value, key, out);
  return ok !== undefined && ok !== false && out.list.length === 0;
}
