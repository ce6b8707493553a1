/**
 * The client protocol, server side: answers each `clientReq` with one
 * `clientRes` (fragmented by the Outbox when over the datagram budget).
 *
 * How this works. A request names an op and carries its args as JSON text
 * (wire/messages.ts: ClientReq). Ops and their args:
 *   hello     {}                           → {node, name, members: [{id, name, address}] alive}
 *   get       {id}                         → the contact (view.ts), or error not-found
 *   list      {after?, limit?}             → page of contacts, in id order
 *   search    {q, after?, limit?}          → page of matching contacts (search.ts)
 *   conflicts {after?, limit?}             → page of contacts that hold conflicts
 *   put       {opId, patch, read?}         → {outcome, contact}: a WriteRequest, create or update
 *   putMany   {writes: [{opId, patch, read?}…]} → {results: ['applied' | 'duplicate' | {id?, code, message, issues?}…]}:
 *             up to PUT_MANY_MAX puts, each applied (or refused) on its own, in order; results[i]
 *             is writes[i]'s outcome (the id is the one the client sent there; a refusal repeats it).
 *             Small on purpose: 100 results fit one datagram, and no contact is echoed back.
 *   delete    {opId, id, read?}            → {outcome, id}
 *   resolve   {opId, id, op, read?}        → {outcome, contact}
 *   history   {id}                         → {id, deleted, entries: [{opId, node, nodeName, hlc, atMs, kind, fields}]}, oldest first
 *   members   {}                           → [{id, name, address, state, incarnation, lastHeardMsAgo}]
 *   stats     {}                           → node counters
 *   subscribe {subId?, leaseMs?}           → {subId, seq, leaseMs, confirmed, node}: pushes of changes (subscriptions.ts)
 *   unsubscribe {subId}                    → {ended}
 * A paged op answers with `cursor` and `more`; the client asks again with
 * `after: cursor` while `more` (pages.ts). Writes are idempotent by `opId`
 * (contacts/write.ts remembers op ids in the contact, and they replicate),
 * so a client retrying a write, here or at another server, gets the same
 * outcome and never a second contact. `outcome` is 'applied' or 'duplicate'.
 *
 * Errors answer `{code, message, issues?}` with ok false: bad-request (args
 * not a JSON object of the op's keys), unknown-op, not-found, and the write
 * codes of contacts/write.ts (invalid, deleted, exists, too-many). An error
 * to a sender that is not a live member at that address is cut to fit in no
 * more bytes than its request, or not sent at all: a forged source address
 * must not turn us into an amplifier. For the same reason, when the node
 * says the asker proved nothing (`capped`: an anonymous client on another
 * host), a result larger than the request is not sent either: the answer is
 * the error too-large, cut the same way. Requests that fail the wire schema
 * never get here (the codec drops the packet: no reqId to answer).
 */
import { packetOverhead, encodeMessage } from '../wire/codec.ts';
import type { ClientReq, ClientRes, PacketHeader } from '../wire/messages.ts';
import { LIMITS as WIRE_LIMITS } from '../wire/messages.ts';
import type { Outbox } from '../outbox.ts';
import type { Address, ClientChannel, NodeId, TimeMs } from '../types.ts';
import type { MemberView } from '../membership/member-table.ts';
import type { Replication } from '../replication/replication.ts';
import { isContactId, type ContactId } from '../contacts/ids.ts';
import { view } from '../contacts/view.ts';
import { history } from '../contacts/history.ts';
import { checkWriteRequest } from '../contacts/validate.ts';
import { patchContactId, type WriteRequest } from '../contacts/patch.ts';
import type { FieldIssue } from '../contacts/validate-fields.ts';
import { parseJson, toAsciiJson } from './json.ts';
import { pageOf, type Page } from './pages.ts';
import { matches, queryTerms, QUERY_CHARS_MAX } from './search.ts';
import { memberInfo, type Subscriptions } from './subscriptions.ts';

