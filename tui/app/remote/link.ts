/**
 * Which server the TUI is attached to, learnt from every request's fate.
 *
 * How this works: every request of the app (feed and writes) goes through
 * `LinkedClient.request`. An answer attaches us to the server that gave it;
 * the client library's failover callback (a server did not answer, the
 * next is tried) means we are moving; `NoServerError` (every known server
 * tried) means offline. Listeners hear each change with the link before it,
 * so the app can say "moved from A to B" in the top line and the log.
 */
import type { ClientAnswer } from '../../client.ts';
import { isNoServer } from './errors.ts';
import type { Link } from './types.ts';

/** The part of ContactsClient (tui/client.ts) the TUI uses; tests pass a fake. */
export interface RequestClient {
  request(op: string, args?: Record<string, unknown>): Promise<ClientAnswer>;
  addServer(server: string): void;
  readonly serverList: readonly string[];
  close(): void;
}

export type LinkListener = (link: Link, previous: Link) => void;

/** A RequestClient whose requests move `link`; give its `failover` to the client's onFailover. */
export class LinkedClient {
  private current: Link;
  private readonly listeners: LinkListener[] = [];

  constructor(private readonly client: RequestClient, private readonly nowMs: () => number = Date.now) {
    this.current = { kind: 'connecting', trying: client.serverList[0] ?? '' };
  }

  get link(): Link {
    return this.current;
  }

  get servers(): readonly string[] {
    return this.client.serverList;
  }

  onChange(listener: LinkListener): void {
    this.listeners.push(listener);
  }

  /** Sends through the client and notes where it went; rethrows its errors. */
  async request(op: string, args: Record<string, unknown> = {}): Promise<ClientAnswer> {
    try {
      const answer = await this.client.request(op, args);
      this.answered(answer.server);
      return answer;
    } catch (err) {
      if (isNoServer(err)) this.unreachable(err.tried);
      throw err;
    }
  }

  /** `server` answered a request made elsewhere (a subscription's own). */
  answered(server: string): void {
    if (this.current.kind === 'attached' && this.current.server === server) return;
    this.set({ kind: 'attached', server });
  }

  /** No server answered a request made elsewhere. */
  unreachable(tried: readonly string[]): void {
    this.set({ kind: 'offline', tried, sinceMs: this.current.kind === 'offline' ? this.current.sinceMs : this.nowMs() });
  }

  /** The client library gave up on `from` and tries `to`. */
  failover(from: string, to: string): void {
    if (this.current.kind === 'offline') return; // still trying everyone; the top line already says so
    // A request sent before we moved, giving up on the server we already left: old news.
    if (this.current.kind === 'attached' && this.current.server !== from) return;
    if (this.current.kind === 'connecting') this.set({ kind: 'connecting', trying: to });
    else this.set({ kind: 'moving', from: this.current.kind === 'moving' ? this.current.from : from, to });
  }

  /** Adds a server the client may fail over to (a member learnt from the cluster). */
  learn(server: string): void {
    try {
      this.client.addServer(server);
    } catch {
      // An address this client cannot use (IPv6 for now): the others still serve.
    }
  }

  close(): void {
    this.client.close();
  }

  private set(link: Link): void {
    const previous = this.current;
    if (JSON.stringify(previous) === JSON.stringify(link)) return;
    this.current = link;
    for (const l of this.listeners) l(link, previous);
  }
}
