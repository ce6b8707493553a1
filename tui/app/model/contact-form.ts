/**
 * The add/edit form: one line per field, the write it makes, and the
 * errors it shows at each field.
 *
 * How this works. Each field is a LineEditor; list fields (phones, emails,
 * web addresses, groups) hold their values separated by commas, and a
 * note's line breaks show as ↵. `build()` turns the form into a write
 * request: a create with every field, or an update whose ops change only
 * what differs from the contact the form was opened on (list entries keep
 * their uid and labels when edited in place), with that contact's `seen`
 * as the read context so a concurrent edit elsewhere becomes a conflict
 * rather than being overwritten. The request is checked locally with the
 * server's own validation (protocol/contacts/validate.ts), and a refusal,
 * local or from the server, is placed at the field its path names.
 *
 * A save keeps its op id while the form's values stay the same: the user
 * may press Ctrl-S again after "no server answered" and the write is still
 * applied once. The form is plain data: a failover does not touch it.
 */
import type { Contact, ListField } from '../../../protocol/contacts/model.ts';
import { checkWriteRequest } from '../../../protocol/contacts/validate.ts';
import type { FieldIssue } from '../../../protocol/contacts/validate-fields.ts';
import { newId } from '../../writes.ts';
import { LineEditor } from './line-editor.ts';

/** The form's fields, in order. */
export const FORM_FIELDS = [
  { key: 'formattedName', label: 'Name' },
  { key: 'phones', label: 'Phones', list: 'phones', hint: 'comma between numbers' },
  { key: 'emails', label: 'Emails', list: 'emails', hint: 'comma between addresses' },
  { key: 'org', label: 'Organisation' },
  { key: 'title', label: 'Title' },
  { key: 'birthday', label: 'Birthday', hint: 'YYYY-MM-DD, YYYY or --MM-DD' },
  { key: 'urls', label: 'Web', list: 'urls' },
  { key: 'groups', label: 'Groups', list: 'groups' },
  { key: 'note', label: 'Note' },
] as const satisfies readonly { key: string; label: string; list?: ListField; hint?: string }[];

export type FormKey = (typeof FORM_FIELDS)[number]['key'];
type ListKey = 'phones' | 'emails' | 'urls' | 'groups';
type TextKey = 'title' | 'birthday' | 'note';

const NEWLINE_MARK = '↵';

/** A write request the form made, ready to send. */
export interface BuiltWrite {
  /** The request args for `put` (opId, patch, read). */
  args: Record<string, unknown>;
  /** The contact it is about. */
  id: string;
}

export type BuildResult =
  | { kind: 'write'; write: BuiltWrite }
  | { kind: 'unchanged' }
  | { kind: 'invalid' };

const splitList = (s: string): string[] => s.split(',').map((x) => x.trim()).filter((x) => x !== '');
const entryText = (field: ListKey, e: object): string => String((e as Record<string, unknown>)[field === 'groups' ? 'name' : 'value'] ?? '');
const entryValue = (field: ListKey, text: string, old?: Record<string, unknown>): Record<string, unknown> =>
  field === 'groups' ? { name: text } : { value: text, types: old?.types ?? [], pref: old?.pref ?? false };

/** The form text of each field for contact `c` (empty for a new contact). */
function valuesOf(c: Contact | undefined): Record<FormKey, string> {
  const list = (f: ListKey) => (c ? (c[f] as object[]).map((e) => entryText(f, e)).join(', ') : '');
  return {
    formattedName: c?.formattedName ?? '',
    phones: list('phones'), emails: list('emails'),
    org: c?.org?.name ?? '',
    title: c?.title ?? '',
    birthday: c?.birthday ?? '',
    urls: list('urls'), groups: list('groups'),
    note: (c?.note ?? '').replace(/\n/g, NEWLINE_MARK),
  };
}

export class ContactForm {
  readonly editors: LineEditor[];
  focus = 0;
  /** Error shown under each field. */
  readonly errors = new Map<FormKey, string>();
  /** A message for the whole form (saving…, no server answered, …). */
  message = '';
  saving = false;
  /** The contact id a new contact gets (chosen once, kept across retries). */
  readonly newContactId = newId();
  private attempt: { key: string; write: BuiltWrite; uncertain: boolean } | undefined;
  private initial: Record<FormKey, string>;

