/**
 * The daemon's failures that an operator can fix (a port in use, a locked
 * data directory, a bad option). Their message says what to do, so they are
 * logged as one line without a stack trace; any other error is a bug and is
 * logged with its stack.
 */

/** A failure whose message tells the operator what to do. */
export class OperatorError extends Error {
  override name = 'OperatorError';
}
