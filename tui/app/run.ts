/**
 * `contacts` with no command: the TUI on this process's terminal.
 *
 * How this works: opens the screen and the App with a live subscription
 * feed over a client that is still loading (the first frame does not wait
 * for the client library and its wire codec, the bulk of the start), then
 * waits for the user to quit. The
 * terminal is given back (screen.destroy: normal screen, cursor, no mouse
 * reporting, cooked mode) on every way out: q, Ctrl-C, SIGTERM, SIGHUP
 * (the terminal closed), SIGINT from outside, and a crash, which is then
 * printed on the restored terminal.
 */
import { App } from './app.ts';
import { DeferredClient } from './remote/deferred-client.ts';
import { LinkedClient } from './remote/link.ts';
import { SubscriptionFeed } from './remote/subscription-feed.ts';
import type { ClientCredential, ContactsClient } from '../client.ts';
import { chooseTerm, openScreen } from './terminal.ts';
import { themeFor } from './theme.ts';

export interface TuiOptions {
  servers: string[];
  cluster: string;
  /** The client's credential (--credential-file, CONTACTS_CREDENTIAL); undefined: anonymous. */
  credential?: ClientCredential | undefined;
  /** --term: the terminfo name to draw with. */
  term: string | undefined;
  env: Record<string, string | undefined>;
  err(text: string): void;
}

/** Runs the TUI until the user quits; resolves to the exit code. */
export function runTui(opts: TuiOptions): Promise<number> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    opts.err('contacts: the interactive TUI needs a terminal on stdin and stdout; in scripts use a command (contacts --help)\n');
    return Promise.resolve(2);
  }
  let linked: LinkedClient | undefined;
  // The client library (and the wire codec under it) loads after the first frame is drawn; writes and the subscription share it.
  let loading: Promise<ContactsClient> | undefined;
  const load = (): Promise<ContactsClient> => (loading ??= import('../client.ts').then(({ ContactsClient }) =>
    new ContactsClient({ servers: opts.servers, cluster: opts.cluster, credential: opts.credential, onFailover: (from, to) => linked?.failover(from, to) })));
  linked = new LinkedClient(new DeferredClient(load, opts.servers));
  const { term, notice } = chooseTerm(opts.term, opts.env);
  const screen = openScreen({ input: process.stdin, output: process.stdout, term });
  return new Promise((resolve) => {
    let done = false;
    const finish = (code: number, crash?: unknown): void => {
      if (done) return;
      done = true;
      try {
        app.stop();
      } finally {
        screen.destroy();
        for (const [sig, h] of handlers) process.off(sig, h);
        if (crash !== undefined) opts.err(`contacts: the TUI crashed; the terminal is restored.\n${(crash as Error)?.stack ?? String(crash)}\n`);
        resolve(code);
        // Requests still retrying against dead servers would hold the process for seconds after the
        // user asked to leave (and the client's socket must not close under them): exit once the
        // terminal has its last bytes.
        process.stdout.write('', () => process.exit(code));
      }
    };
    const handlers: [NodeJS.Signals | 'uncaughtException' | 'unhandledRejection', (...a: unknown[]) => void][] = [
      ['SIGTERM', () => finish(143)], ['SIGHUP', () => finish(129)], ['SIGINT', () => finish(130)],
      ['uncaughtException', (e) => finish(1, e)], ['unhandledRejection', (e) => finish(1, e)],
    ];
    for (const [sig, h] of handlers) process.on(sig, h);
    const app = new App({
      screen, theme: themeFor(opts.env), client: linked!, feed: new SubscriptionFeed(load, linked!),
      onQuit: () => finish(0), notices: notice ? [notice] : [],
    });
    try {
      app.start();
    } catch (err) {
      finish(1, err);
    }
  });
}