  /** `base` is the contact being edited; none for a new one. */
  constructor(public base: Contact | undefined) {
    this.initial = valuesOf(base);
    this.editors = FORM_FIELDS.map((f) => new LineEditor(this.initial[f.key]));
  }

  get mode(): 'add' | 'edit' {
    return this.base ? 'edit' : 'add';
  }

  /** The id of the contact this form writes. */
  get contactId(): string {
    return this.base?.id ?? this.newContactId;
  }

  get current(): LineEditor {
    return this.editors[this.focus]!;
  }

  value(key: FormKey): string {
    return this.editors[FORM_FIELDS.findIndex((f) => f.key === key)]!.text;
  }

  /** True when a field differs from what the form started with. */
  dirty(): boolean {
    return FORM_FIELDS.some((f, i) => this.editors[i]!.text !== this.initial[f.key]);
  }

  move(delta: number): void {
    this.focus = (this.focus + delta + FORM_FIELDS.length) % FORM_FIELDS.length;
    this.current.end();
  }

  /** True when the last save may have reached a server that died before answering. */
  get uncertain(): boolean {
    return this.attempt?.uncertain === true;
  }

  /** True when the form's values differ from those of the last (uncertain) save. */
  changedSinceAttempt(): boolean {
    return this.attempt !== undefined && this.attempt.key !== this.payloadKey();
  }

  /** Records the last save's fate: `uncertain` when no server answered (it may have been applied). */
  settle(uncertain: boolean): void {
    if (this.attempt) this.attempt.uncertain = uncertain;
  }

  /**
   * Re-bases the form on `stored` (what a server holds now), keeping what
   * the user typed: after an uncertain save, the next one must read what
   * is there, or it would conflict with its own first attempt.
   */
  rebase(stored: Contact): void {
    this.base = stored;
    this.initial = valuesOf(stored);
    this.attempt = undefined;
  }

  /** The write the form asks for, checked; errors land on the fields. */
  build(): BuildResult {
    this.errors.clear();
    this.message = '';
    const key = this.payloadKey();
    if (this.attempt && this.attempt.key === key) return { kind: 'write', write: this.attempt.write };
    const write = this.base ? this.update(this.base) : this.create();
    if (!write) return { kind: 'unchanged' };
    const checked = checkWriteRequest(write.args);
    if (!checked.ok) {
      this.showIssues(checked.issues, write);
      return { kind: 'invalid' };
    }
    this.attempt = { key, write, uncertain: false };
    return { kind: 'write', write };
  }

  /** Puts each issue (path + reason, from a refusal) at the field it names. */
  showIssues(issues: readonly FieldIssue[], write = this.attempt?.write): void {
    const general: string[] = [];
    for (const issue of issues) {
      const at = this.locate(issue.path, write);
      if (!at) {
        general.push(`${issue.path || 'contact'}: ${issue.reason}`);
        continue;
      }
      const text = at.entry !== undefined ? `"${at.entry}" ${issue.reason}` : issue.reason;
      const before = this.errors.get(at.field);
      this.errors.set(at.field, before ? `${before}; ${text}` : text);
    }
    if (general.length > 0) this.message = general.join('; ');
    const first = FORM_FIELDS.findIndex((f) => this.errors.has(f.key));
    if (first >= 0) this.focus = first;
  }

  private payloadKey(): string {
    return JSON.stringify([this.base?.id, this.editors.map((e) => e.text)]);
  }

  private create(): BuiltWrite {
    const v = (k: FormKey) => this.value(k).trim();
    const contact: Record<string, unknown> = { id: this.newContactId, formattedName: v('formattedName') };
    for (const f of ['phones', 'emails', 'urls', 'groups'] as const) {
      const items = splitList(this.value(f));
      if (items.length > 0) contact[f] = items.map((text) => ({ uid: newId(), ...entryValue(f, text) }));
    }
    if (v('org')) contact.org = { name: v('org'), units: [] };
    for (const f of ['title', 'birthday'] as const) if (v(f)) contact[f] = v(f);
    if (v('note')) contact.note = this.noteText();
    return { id: this.newContactId, args: { opId: newId(), patch: { kind: 'create', contact } } };
  }