/** JSON characters a page aims at: ~48 KB fragments into ~36 datagrams of 1400 bytes, well under 64 KiB. */
export const PAGE_BUDGET_CHARS = 48_000;
/** Items a page holds at most, and the default. */
export const PAGE_LIMIT_MAX = 1000;
/** States one request may look at (bounds the work a single datagram can cause). */
export const SCAN_MAX = 20_000;

/**
 * Writes one putMany may carry. Why 100: the args are at most 60,000
 * characters (LIMITS.maxClientJsonChars), which 100 typical contacts
 * (~300-600 characters each) fill; the answer stays a few KB.
 */
export const PUT_MANY_MAX = 100;
/** Field issues a refused write of a putMany answers with (the first ones; a put answers with all). */
const MANY_ISSUES_MAX = 4;

/** One write's result in a putMany answer: its outcome, or why it was refused. */
export type PutManyResult = 'applied' | 'duplicate' | PutManyRefusal;
export interface PutManyRefusal {
  id?: string;
  code: ClientErrorCode;
  message: string;
  issues?: readonly FieldIssue[];
}

/** What the service needs of its node. */
export interface ClientServiceInit {
  id: NodeId;
  /** The header our datagrams carry (to size replies). */
  header: PacketHeader;
  outbox: Outbox;
  replication: Replication;
  subscriptions: Subscriptions;
  members(): MemberView[];
  member(id: NodeId): MemberView | undefined;
  /** The node's counters, for `stats`. */
  nodeStats(): Record<string, unknown>;
}

/** Counters of the client protocol. */
export interface ClientStats {
  requests: number;
  errors: number;
  /** Error replies to non-members cut short or withheld to stay within the request's size. */
  errorsTrimmed: number;
  errorsWithheld: number;
  /** Results not sent to an anonymous client on another host because they were larger than its request. */
  answersCapped: number;
  /** Answered requests by op (unknown ops are not counted here: see errorsByCode['unknown-op']). */
  byOp: Record<string, number>;
  errorsByCode: Partial<Record<ClientErrorCode, number>>;
}

/** The error codes a client may see. */
export type ClientErrorCode = 'bad-request' | 'unknown-op' | 'not-found' | 'invalid' | 'deleted' | 'exists' | 'too-many' | 'too-large';

/** What an op returns: a result (with a page position when paged) or an error. */
export type OpResult =
  | { ok: true; result: unknown; cursor?: string; more?: boolean }
  | { ok: false; code: ClientErrorCode; message: string; issues?: readonly FieldIssue[] };

type Args = Record<string, unknown>;

function manyRefusal(id: string | undefined, code: ClientErrorCode, message: string, issues: readonly FieldIssue[] = []): PutManyRefusal {
  const r: PutManyRefusal = id === undefined ? { code, message } : { id, code, message };
  if (issues.length > 0) r.issues = issues.slice(0, MANY_ISSUES_MAX);
  return r;
}

/** Characters of JSON a putMany answer aims at (its limit is LIMITS.maxClientJsonChars). */
const MANY_ANSWER_CHARS = 50_000;
/** A refusal's message in an answer that had to be cut. */
const MANY_CUT_MESSAGE_CHARS = 120;

/**
 * The results, cut to fit one answer when many writes were refused with
 * long reasons: issues dropped and messages shortened (id and code stay),
 * rather than the whole request answered too-large.
 */
function fitResults(results: PutManyResult[]): PutManyResult[] {
  if (toAsciiJson(results).length <= MANY_ANSWER_CHARS) return results;
  return results.map((r) => (typeof r === 'string' ? r : { ...(r.id === undefined ? {} : { id: r.id }), code: r.code, message: r.message.slice(0, MANY_CUT_MESSAGE_CHARS) }));
}

/** The contact id a write names, when it names a well-formed one (for the result of a write refused whole). */
function idOf(w: unknown): string | undefined {
  const patch = (w as { patch?: { id?: unknown; contact?: { id?: unknown } } } | null)?.patch;
  const id = patch?.contact?.id ?? patch?.id;
  return isContactId(id) ? id : undefined;
}
/** Who asked: the source address, and the channel answers go back on (undefined: a member's request, answered as gossip is). */
interface Asker {
  from: Address;
  channel: ClientChannel | undefined;
}
type Op = (now: TimeMs, args: Args, asker: Asker) => OpResult;

