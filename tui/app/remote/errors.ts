/**
 * The client library's errors, recognised without loading it: the TUI
 * draws its first frame before tui/client.ts (and the wire codec with its
 * ~500 typebox modules) is loaded, so nothing on that path may import it
 * for a value. The classes name themselves (`name`), which is what we test.
 */
import type { NoServerError, RequestError } from '../../client.ts';

/** No server answered (every known one was tried). */
export function isNoServer(err: unknown): err is NoServerError {
  return err instanceof Error && err.name === 'NoServerError';
}

/** A server answered with an error (`code`, and `issues` naming fields). */
export function isRequestError(err: unknown): err is RequestError {
  return err instanceof Error && err.name === 'RequestError';
}