  private update(base: Contact): BuiltWrite | undefined {
    const ops: Record<string, unknown>[] = [];
    const was = valuesOf(base);
    const name = this.value('formattedName').trim();
    if (name !== base.formattedName) ops.push({ op: 'set', field: 'formattedName', value: name });
    const org = this.value('org').trim();
    if (org !== was.org.trim()) ops.push({ op: 'set', field: 'org', value: org ? { name: org, units: base.org?.units ?? [] } : null });
    for (const f of ['title', 'birthday', 'note'] as TextKey[]) {
      if (this.value(f).trim() === was[f].trim()) continue;
      const text = f === 'note' ? this.noteText() : this.value(f).trim();
      ops.push({ op: 'set', field: f, value: text === '' ? null : text });
    }
    for (const f of ['phones', 'emails', 'urls', 'groups'] as const) ops.push(...listOps(f, base, splitList(this.value(f))));
    if (ops.length === 0) return undefined;
    return { id: base.id, args: { opId: newId(), patch: { kind: 'update', id: base.id, ops }, read: base.seen } };
  }

  private noteText(): string {
    return this.value('note').trim().split(NEWLINE_MARK).join('\n');
  }

  /** The field (and list entry text) an issue path names: `phones[2].value`, `phones[UID].value`, `org.name`, `ops[1].field`. */
  private locate(path: string, write: BuiltWrite | undefined): { field: FormKey; entry?: string } | undefined {
    const m = /^(?:patch\.)?(?:contact\.)?([A-Za-z]+)(?:\[([^\]]+)\])?/.exec(path);
    if (!m) return undefined;
    let [, head, index] = m;
    const patch = write?.args.patch as { ops?: Record<string, unknown>[]; contact?: Record<string, unknown> } | undefined;
    if (head === 'ops' && index !== undefined) {
      const op = patch?.ops?.[Number(index)];
      if (!op) return undefined;
      head = String(op.field ?? '');
      index = op.uid === undefined ? undefined : String(op.uid);
    }
    const field = FORM_FIELDS.find((f) => f.key === head)?.key;
    if (!field) return undefined;
    if (index === undefined || !FORM_FIELDS.some((f) => f.key === field && 'list' in f)) return { field };
    const lf = field as ListKey;
    const entries = (patch?.contact?.[lf] as Record<string, unknown>[] | undefined) ?? [];
    const put = patch?.ops?.find((o) => o.field === lf && o.uid === index)?.value as Record<string, unknown> | undefined;
    const entry = /^\d+$/.test(index) && entries[Number(index)] ? entries[Number(index)] : put;
    return entry ? { field, entry: entryText(lf, entry) } : { field };
  }
}

/**
 * Ops that turn the entries of list `f` into `texts`: unchanged values stay
 * as they are; changed ones are paired in order with the entries that went
 * away (keeping uid, labels and preferred flag); the rest are removed or added.
 */
function listOps(f: ListKey, base: Contact, texts: string[]): Record<string, unknown>[] {
  const old = [...(base[f] as unknown as ({ uid: string } & Record<string, unknown>)[])];
  const wanted = [...texts];
  for (let i = wanted.length - 1; i >= 0; i--) {
    const j = old.findIndex((e) => entryText(f, e) === wanted[i]);
    if (j >= 0) {
      old.splice(j, 1);
      wanted.splice(i, 1);
    }
  }
  const ops: Record<string, unknown>[] = [];
  wanted.forEach((text, i) => {
    const reuse = old[i];
    ops.push({ op: 'put', field: f, uid: reuse?.uid ?? newId(), value: entryValue(f, text, reuse) });
  });
  for (const e of old.slice(wanted.length)) ops.push({ op: 'remove', field: f, uid: e.uid });
  return ops;
}
