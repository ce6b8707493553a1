/**
 * A RequestClient whose real client is still loading: requests wait for
 * it, servers added meanwhile are handed on. Lets the TUI draw its first
 * frame before the client library and the wire codec are loaded (see
 * errors.ts for why that matters).
 */
import type { ClientAnswer } from '../../client.ts';
import type { RequestClient } from './link.ts';

export class DeferredClient implements RequestClient {
  private client: RequestClient | undefined;
  private ready: Promise<RequestClient> | undefined;
  private readonly early: string[];

  /** `load` makes the real client (called at the first request); `servers` are its servers, known before it exists. */
  constructor(private readonly load: () => Promise<RequestClient>, servers: readonly string[]) {
    this.early = [...servers];
  }

  get serverList(): readonly string[] {
    return this.client?.serverList ?? this.early;
  }

  addServer(server: string): void {
    if (this.client) this.client.addServer(server);
    else if (!this.early.includes(server)) this.early.push(server);
  }

  async request(op: string, args: Record<string, unknown> = {}): Promise<ClientAnswer> {
    this.ready ??= this.load().then((c) => {
      for (const s of this.early) c.addServer(s);
      this.client = c;
      return c;
    });
    return (this.client ?? (await this.ready)).request(op, args);
  }

  close(): void {
    this.client?.close();
  }
}