const fail = (code: ClientErrorCode, message: string, issues?: readonly FieldIssue[]): OpResult =>
  issues && issues.length > 0 ? { ok: false, code, message, issues } : { ok: false, code, message };

/** Keys each op accepts; any other key is a bad request (a typo should not pass silently). */
const ARG_KEYS: Record<string, readonly string[]> = {
  hello: [], members: [], stats: [],
  get: ['id'], history: ['id'],
  list: ['after', 'limit'], conflicts: ['after', 'limit'], search: ['q', 'after', 'limit'],
  put: ['opId', 'patch', 'read'], putMany: ['writes'], delete: ['opId', 'id', 'read'], resolve: ['opId', 'id', 'op', 'read'],
  subscribe: ['subId', 'leaseMs'], unsubscribe: ['subId'],
};

export class ClientService {
  readonly stats: ClientStats = { requests: 0, errors: 0, errorsTrimmed: 0, errorsWithheld: 0, answersCapped: 0, byOp: {}, errorsByCode: {} };
  private readonly ops: Record<string, Op> = {
    hello: () => this.hello(),
    get: (_now, a) => this.get(a),
    history: (_now, a) => this.history(a),
    list: (_now, a) => this.paged(a, (c) => c),
    search: (_now, a) => this.search(a),
    conflicts: (_now, a) => this.paged(a, (c) => (c.conflicts.length > 0 ? c : undefined)),
    put: (now, a) => this.write(now, a, ['create', 'update']),
    putMany: (now, a) => this.writeMany(now, a),
    delete: (now, a) => this.write(now, { opId: a.opId, patch: { kind: 'delete', id: a.id }, read: a.read }, ['delete']),
    resolve: (now, a) => this.write(now, { opId: a.opId, patch: { kind: 'resolve', id: a.id, op: a.op }, read: a.read }, ['resolve']),
    members: (now) => this.membersOp(now),
    stats: () => ({ ok: true, result: { ...this.init.nodeStats(), client: this.stats, contacts: this.init.replication.store.count() } }),
    subscribe: (now, a, asker) => this.subscribe(now, a, asker),
    unsubscribe: (_now, a, asker) => ({ ok: true, result: { ended: this.init.subscriptions.unsubscribe(asker.from, a.subId) } }),
  };

  constructor(private readonly init: ClientServiceInit) {}

  /** Whether `op` is one of ours (security/client-auth.ts gives each a role). */
  knows(op: string): boolean {
    return Object.hasOwn(this.ops, op);
  }

  /**
   * Answers one request that arrived in a datagram (or reassembled packet)
   * of `requestBytes` bytes, on `channel` (the client envelope it came in;
   * undefined when it came in a cluster packet). Never throws on bad input.
   */
  handleRequest(now: TimeMs, fromAddr: Address, fromId: NodeId, msg: ClientReq, requestBytes: number, channel?: ClientChannel, capped = false): void {
    this.stats.requests++;
    const asker = { from: fromAddr, channel };
    const r = this.run(now, msg, asker);
    if (r.ok) this.stats.byOp[msg.op] = (this.stats.byOp[msg.op] ?? 0) + 1;
    this.reply(asker, fromId, msg.reqId, r, requestBytes, capped);
  }

  private run(now: TimeMs, msg: ClientReq, asker: Asker): OpResult {
    const op = Object.hasOwn(this.ops, msg.op) ? this.ops[msg.op] : undefined;
    if (!op) return fail('unknown-op', `unknown op "${msg.op.slice(0, 32)}": use one of ${Object.keys(this.ops).join(', ')}`);
    const parsed = parseJson(msg.args);
    if (!parsed.ok) return fail('bad-request', `args of ${msg.op} are not JSON: ${parsed.message}`);
    const args = parsed.value;
    if (typeof args !== 'object' || args === null || Array.isArray(args)) return fail('bad-request', `args of ${msg.op} must be a JSON object`);
    const extra = Object.keys(args).filter((k) => !ARG_KEYS[msg.op]!.includes(k));
    if (extra.length > 0) return fail('bad-request', `${msg.op} takes no "${extra[0]}"; it takes {${ARG_KEYS[msg.op]!.join(', ')}}`);
    return op(now, args as Args, asker);
  }

