/**
 * Checks for single values of the contact model: text, labels, phones,
 * emails, URLs, partial dates, photos, names, addresses, extra properties.
 *
 * How this works: every check takes untrusted input (`unknown`), the field
 * path it sits at (`phones[2].value`) and an `Issues` collector; it returns
 * the typed value, or undefined after recording why not. Input is never
 * repaired (no trimming, no case folding): what is stored is exactly what
 * was sent, or the write is refused with the field and the reason.
 *
 * Phone numbers are kept as the raw text the user typed: no phone-number
 * library is installed here, so a phone is checked for its characters
 * (digits, letters for vanity numbers and extensions, spaces and the usual
 * punctuation, `+` only in front), its length and a minimum number of
 * digits, never parsed to E.164. Emails are checked for shape (one `@`, a
 * local part and a domain of sane labels, no spaces or quotes), not by DNS.
 */
import { LIMITS, type AddressValue, type LabeledValue, type Organization, type PartialDate, type Photo, type StructuredName } from './model.ts';

/** Why one field was refused. */
export interface FieldIssue {
  /** Where: `formattedName`, `phones[2].value`, `extra.X-FOO[0]`. */
  readonly path: string;
  readonly reason: string;
}

/** At most this many issues are reported per write: enough to fix a form, bounded. */
export const ISSUES_MAX = 16;

/** Collects the issues of one check, bounded by ISSUES_MAX. */
export class Issues {
  readonly list: FieldIssue[] = [];
  /** Records an issue; returns undefined so a check can `return out.add(…)`. */
  add(path: string, reason: string): undefined {
    if (this.list.length < ISSUES_MAX) this.list.push({ path, reason });
    return undefined;
  }
}

const CONTROL_RE = /[\u0000-\u001f\u007f]/;
const CONTROL_MULTILINE_RE = /[\u0000-\u0008\u000b-\u001f\u007f]/;
const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** Printable ASCII only: no control character, no surrogate (most text): one scan instead of two. */
const PRINTABLE_ASCII_RE = /^[\x20-\x7e]*$/;

/** A string of at most `maxChars`, without control characters (newline and tab allowed when multiline). */
export function checkText(x: unknown, path: string, out: Issues, maxChars: number, opts: { multiline?: boolean; required?: boolean } = {}): string | undefined {
  if (typeof x !== 'string') return out.add(path, 'must be a string');
  if (x.length > maxChars) return out.add(path, `longer than ${maxChars} characters`);
  if (opts.required && x.trim() === '') return out.add(path, 'must not be empty');
  if (PRINTABLE_ASCII_RE.test(x)) return x;
  if ((opts.multiline ? CONTROL_MULTILINE_RE : CONTROL_RE).test(x)) return out.add(path, 'contains control characters');
  if (LONE_SURROGATE_RE.test(x)) return out.add(path, 'is not well-formed Unicode');
  return x;
}

/** A boolean. */
export function checkBool(x: unknown, path: string, out: Issues): boolean | undefined {
  return typeof x === 'boolean' ? x : out.add(path, 'must be true or false');
}

/** A plain object with any keys (a map). */
export function checkRecord(x: unknown, path: string, out: Issues): Record<string, unknown> | undefined {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return out.add(path || 'value', 'must be an object');
  return x as Record<string, unknown>;
}

/** A plain object with only `allowed` keys and every `required` one. */
export function checkObject(x: unknown, path: string, out: Issues, allowed: readonly string[], required: readonly string[] = allowed): Record<string, unknown> | undefined {
  const rec = checkRecord(x, path, out);
  if (!rec) return undefined;
  let ok = true;
  for (const k of Object.keys(rec)) {
    if (allowed.includes(k)) continue;
    out.add(join(path, k), 'unknown field');
    ok = false;
  }
  for (const k of required) {
    if (rec[k] !== undefined) continue;
    out.add(join(path, k), 'is required');
    ok = false;
  }
  return ok ? rec : undefined;
}

