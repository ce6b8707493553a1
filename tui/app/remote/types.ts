/**
 * What the TUI knows of the cluster and how it hears of it: the small
 * interface between the screen and the network.
 *
 * How this works. A `Feed` keeps the app's copy of the contacts and the
 * member list current by calling a `FeedSink`: today `PollingFeed` reads
 * everything about once a second and hands over snapshots; a subscription
 * feed hands over single changes as the server pushes them, and a snapshot
 * after it resyncs. The app does not care which: the model accepts both.
 * Where the client is attached (`Link`) is watched apart from the feed,
 * because writes move between servers too (link.ts).
 */
import type { Contact } from '../../../protocol/contacts/model.ts';

/** A member's state, as the attached server sees it. */
export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

/** One cluster member, as the `members` op answers. */
export interface Member {
  id: string;
  name: string;
  address: string;
  state: MemberState;
  incarnation: number;
  /** Milliseconds since the attached server last heard from it when it answered; null: never. */
  lastHeardMsAgo: number | null;
}

/** Where the client stands with the cluster. */
export type Link =
  | { readonly kind: 'connecting'; readonly trying: string }
  | { readonly kind: 'attached'; readonly server: string }
  | { readonly kind: 'moving'; readonly from: string; readonly to: string }
  | { readonly kind: 'offline'; readonly tried: readonly string[]; readonly sinceMs: number };

/** How current the app's data is, for the top line. */
export type SyncState =
  | { readonly kind: 'loading' }
  /** Read in full at `lastAtMs`; read again every `everyMs`. */
  | { readonly kind: 'polling'; readonly lastAtMs: number; readonly everyMs: number }
  /** Subscribed: changes arrive as they happen. */
  | { readonly kind: 'live'; readonly lastAtMs: number }
  /** Last read at `lastAtMs` (undefined: never); the next try is at `retryAtMs`. */
  | { readonly kind: 'stale'; readonly lastAtMs: number | undefined; readonly retryAtMs: number };

/** What a feed tells the app. */
export interface FeedSink {
  /** Every live contact, as read at `atMs` (a poll, or a resync). */
  snapshot(contacts: readonly Contact[], atMs: number): void;
  /** One contact appeared or changed. */
  changed(contact: Contact): void;
  /** One contact was deleted. */
  removed(id: string): void;
  /** The member list, as read at `atMs`. */
  members(members: readonly Member[], atMs: number): void;
  sync(state: SyncState): void;
  /** Something worth a line in the event log: a problem the feed works around, or a re-read and why. */
  note(kind: 'info' | 'error', message: string): void;
}

/** Keeps a FeedSink current until stopped. */
export interface Feed {
  start(sink: FeedSink): void;
  /** A write was made here: a feed that polls reads again soon (one that is pushed changes need not). */
  wrote(): void;
  /** The user asked to read everything again. */
  refresh(): void;
  stop(): void;
}