  private hello(): OpResult {
    const self = this.init.member(this.init.id);
    const members = this.init.members().filter((m) => m.state === 'alive').map((m) => ({ id: m.id, name: m.name, address: m.addr }));
    return { ok: true, result: { node: this.init.id, name: self?.name ?? '', members, maxJsonChars: WIRE_LIMITS.maxClientJsonChars } };
  }

  private membersOp(now: TimeMs): OpResult {
    return { ok: true, result: this.init.members().map((m) => memberInfo(m, this.init.id, now)) };
  }

  private subscribe(now: TimeMs, a: Args, asker: Asker): OpResult {
    const r = this.init.subscriptions.subscribe(now, asker.from, a, asker.channel);
    return r.ok ? { ok: true, result: { ...r.answer, node: this.init.id } } : fail(r.code, r.message);
  }

  private get(a: Args): OpResult {
    if (!isContactId(a.id)) return fail('bad-request', 'get needs {"id": a contact id (ULID or lower-case UUID)}');
    const s = this.init.replication.store.get(a.id);
    const c = s && view(s);
    return c ? { ok: true, result: c } : fail('not-found', `no contact ${a.id}`);
  }

  private history(a: Args): OpResult {
    if (!isContactId(a.id)) return fail('bad-request', 'history needs {"id": a contact id (ULID or lower-case UUID)}');
    const s = this.init.replication.store.get(a.id);
    if (!s || s.entries.length === 0) return fail('not-found', `no contact ${a.id} (never written here, or deleted long ago)`);
    const h = history(s);
    const entries = h.entries.map((e) => ({ ...e, nodeName: this.init.member(e.node)?.name ?? '', atMs: e.hlc.wallMs }));
    return { ok: true, result: { id: a.id, deleted: h.deleted, entries } };
  }

  private search(a: Args): OpResult {
    if (typeof a.q !== 'string' || a.q.length > QUERY_CHARS_MAX) return fail('bad-request', `search needs {"q": text of at most ${QUERY_CHARS_MAX} characters}`);
    const terms = queryTerms(a.q);
    if (terms.length === 0) return fail('bad-request', 'search needs at least one word in "q"');
    return this.paged(a, (c) => (matches(c, terms) ? c : undefined));
  }

  private paged(a: Args, pick: Parameters<typeof pageOf>[2]): OpResult {
    if (a.after !== undefined && a.after !== '' && !isContactId(a.after)) return fail('bad-request', '"after" must be the cursor of the previous page (a contact id)');
    const limit = a.limit ?? PAGE_LIMIT_MAX;
    if (!Number.isSafeInteger(limit) || (limit as number) < 1 || (limit as number) > PAGE_LIMIT_MAX) return fail('bad-request', `"limit" must be a whole number 1..${PAGE_LIMIT_MAX}`);
    const page: Page = pageOf(this.init.replication.store, {
      after: (a.after || undefined) as ContactId | undefined, limit: limit as number, budgetChars: PAGE_BUDGET_CHARS, scanMax: SCAN_MAX,
    }, pick);
    return { ok: true, result: page.items, cursor: page.cursor, more: page.more };
  }

  private write(now: TimeMs, raw: Args, kinds: readonly string[]): OpResult {
    const checked = checkWriteRequest(raw.read === undefined ? { opId: raw.opId, patch: raw.patch } : raw);
    if (!checked.ok) return fail('invalid', `the write is invalid: ${checked.issues.map((i) => `${i.path || '(args)'}: ${i.reason}`).join('; ')}`, checked.issues);
    const req = checked.value;
    if (!kinds.includes(req.patch.kind)) return fail('bad-request', `this op takes a patch of kind ${kinds.join(' or ')}, not ${req.patch.kind}`);
    const outcome = this.init.replication.write(now, req);
    if (outcome.kind === 'rejected') return fail(outcome.error.code, outcome.error.message, outcome.error.issues);
    const id = patchContactId(req.patch);
    const s = this.init.replication.store.get(id);
    const contact = (s && view(s)) ?? null;
    return { ok: true, result: req.patch.kind === 'delete' ? { outcome: outcome.kind, id } : { outcome: outcome.kind, contact } };
  }