/** An array of at most `max` items. */
export function checkArray(x: unknown, path: string, out: Issues, max: number): unknown[] | undefined {
  if (!Array.isArray(x)) return out.add(path, 'must be a list');
  if (x.length > max) return out.add(path, `more than ${max} items`);
  return x;
}

/** `path.key`, or `key` at the top. */
export function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/** Runs `check` on every item of a list; undefined if any fails. */
export function checkEach<T>(x: unknown, path: string, out: Issues, max: number, check: (item: unknown, path: string) => T | undefined): T[] | undefined {
  const arr = checkArray(x, path, out, max);
  if (!arr) return undefined;
  const vals = arr.map((item, i) => check(item, `${path}[${i}]`));
  return vals.every((v) => v !== undefined) ? (vals as T[]) : undefined;
}

const LABEL_RE = /^[a-z0-9][a-z0-9-]*$/;

/** Type labels: distinct lower-case tokens (`home`, `work`, `cell`, `x-custom`). */
export function checkTypes(x: unknown, path: string, out: Issues): string[] | undefined {
  const labels = checkEach(x, path, out, LIMITS.typesMax, (t, p) => {
    const s = checkText(t, p, out, LIMITS.typeLabelCharsMax, { required: true });
    return s === undefined || LABEL_RE.test(s) ? s : out.add(p, 'must be a lower-case token like "home" or "work"');
  });
  if (labels && new Set(labels).size !== labels.length) return out.add(path, 'has a label twice');
  return labels;
}

const PHONE_RE = /^\+?[0-9A-Za-z ().\/#*,;=-]+$/;

/** A phone number as typed (see the header: characters and length only). */
export function checkPhone(x: unknown, path: string, out: Issues): string | undefined {
  const s = checkText(x, path, out, LIMITS.phoneCharsMax, { required: true });
  if (s === undefined) return undefined;
  if (!PHONE_RE.test(s)) return out.add(path, 'may hold only digits, letters, spaces, + in front and ( ) . / - # * , ; =');
  if (digitCount(s) < LIMITS.phoneDigitsMin) return out.add(path, `needs at least ${LIMITS.phoneDigitsMin} digits`);
  return s;
}

function digitCount(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) n++;
  }
  return n;
}

