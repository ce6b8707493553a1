/**
 * Runs one reconciliation session between two in-memory peers over a perfect
 * link, counting round trips: for benchmarks, examples and as the reference
 * a lossy test driver is compared with.
 *
 * How this works: messages travel in flights. The initiator's flight goes to
 * the responder, every reply goes back as the next flight, and so on until
 * the initiator has nothing more to say. A round trip is a flight to the
 * responder that drew at least one reply (so the closing `rcDone`, which
 * needs none, is a message but not a round trip).
 */
import type { ReconcileInitiator } from './initiator.ts';
import type { ReconcileMessage } from './messages.ts';
import type { ReconcileResponder } from './responder.ts';

/** What a loopback run observed. */
export interface LoopbackStats {
  roundTrips: number;
  messagesToResponder: number;
  messagesToInitiator: number;
}

/**
 * Runs the session to its end; `observe` sees every message in order with
 * its direction. Throws if it has not ended after `maxRoundTrips` (a bug).
 */
export function runLoopback(
  initiator: ReconcileInitiator,
  responder: ReconcileResponder,
  observe: (msg: ReconcileMessage, toResponder: boolean) => void = () => {},
  maxRoundTrips = 10_000,
): LoopbackStats {
  const stats: LoopbackStats = { roundTrips: 0, messagesToResponder: 0, messagesToInitiator: 0 };
  let flight = initiator.start();
  while (flight.length > 0) {
    const replies: ReconcileMessage[] = [];
    for (const msg of flight) {
      observe(msg, true);
      stats.messagesToResponder++;
      replies.push(...responder.handle(msg));
    }
    if (replies.length === 0) break;
    if (++stats.roundTrips > maxRoundTrips) throw new Error('reconcile loopback: session did not end');
    flight = [];
    for (const msg of replies) {
      observe(msg, false);
      stats.messagesToInitiator++;
      flight.push(...initiator.handle(msg));
    }
  }
  return stats;
}
