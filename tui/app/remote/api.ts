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
import type { HistoryAnswer } from '../../format.ts';

/** What a write answers. */
export interface WriteAnswer {
  outcome: 'applied' | 'duplicate';
  contact?: Contact | null;
  id?: string;
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

  /** The contact's history, oldest first (the writes it remembers). */
  async history(id: string): Promise<HistoryAnswer> {
    return (await this.client.request('history', { id })).result as HistoryAnswer;
  }
}