const EMAIL_ATOM_RE = /^[^\s@"(),:;<>\[\]\\]+$/;
const DOMAIN_LABEL_RE = /^[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?$/u;
/** The ASCII labels DOMAIN_LABEL_RE accepts (nearly all of them), without Unicode property lookups. */
const ASCII_DOMAIN_LABEL_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/;

/** An email address of ordinary shape: local@domain, no quoted local parts. */
export function checkEmail(x: unknown, path: string, out: Issues): string | undefined {
  const s = checkText(x, path, out, LIMITS.emailCharsMax, { required: true });
  if (s === undefined) return undefined;
  const at = s.lastIndexOf('@');
  const local = s.slice(0, at);
  const domain = s.slice(at + 1);
  if (at <= 0 || !EMAIL_ATOM_RE.test(local) || !EMAIL_ATOM_RE.test(domain)) return out.add(path, 'is not an email address (name@example.org)');
  if (local.length > LIMITS.emailLocalCharsMax) return out.add(path, `part before @ is longer than ${LIMITS.emailLocalCharsMax} characters`);
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) return out.add(path, 'has a misplaced dot before @');
  const labels = domain.split('.');
  if (!labels.every((l) => l.length <= 63 && (ASCII_DOMAIN_LABEL_RE.test(l) || DOMAIN_LABEL_RE.test(l)))) return out.add(path, 'has a malformed domain after @');
  return s;
}

const URL_SCHEME_RE = /^([a-z][a-z0-9+.-]*):/i;
const URL_SCHEMES_REFUSED = new Set(['javascript', 'data', 'vbscript', 'file']);

/** An absolute URL with a scheme (not javascript:, data:, vbscript: or file:). */
export function checkUrl(x: unknown, path: string, out: Issues): string | undefined {
  const s = checkText(x, path, out, LIMITS.urlCharsMax, { required: true });
  if (s === undefined) return undefined;
  const scheme = URL_SCHEME_RE.exec(s)?.[1]?.toLowerCase();
  if (!scheme || /\s/.test(s) || !URL.canParse(s)) return out.add(path, 'is not an absolute URL (https://…)');
  if (URL_SCHEMES_REFUSED.has(scheme)) return out.add(path, `scheme ${scheme}: is not allowed`);
  return s;
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** A partial date: `--MM-DD` (no year), `YYYY`, or `YYYY-MM-DD`; the day must exist. */
export function checkPartialDate(x: unknown, path: string, out: Issues): PartialDate | undefined {
  if (typeof x !== 'string') return out.add(path, 'must be a string');
  const m = /^(?:(\d{4})|--(\d{2})-(\d{2})|(\d{4})-(\d{2})-(\d{2}))$/.exec(x);
  if (!m) return out.add(path, 'must be --MM-DD, YYYY or YYYY-MM-DD');
  const year = m[1] ?? m[4];
  if (year !== undefined && Number(year) < 1) return out.add(path, 'year must be 0001 or later');
  if (m[1] !== undefined) return x as PartialDate;
  const month = Number(m[2] ?? m[5]);
  const day = Number(m[3] ?? m[6]);
  if (month < 1 || month > 12) return out.add(path, 'month must be 01 to 12');
  const leap = year === undefined || (Number(year) % 4 === 0 && (Number(year) % 100 !== 0 || Number(year) % 400 === 0));
  const days = month === 2 && !leap ? 28 : DAYS_IN_MONTH[month - 1]!;
  if (day < 1 || day > days) return out.add(path, `day must be 01 to ${days} in that month`);
  return x as PartialDate;
}

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** Base64 of each format's first bytes: a photo must be what it says it is. */
const MAGIC: Record<Photo['mediaType'], string> = {
  'image/jpeg': '/9j/',
  'image/png': 'iVBORw0KGgo',
  'image/gif': 'R0lGOD',
  'image/webp': 'UklGR',
};

/** A photo: a known image media type and base64 data of at most LIMITS.photoBytesMax bytes. */
export function checkPhoto(x: unknown, path: string, out: Issues): Photo | undefined {
  const o = checkObject(x, path, out, ['mediaType', 'base64']);
  if (!o) return undefined;
  const mediaType = o.mediaType as Photo['mediaType'];
  if (typeof mediaType !== 'string' || !(mediaType in MAGIC)) return out.add(join(path, 'mediaType'), 'must be image/jpeg, image/png, image/gif or image/webp');
  const data = o.base64;
  const dataPath = join(path, 'base64');
  if (typeof data !== 'string') return out.add(dataPath, 'must be a string');
  // Checked before the pattern so a huge string is refused without scanning it.
  const bytes = Math.floor((data.length * 3) / 4) - (data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0);
  if (bytes > LIMITS.photoBytesMax) return out.add(dataPath, `photo larger than ${LIMITS.photoBytesMax} bytes`);
  if (!BASE64_RE.test(data)) return out.add(dataPath, 'is not base64');
  if (!data.startsWith(MAGIC[mediaType])) return out.add(dataPath, `does not look like ${mediaType}`);
  return { mediaType, base64: data };
}

const NAME_PARTS = ['family', 'given', 'additional', 'prefixes', 'suffixes'] as const;

/** A structured name: the five vCard N parts, each a string (possibly empty), not all empty. */
export function checkStructuredName(x: unknown, path: string, out: Issues): StructuredName | undefined {
  const o = checkObject(x, path, out, NAME_PARTS);
  if (!o) return undefined;
  const parts = NAME_PARTS.map((k) => checkText(o[k], join(path, k), out, LIMITS.namePartCharsMax));
  if (parts.some((p) => p === undefined)) return undefined;
  if (parts.every((p) => p === '')) return out.add(path, 'has every part empty (clear the field instead)');
  const [family, given, additional, prefixes, suffixes] = parts as string[];
  return { family: family!, given: given!, additional: additional!, prefixes: prefixes!, suffixes: suffixes! };
}

/** An organisation: a name and up to LIMITS.orgUnitsMax units. */
export function checkOrganization(x: unknown, path: string, out: Issues): Organization | undefined {
  const o = checkObject(x, path, out, ['name', 'units']);
  if (!o) return undefined;
  const name = checkText(o.name, join(path, 'name'), out, LIMITS.orgNameCharsMax, { required: true });
  const units = checkEach(o.units, join(path, 'units'), out, LIMITS.orgUnitsMax, (u, p) => checkText(u, p, out, LIMITS.orgNameCharsMax, { required: true }));
  return name !== undefined && units ? { name, units } : undefined;
}

/** A phone, email or URL entry value: `value` checked by `checkValue`, type labels, preferred flag. */
export function checkLabeled(x: unknown, path: string, out: Issues, checkValue: (v: unknown, p: string, o: Issues) => string | undefined): LabeledValue | undefined {
  const o = checkObject(x, path, out, ['value', 'types', 'pref']);
  if (!o) return undefined;
  const value = checkValue(o.value, join(path, 'value'), out);
  const types = checkTypes(o.types, join(path, 'types'), out);
  const pref = checkBool(o.pref, join(path, 'pref'), out);
  return value !== undefined && types && pref !== undefined ? { value, types, pref } : undefined;
}

const ADDRESS_PARTS = ['poBox', 'extended', 'street', 'locality', 'region', 'postalCode', 'country'] as const;

/** A postal address: the seven vCard ADR parts (street may span lines), not all empty. */
export function checkAddress(x: unknown, path: string, out: Issues): AddressValue | undefined {
  const o = checkObject(x, path, out, ['types', 'pref', ...ADDRESS_PARTS]);
  if (!o) return undefined;
  const types = checkTypes(o.types, join(path, 'types'), out);
  const pref = checkBool(o.pref, join(path, 'pref'), out);
  const parts = ADDRESS_PARTS.map((k) => checkText(o[k], join(path, k), out, LIMITS.addressPartCharsMax, { multiline: k === 'street' }));
  if (!types || pref === undefined || parts.some((p) => p === undefined)) return undefined;
  if (parts.every((p) => p === '')) return out.add(path, 'has every part empty');
  const [poBox, extended, street, locality, region, postalCode, country] = parts as string[];
  return { types, pref, poBox: poBox!, extended: extended!, street: street!, locality: locality!, region: region!, postalCode: postalCode!, country: country! };
}

const EXTRA_NAME_RE = /^[A-Z][A-Z0-9-]*$/;
/** Properties the model holds itself (or vCard framing): never kept as extras. */
const MODELLED = new Set(['BEGIN', 'END', 'VERSION', 'UID', 'FN', 'N', 'TEL', 'EMAIL', 'ADR', 'ORG', 'TITLE', 'BDAY', 'URL', 'NOTE', 'CATEGORIES', 'PHOTO']);

/** An extra property name: upper-case vCard token, not one the model holds itself. */
export function checkExtraName(x: unknown, path: string, out: Issues): string | undefined {
  const s = checkText(x, path, out, LIMITS.extraNameCharsMax, { required: true });
  if (s === undefined) return undefined;
  if (!EXTRA_NAME_RE.test(s)) return out.add(path, 'must be an upper-case property name like X-SKYPE');
  if (MODELLED.has(s)) return out.add(path, `${s} is a modelled field, not an extra property`);
  return s;
}

/** An extra property's values: 1..LIMITS.extraValuesMax strings, kept verbatim. */
export function checkExtraValues(x: unknown, path: string, out: Issues): string[] | undefined {
  const values = checkEach(x, path, out, LIMITS.extraValuesMax, (v, p) => checkText(v, p, out, LIMITS.extraValueCharsMax, { multiline: true }));
  if (values && values.length === 0) return out.add(path, 'must hold at least one value (clear the property instead)');
  return values;
}
