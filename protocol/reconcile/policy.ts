/**
 * How many coded symbols to ask for, and when to give up on symbols for the
 * plain item list: the sizing decisions of a session, as pure functions.
 *
 * How this works: a rateless IBLT needs about 1.37·d symbols for large d and
 * relatively more, with a long tail, for small d (measured with this mapping:
 * d = 10 needs 16 symbols at the median and 36 at the 99th percentile; d =
 * 1,000 needs 1,370 and 1,475). Each batch is sized to finish with high
 * probability while the byte targets still hold:
 * - first batch, sent with `rcDiffer` before anything is known: the count gap
 *   |nA - nB| is a lower bound on d (and is d when one side simply missed
 *   writes), so a batch sized for it often finishes in one round trip; with
 *   no gap, 4 symbols (d = 1 always decodes from symbol 0);
 * - second batch, sized from the estimator (±25%): generous for small d,
 *   where a third round trip is what the targets forbid, and close to the
 *   median for large d, where one accurate top-up round is cheaper than
 *   sending for the worst case;
 * - later batches, sized from the symbols already received, which estimate d
 *   to a few percent: a safe margin over 1.37·d.
 * The item list costs 8 bytes per item of the responder's set against 12 per
 * symbol; whichever is cheaper for what remains is used.
 */
import { DEFAULT_BUDGET_BYTES, MIN_BUDGET_BYTES, unitsPerMessage } from './messages.ts';
import { ITEM_BYTES } from './item-set.ts';
import { SYMBOL_BYTES } from './symbols.ts';

/** Symbols in the first batch, given the gap between the two set counts. */
export function firstBatchSymbols(countGap: number): number {
  return countGap <= 2 ? 4 : Math.ceil(1.4 * countGap + 3 * Math.sqrt(countGap) + 8);
}

/** Prefix length to reach once the estimator says the difference is about `estimate`. */
export function symbolsForEstimate(estimate: number): number {
  // The additive margin covers the long tail at small d; it stops growing at d = 64, beyond which
  // a short batch costs one more round trip (allowed) rather than a miss of the byte target.
  return Math.ceil(1.45 * estimate + Math.min(12 + 4 * Math.sqrt(estimate), 44));
}

/** Prefix length to reach after a short batch, when the received symbols say the difference is about `d`. */
export function symbolsForResidual(d: number): number {
  return Math.ceil(1.6 * d + 3 * Math.sqrt(d) + 16);
}

/** True when sending `symbols` more symbols would cost more than the peer's whole item list. */
export function listIsCheaper(symbols: number, remoteCount: number): boolean {
  return symbols * SYMBOL_BYTES > remoteCount * ITEM_BYTES;
}

/**
 * The most symbols a responder will ever produce for sets of these sizes:
 * far past what any difference of at most nA + nB items needs, and a hard
 * bound on its memory (12 bytes per symbol).
 */
export function symbolCap(localCount: number, remoteCount: number): number {
  return 2 * (localCount + remoteCount) + 64;
}

/** Options shared by both sides of a session. */
export interface ReconcileOptions {
  /** Largest encoded message in bytes (default 1400, at least 160). */
  budgetBytes?: number;
  /** Most messages sent in answer to one request: the pacing of big transfers (default 32). */
  maxMessagesPerFlight?: number;
  /** Largest set a peer may claim; a bigger claim ends the session (default 10,000,000). */
  maxItems?: number;
  /** Timeouts in a row, with nothing heard in between, before the initiator gives up (default 16). */
  maxRetries?: number;
}

/** How many symbols and items fit one message and one flight under the options. */
export interface FlightLimits {
  symbolsPerMessage: number;
  symbolsInDiffer: number;
  itemsPerMessage: number;
  symbolsPerFlight: number;
  itemsPerFlight: number;
  maxItems: number;
  maxRetries: number;
}

/** Resolves the options into per-message and per-flight limits; throws on a budget too small to work. */
export function flightLimits(opts: ReconcileOptions): FlightLimits {
  const budget = opts.budgetBytes ?? DEFAULT_BUDGET_BYTES;
  const flight = opts.maxMessagesPerFlight ?? 32;
  if (!(budget >= MIN_BUDGET_BYTES) || !(flight >= 1)) {
    throw new RangeError(`reconcile: budgetBytes must be >= ${MIN_BUDGET_BYTES} and maxMessagesPerFlight >= 1`);
  }
  const symbolsPerMessage = unitsPerMessage('rcSymbols', SYMBOL_BYTES, budget);
  const itemsPerMessage = unitsPerMessage('rcItems', ITEM_BYTES, budget);
  return {
    symbolsPerMessage,
    symbolsInDiffer: unitsPerMessage('rcDiffer', SYMBOL_BYTES, budget),
    itemsPerMessage,
    symbolsPerFlight: symbolsPerMessage * flight,
    itemsPerFlight: itemsPerMessage * flight,
    maxItems: opts.maxItems ?? 10_000_000,
    maxRetries: opts.maxRetries ?? 16,
  };
}
