/**
 * The SQLite store's failures. Each message says what happened and what the
 * operator (or the calling code) should do next, because the daemon logs an
 * OperatorError as one line without a stack.
 */
import { OperatorError } from '../errors.ts';

/** The database cannot be used as it is (corrupt, too new, not ours, unreadable); the message says what to do. */
export class StoreOpenError extends OperatorError {
  override name = 'StoreOpenError';
}

/**
 * A commit failed, or an earlier one did: the writes it carried must not be
 * acknowledged, and the process should stop and restart (the in-memory
 * state is ahead of the disk; a restart reloads the last committed state).
 */
export class StoreCommitError extends OperatorError {
  override name = 'StoreCommitError';
}

/** The store was used after close(): a bug in the caller's shutdown order. */
export class StoreClosedError extends Error {
  override name = 'StoreClosedError';
}
