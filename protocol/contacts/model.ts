/**
 * The contact model: what a contact holds, what a reader sees, and the
 * limits every write is checked against.
 *
 * How this works: a contact has single-valued fields (formatted name,
 * structured name, organisation, title, birthday, note, photo), list fields
 * whose entries each carry a client-chosen uid (phones, emails, postal
 * addresses, URLs, groups), and unknown vCard-style extra properties kept
 * verbatim as name → string values. In the CRDT (state.ts) each single
 * field and each extra property is a multi-value register, and each list
 * field an add-wins set of entries keyed by uid, so the model is also the
 * CRDT's field table: `FieldKey` names every register and set. Values are
 * plain JSON-safe data (the photo is base64 text), so a state encodes as is.
 */
import type { DotCloud } from './dots.ts';
import type { Hlc } from './hlc.ts';
import type { ContactId, EntryUid } from './ids.ts';
import type { NodeId } from '../types.ts';

/** Limits on everything a write may carry. Units last; "Chars" counts UTF-16 code units. */
export const LIMITS = {
  formattedNameCharsMax: 256,
  namePartCharsMax: 128,
  orgNameCharsMax: 256,
  orgUnitsMax: 4,
  titleCharsMax: 256,
  noteCharsMax: 4000,
  phonesMax: 20,
  emailsMax: 20,
  addressesMax: 10,
  urlsMax: 20,
  groupsMax: 50,
  phoneCharsMax: 40,
  phoneDigitsMin: 2,
  emailCharsMax: 254,
  emailLocalCharsMax: 64,
  urlCharsMax: 2048,
  addressPartCharsMax: 256,
  groupNameCharsMax: 64,
  typesMax: 4,
  typeLabelCharsMax: 32,
  /** Decoded photo bytes; a contact must still fit a few dozen datagrams. */
  photoBytesMax: 32 * 1024,
  extrasMax: 32,
  extraNameCharsMax: 64,
  extraValuesMax: 16,
  extraValueCharsMax: 1000,
  opsPerUpdateMax: 64,
} as const;

/** vCard N: every part may be empty. */
export interface StructuredName {
  readonly family: string;
  readonly given: string;
  readonly additional: string;
  readonly prefixes: string;
  readonly suffixes: string;
}

/** vCard ORG: the organisation and its units, outermost first. */
export interface Organization {
  readonly name: string;
  readonly units: readonly string[];
}

/** A birthday, possibly partial: `--MM-DD`, `YYYY` or `YYYY-MM-DD`. */
export type PartialDate = string & { readonly __brand: 'PartialDate' };

/** A photo: media type and base64 (standard alphabet, padded) of at most LIMITS.photoBytesMax bytes. */
export interface Photo {
  readonly mediaType: 'image/jpeg' | 'image/png' | 'image/gif' | 'image/webp';
  readonly base64: string;
}

/** A phone, email or URL: the text as given, type labels (`home`, `work`, `cell`…), preferred flag. */
export interface LabeledValue {
  readonly value: string;
  readonly types: readonly string[];
  readonly pref: boolean;
}

/** A postal address (vCard ADR parts), its type labels and preferred flag. */
export interface AddressValue {
  readonly types: readonly string[];
  readonly pref: boolean;
  readonly poBox: string;
  readonly extended: string;
  readonly street: string;
  readonly locality: string;
  readonly region: string;
  readonly postalCode: string;
  readonly country: string;
}

/** A group the contact belongs to. */
export interface GroupValue {
  readonly name: string;
}

/** The value type of each single-valued field. */
export interface SingleValues {
  formattedName: string;
  name: StructuredName;
  org: Organization;
  title: string;
  birthday: PartialDate;
  note: string;
  photo: Photo;
}

/** The value type of each list field's entries (the uid is kept beside it). */
export interface ListValues {
  phones: LabeledValue;
  emails: LabeledValue;
  addresses: AddressValue;
  urls: LabeledValue;
  groups: GroupValue;
}

/** A single-valued field's name. */
export type SingleField = keyof SingleValues;
/** A list field's name. */
export type ListField = keyof ListValues;

/** Single-valued fields, in the order a create assigns their dots. */
export const SINGLE_FIELDS: readonly SingleField[] = ['formattedName', 'name', 'org', 'title', 'birthday', 'note', 'photo'];
/** List fields, in the order a create assigns their dots. */
export const LIST_FIELDS: readonly ListField[] = ['phones', 'emails', 'addresses', 'urls', 'groups'];

/** Register of extra property NAME. */
export type ExtraKey = `x:${string}`;
/** Existence token: a write adds one; a contact with none is deleted. */
export const LIVE_KEY = '$live';
/** Delete marker: present together with a live token, the contact was revived. */
export const DEL_KEY = '$del';
/** Op-id record: uid is the op id, value the dots the write used. */
export const OP_KEY = '$op';

/** Every register or set of a contact's CRDT state. */
export type FieldKey = SingleField | ListField | ExtraKey | typeof LIVE_KEY | typeof DEL_KEY | typeof OP_KEY;

/** A list entry as a reader sees it: its uid and its value. */
export type ListItem<F extends ListField> = { readonly uid: EntryUid } & ListValues[F];

/** The fields of a contact. Lists and extras may be omitted in a create (empty). */
export interface ContactFields {
  formattedName: string;
  name?: StructuredName;
  org?: Organization;
  title?: string;
  birthday?: PartialDate;
  note?: string;
  photo?: Photo;
  phones?: ListItem<'phones'>[];
  emails?: ListItem<'emails'>[];
  addresses?: ListItem<'addresses'>[];
  urls?: ListItem<'urls'>[];
  groups?: ListItem<'groups'>[];
  /** Unknown vCard properties: upper-case NAME → values, kept verbatim. */
  extra?: Record<string, string[]>;
}

/** A new contact: its client-chosen id and its fields. */
export interface ContactInput extends ContactFields {
  id: ContactId;
}

/** One competing value of a conflicted field, as shown to the user. */
export interface ConflictValue {
  value: unknown;
  /** The node that took the write. */
  origin: NodeId;
  hlc: Hlc;
}

/** A field (or list entry, or extra property) holding concurrent values. */
export interface FieldConflict {
  /** A single field name, a list field name (with `uid`), or `x:NAME`. */
  field: string;
  uid?: EntryUid;
  /** Every distinct value, the one shown (the winner) first. */
  values: ConflictValue[];
}

/** What a reader sees of a live contact: every list present, in uid order. */
export interface Contact extends ContactInput {
  phones: ListItem<'phones'>[];
  emails: ListItem<'emails'>[];
  addresses: ListItem<'addresses'>[];
  urls: ListItem<'urls'>[];
  groups: ListItem<'groups'>[];
  extra: Record<string, string[]>;
  /** Deleted somewhere while edited elsewhere: the edit won and the contact came back whole. */
  revived: boolean;
  /** Fields with concurrent values; the winner by (hlc, origin) is in the field meanwhile. */
  conflicts: FieldConflict[];
  /** The dots of what this view shows: send it back as a write's `read` context. */
  seen: DotCloud;
  /** Latest write time among the values shown. */
  updated: Hlc;
}
