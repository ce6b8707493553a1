/**
 * A contactd core's driver wired to its SQLite store: the write path of
 * the daemon (daemon.ts), shared with the write-path bench so that what is
 * measured is what runs.
 *
 * How this works: every event goes to the event handler, which keeps the
 * store changes it is handed; at the end of each drain the driver asks for
 * them (its commit barrier) and they go to SqliteContactStore.commit, which
 * folds whatever is queued while a transaction runs into the next one
 * (group commit). The driver holds every datagram drained after a commit
 * until that commit resolved: a write's answer to its client and its delta
 * to the peers leave only once the write is on disk.
 */
import type { NodeEvent } from '../protocol/node.ts';
import type { SansIoCore } from '../protocol/sans-io.ts';
import { Driver, type DatagramSink, type DriverOptions } from './driver.ts';
import type { NodeEventHandler } from './node-events.ts';
import type { SqliteContactStore } from './store/sqlite-store.ts';

export interface WritePathOptions {
  core: SansIoCore<NodeEvent>;
  sink: DatagramSink;
  events: NodeEventHandler;
  store: SqliteContactStore;
  /** A commit failed: memory is ahead of the disk and nothing after it was sent. The caller must stop taking writes (the daemon exits). */
  onCommitFailed: (err: unknown) => void;
  /** Anything else the driver caught; the node keeps running. */
  onError: (err: unknown, where: 'event' | 'transmit' | 'input') => void;
  /** Clock and timers, for tests; real ones by default. */
  now?: DriverOptions<NodeEvent>['now'];
}

/** The driver of `core` with its store changes committed to `store` before anything that follows them is sent. */
export function writePathDriver(o: WritePathOptions): Driver<NodeEvent> {
  return new Driver<NodeEvent>({
    core: o.core,
    sink: o.sink,
    onEvent: (e) => o.events.handle(e),
    // A write is acknowledged (and its delta sent) only once its transaction commits.
    commitBarrier: () => {
      const changes = o.events.takeStoreChanges();
      return changes.length > 0 ? o.store.commit(changes) : undefined;
    },
    onError: (err, where) => (where === 'commit' ? o.onCommitFailed(err) : o.onError(err, where)),
    ...(o.now ? { now: o.now } : {}),
  });
}
