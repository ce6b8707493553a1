/**
 * Writes as clients send them: field patches, the causal context the client
 * read, and an op id.
 *
 * How this works: a write names only what it changes. `set` replaces a
 * single field (null clears it), `put` adds or replaces one list entry by
 * uid, `remove` drops one, `setExtra` replaces (or clears) one extra
 * property. Each replaces only the values whose dots are in `read` (what the
 * client saw, from `Contact.seen`), so a value written concurrently that the
 * client never saw survives as a conflict instead of being lost. `read`
 * absent means "whatever this server holds now" (a scripted client that did
 * not read first). A resolve is one such op whose read context covers the
 * competing values: the value it writes causally follows all of them.
 */
import type { DotCloud } from './dots.ts';
import type { ContactId, EntryUid, OpId } from './ids.ts';
import type { ContactInput, ListField, ListValues, SingleField, SingleValues } from './model.ts';

/** Replace single field F with a value, or clear it (null; not allowed for formattedName). */
export type SetOp = { [F in SingleField]: { op: 'set'; field: F; value: SingleValues[F] | null } }[SingleField];

/** Add list entry `uid`, or replace the values of it the client saw. */
export type PutOp = { [F in ListField]: { op: 'put'; field: F; uid: EntryUid; value: ListValues[F] } }[ListField];

/** Remove the values of list entry `uid` the client saw. */
export interface RemoveOp {
  op: 'remove';
  field: ListField;
  uid: EntryUid;
}

/** Replace extra property `name` (upper case) with `values`, or clear it (null). */
export interface SetExtraOp {
  op: 'setExtra';
  name: string;
  values: string[] | null;
}

/** One change to one field of a contact. */
export type FieldOp = SetOp | PutOp | RemoveOp | SetExtraOp;

/** The forms a write takes. */
export type Patch =
  /** A new contact with every field it starts with. */
  | { kind: 'create'; contact: ContactInput }
  /** Changes to some fields of a live contact. */
  | { kind: 'update'; id: ContactId; ops: FieldOp[] }
  /** Settles a conflict: one op whose `read` covers the competing values. */
  | { kind: 'resolve'; id: ContactId; op: FieldOp }
  /** Removes the contact (final once it follows every edit). */
  | { kind: 'delete'; id: ContactId };

/** A write as the client sends it. */
export interface WriteRequest {
  /** Idempotency key: the same op id twice is applied once and answered alike. */
  opId: OpId;
  patch: Patch;
  /** The dots the client read (Contact.seen); absent: what this server holds now. */
  read?: DotCloud;
}

/** The contact a patch is about. */
export function patchContactId(p: Patch): ContactId {
  return p.kind === 'create' ? p.contact.id : p.id;
}
