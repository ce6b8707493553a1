/**
 * The TUI's requests other than the feed's reads: one contact, writes, a
 * contact's history. Every write carries an op id the caller chose and
 * keeps: the client library re-sends the same bytes to the next server
 * when one dies, and the caller re-sends the same op id when the user
 * saves again after "no server answered", so a write is applied once.
 */
import { isNoServer, isRequestError } from './errors.ts';
import type { Contact } from '../../../protocol/contacts/model.ts';
import type { LinkedClient } from './link.ts';

/** What a write answers. */
export interface WriteAnswer {
  outcome: 'applied' | 'duplicate';
  contact?: Contact | null;
  id?: string;
}

/** One entry of a contact's history, as far as the TUI shows it. */
export interface HistoryEntry {
  atMs: number | undefined;
  node: string;
  text: string;
}

export class ContactsApi {
  constructor(private readonly client: LinkedClient) {}

  /** The contact, or undefined when no server has it. */
  async get(id: string): Promise<Contact | undefined> {
    try {
      return (await this.client.request('get', { id })).result as Contact;
    } catch (err) {
      if (isRequestError(err) && err.code === 'not-found') return undefined;
      throw err;
    }
  }

  /** Sends one write (`args` holds its opId); throws RequestError (with field issues) when refused. */
  async write(op: 'put' | 'delete' | 'resolve', args: Record<string, unknown>): Promise<WriteAnswer> {
    return (await this.client.request(op, args)).result as WriteAnswer;
  }

  /** The contact's history, newest last; RequestError 'unknown-op' from a server that has no history op. */
  async history(id: string): Promise<HistoryEntry[]> {
    const r = (await this.client.request('history', { id })).result;
    return historyEntries(r);
  }
}

/** Reads a history answer defensively: whatever fields an entry has, it becomes a line. */
export function historyEntries(result: unknown): HistoryEntry[] {
  const items = Array.isArray(result) ? result : (result as { entries?: unknown[] } | null)?.entries ?? [];
  return items.map((x) => {
    const e = (x ?? {}) as Record<string, unknown>;
    const hlc = e.hlc as { wallMs?: number } | undefined;
    const atMs = typeof e.atMs === 'number' ? e.atMs : typeof e.wallMs === 'number' ? e.wallMs : hlc?.wallMs;
    const node = String(e.origin ?? e.node ?? '');
    const { atMs: _a, wallMs: _w, hlc: _h, origin: _o, node: _n, ...rest } = e;
    return { atMs, node, text: JSON.stringify(rest) };
  });
}
