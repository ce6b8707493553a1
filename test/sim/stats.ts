/**
 * Traffic counters: per node, and for the whole run.
 *
 * How this works: the simulation bumps plain numeric fields on the hot path
 * (no maps, no strings). A datagram the network loses is counted against its
 * sender (`droppedDatagrams`) and, by cause, in the totals' `dropped`
 * record, so a test can tell "lost to 10% loss" from "sent into a
 * partition" from "sent to a crashed node".
 */

/** Why a datagram that was sent was never handed to a core. */
export type DropReason =
  /** random loss on the link */
  | 'loss'
  /** a symmetric partition or a one-way block was in force when it was sent */
  | 'partition'
  /** a rate-limited (clogged) link's backlog was full */
  | 'clog'
  /** no node has ever had the destination address */
  | 'noRoute'
  /** the destination node was crashed when it arrived */
  | 'deadNode'
  /** the destination was paused and its socket buffer was full */
  | 'bufferFull';

/** Counters for one node, kept across its crashes and restarts. */
export class NodeStats {
  sentDatagrams = 0;
  sentBytes = 0;
  receivedDatagrams = 0;
  receivedBytes = 0;
  /** Datagrams this node sent that never reached a core (any DropReason). */
  droppedDatagrams = 0;
  /** handleTimeout calls made. */
  timeouts = 0;
  /** Events the core emitted (persist included). */
  events = 0;
  crashes = 0;
  restarts = 0;
}

/** Counters for the whole run. */
export interface Totals {
  sentDatagrams: number;
  sentBytes: number;
  receivedDatagrams: number;
  receivedBytes: number;
  droppedDatagrams: number;
  /** Extra copies the network delivered (each counts once more in receivedDatagrams). */
  duplicatedDatagrams: number;
  /** Largest datagram any node sent: the budget check. */
  maxDatagramBytes: number;
  timeouts: number;
  events: number;
  /** Agenda entries processed: deliveries, timer wake-ups, scripted actions. */
  steps: number;
  dropped: Record<DropReason, number>;
}

/** A zeroed drop-by-cause record. */
export function emptyDrops(): Record<DropReason, number> {
  return { loss: 0, partition: 0, clog: 0, noRoute: 0, deadNode: 0, bufferFull: 0 };
}

/** Sums per-node counters; the run-wide fields (duplicates, max size, steps, causes) come from `run`. */
export function sumTotals(
  nodes: readonly NodeStats[],
  run: Pick<Totals, 'duplicatedDatagrams' | 'maxDatagramBytes' | 'steps' | 'dropped'>,
): Totals {
  const t: Totals = {
    sentDatagrams: 0,
    sentBytes: 0,
    receivedDatagrams: 0,
    receivedBytes: 0,
    droppedDatagrams: 0,
    duplicatedDatagrams: run.duplicatedDatagrams,
    maxDatagramBytes: run.maxDatagramBytes,
    timeouts: 0,
    events: 0,
    steps: run.steps,
    dropped: { ...run.dropped },
  };
  for (const s of nodes) {
    t.sentDatagrams += s.sentDatagrams;
    t.sentBytes += s.sentBytes;
    t.receivedDatagrams += s.receivedDatagrams;
    t.receivedBytes += s.receivedBytes;
    t.droppedDatagrams += s.droppedDatagrams;
    t.timeouts += s.timeouts;
    t.events += s.events;
  }
  return t;
}
