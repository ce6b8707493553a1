/**
 * What the store's main-thread face (sqlite-store.ts) and its writer thread
 * (commit-worker.ts) say to each other. Everything here survives a
 * structured clone: strings, numbers, bigints and plain objects.
 */
import type { DotCloud } from '../../protocol/contacts/dots.ts';
import type { WriterChange } from './net-changes.ts';

/** How the writer thread starts (its workerData). */
export interface WriterInit {
  readonly path: string;
  readonly synchronous: 'FULL' | 'NORMAL';
  readonly busyTimeoutMs: number;
  readonly groupChangesMax: number;
  /** The applied cloud on disk at open: the writer rewrites each origin's ranges whole. */
  readonly applied: DotCloud;
}

/** One commit() call: its sequence number (calls are numbered in order from 1) and its changes. */
export interface WriterBatch {
  readonly seq: number;
  readonly changes: readonly WriterChange[];
}

export type ToWriter =
  /** Batches in call order (those of one pass of the main thread's event loop travel together, at most ~POST_CHANGES changes a message). */
  | { readonly type: 'commit'; readonly batches: readonly WriterBatch[] }
  | { readonly type: 'settings' }
  /** Finish what is queued, close the connection, answer 'closed'. */
  | { readonly type: 'close' };

/** The write connection's durability settings as SQLite reports them. */
export interface WriterSettings {
  readonly journalMode: string;
  readonly synchronous: 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA';
  readonly foreignKeys: boolean;
}

export type FromWriter =
  /** The connection is open and configured. */
  | { readonly type: 'ready' }
  /** Opening the connection failed. */
  | { readonly type: 'open-failed'; readonly message: string }
  /** Every batch up to `upTo` is committed (COMMIT returned: the WAL is synced). */
  | { readonly type: 'committed'; readonly upTo: number; readonly batches: number; readonly changes: number }
  /** The transaction holding the batches up to `upTo` failed (or an earlier one did): the writer commits nothing from now on. */
  | { readonly type: 'failed'; readonly upTo: number; readonly message: string }
  | { readonly type: 'settings'; readonly settings: WriterSettings }
  | { readonly type: 'settings'; readonly error: string }
  | { readonly type: 'closed' };