  /** putMany: each write checked and applied on its own; refusals are results, not an error of the request. */
  private writeMany(now: TimeMs, a: Args): OpResult {
    const writes = a.writes;
    if (!Array.isArray(writes) || writes.length === 0 || writes.length > PUT_MANY_MAX) {
      return fail('bad-request', `putMany needs {"writes": [1 to ${PUT_MANY_MAX} writes, each {opId, patch, read?} as put takes]}`);
    }
    const results: PutManyResult[] = new Array(writes.length);
    const accepted: WriteRequest[] = [];
    const at: number[] = [];
    writes.forEach((w: unknown, i) => {
      const checked = checkWriteRequest(w);
      if (!checked.ok) return (results[i] = manyRefusal(idOf(w), 'invalid', 'the write is invalid', checked.issues));
      const req = checked.value;
      const id = patchContactId(req.patch);
      if (req.patch.kind !== 'create' && req.patch.kind !== 'update') {
        return (results[i] = manyRefusal(id, 'bad-request', `putMany takes patches of kind create or update, not ${req.patch.kind}`));
      }
      accepted.push(req);
      at.push(i);
    });
    this.init.replication.writeMany(now, accepted).forEach((outcome, k) => {
      results[at[k]!] = outcome.kind === 'rejected'
        ? manyRefusal(patchContactId(accepted[k]!.patch), outcome.error.code, outcome.error.message, outcome.error.issues)
        : outcome.kind;
    });
    return { ok: true, result: { results: fitResults(results) } };
  }

  private reply(asker: Asker, fromId: NodeId, reqId: number, result: OpResult, requestBytes: number, capped: boolean): void {
    const to = asker.from;
    const send = (x: ClientRes): void => (asker.channel ? this.init.outbox.sendToClient(to, [x], asker.channel) : this.init.outbox.send(to, [x]));
    const sizeOf = (x: ClientRes): number => packetOverhead(this.init.header, 1) + encodeMessage(x).length;
    let r = result;
    let res: ClientRes;
    if (r.ok) {
      res = { type: 'clientRes', reqId, ok: true, result: toAsciiJson(r.result), cursor: r.cursor ?? '', more: r.more ?? false };
      if (res.result.length > WIRE_LIMITS.maxClientJsonChars) {
        r = { ok: false, code: 'too-large', message: `the result is over ${WIRE_LIMITS.maxClientJsonChars} characters of JSON; ask for fewer items ("limit")` };
      } else if (capped && sizeOf(res) > requestBytes) {
        this.stats.answersCapped++;
        r = { ok: false, code: 'too-large', message: 'an anonymous request from another host gets no more bytes back than it sent: use a credential (CONTACTS_CREDENTIAL or --credential-file)' };
      } else {
        return send(res);
      }
    }
    this.stats.errors++;
    this.stats.errorsByCode[r.code] = (this.stats.errorsByCode[r.code] ?? 0) + 1;
    const m = this.init.member(fromId);
    const member = m !== undefined && m.state === 'alive' && m.addr === to && fromId !== this.init.id;
    const body: Record<string, unknown> = { code: r.code, message: r.message };
    if (r.issues) body.issues = r.issues;
    res = { type: 'clientRes', reqId, ok: false, result: toAsciiJson(body), cursor: '', more: false };
    if (member) return send(res);
    let size = sizeOf(res);
    if (size <= requestBytes) return send(res);
    // Too large for a stranger: drop the issues, then shorten the message, then keep only the code.
    this.stats.errorsTrimmed++;
    for (const message of [r.message, r.message.slice(0, Math.max(0, r.message.length - (size - requestBytes))), '']) {
      res = { ...res, result: toAsciiJson({ code: r.code, message }) };
      size = sizeOf(res);
      if (size <= requestBytes) return send(res);
    }
    this.stats.errorsWithheld++;
  }
}
