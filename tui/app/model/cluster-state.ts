/**
 * The cluster as the TUI shows it: the member list from the attached
 * server, and a bounded log of what happened (joins, suspicions, deaths,
 * leaves, conflicts, failovers).
 *
 * How this works: each member list that arrives is compared with the last
 * one; a member seen for the first time is a join (except in the very
 * first list, which is the cluster as we found it), and a changed state is
 * logged under that state. "Last heard" grows on screen between reads: the
 * age the server reported plus the time since its answer arrived.
 */
import type { Member, MemberState } from '../remote/types.ts';

/** What an event log line is about (it picks the colour). */
export type EventKind = 'join' | MemberState | 'conflict' | 'failover' | 'offline' | 'info' | 'error';

export interface LogEntry {
  atMs: number;
  kind: EventKind;
  text: string;
}

/** Lines the event log keeps; older ones are dropped. */
export const LOG_LINES_MAX = 1000;

export class EventLog {
  private readonly lines: LogEntry[] = [];
  /** Lines dropped so far (for the log's title). */
  dropped = 0;

  add(entry: LogEntry): void {
    this.lines.push(entry);
    if (this.lines.length > LOG_LINES_MAX) {
      this.lines.shift();
      this.dropped++;
    }
  }

  get entries(): readonly LogEntry[] {
    return this.lines;
  }
}

const STATE_ORDER: Record<MemberState, number> = { alive: 0, suspect: 1, dead: 2, left: 3 };

export class ClusterState {
  private list: Member[] = [];
  private byId = new Map<string, Member>();
  private receivedAtMs = 0;
  private loaded = false;

  get members(): readonly Member[] {
    return this.list;
  }

  /** Takes a member list read at `atMs`; returns the log entries its changes make. */
  update(members: readonly Member[], atMs: number): LogEntry[] {
    const events: LogEntry[] = [];
    for (const m of members) {
      const before = this.byId.get(m.id);
      const who = `${m.name} (${m.address})`;
      if (!before) {
        if (this.loaded) events.push({ atMs, kind: 'join', text: `${who} joined (${m.state})` });
      } else if (before.state !== m.state) {
        const verb = m.state === 'alive' ? 'is alive again' : m.state === 'suspect' ? 'is suspected' : m.state === 'dead' ? 'is dead' : 'left the cluster';
        events.push({ atMs, kind: m.state, text: `${who} ${verb} (was ${before.state}, incarnation ${m.incarnation})` });
      }
    }
    const now = new Set(members.map((m) => m.id));
    for (const m of this.list) {
      if (!now.has(m.id)) events.push({ atMs, kind: 'left', text: `${m.name} (${m.address}) is no longer listed (was ${m.state})` });
    }
    if (!this.loaded) events.push({ atMs, kind: 'info', text: `cluster of ${members.length}: ${members.map((m) => `${m.name} ${m.state}`).join(', ')}` });
    this.loaded = true;
    this.list = [...members].sort((a, b) => STATE_ORDER[a.state] - STATE_ORDER[b.state] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.byId = new Map(members.map((m) => [m.id, m]));
    this.receivedAtMs = atMs;
    return events;
  }

  /** How many members are in each state. */
  counts(): Record<MemberState, number> {
    const c: Record<MemberState, number> = { alive: 0, suspect: 0, dead: 0, left: 0 };
    for (const m of this.list) c[m.state]++;
    return c;
  }

  /** Milliseconds since `m` was last heard from, as of `nowMs`; null when never. */
  heardAgoMs(m: Member, nowMs: number): number | null {
    return m.lastHeardMsAgo === null ? null : m.lastHeardMsAgo + Math.max(0, nowMs - this.receivedAtMs);
  }

  /** The member's name for a node id or an address, if known. */
  nameOf(idOrAddress: string): string | undefined {
    return this.byId.get(idOrAddress)?.name ?? this.list.find((m) => m.address === idOrAddress)?.name;
  }

  /** `name (address)` for a server address, or the address alone. */
  describe(address: string): string {
    const name = this.nameOf(address);
    return name ? `${name} (${address})` : address;
  }

  /** A server's name if known, else its address (for the top line, where room is short). */
  short(address: string): string {
    return this.nameOf(address) ?? address;
  }
}
