/**
 * The cluster members a one-shot command learnt, kept between runs, so
 * that the next command reaches the cluster through another member when
 * the server it is pointed at has died: `contacts get X` with the default
 * server down tries the members the last commands heard of, in the order
 * they were heard, and says so on stderr.
 *
 * One small JSON file (`members.json` in $CONTACTS_STATE_DIR, else
 * $XDG_STATE_HOME/contacts, else ~/.local/state/contacts), readable by its
 * owner only; none without a HOME. Entries are keyed by cluster name and the servers the user
 * gave, so a test cluster and a production one, both called "contacts",
 * never lend each other members. Bounded: MAX_ENTRIES keys of at most
 * SERVERS_MAX addresses each; the oldest key goes first.
 *
 * The cache is a hint, never a source of truth: a missing, unreadable or
 * corrupt file is treated as empty and rewritten, and a failed write
 * costs nothing but the hint (the command has already succeeded).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAddress } from '../protocol/types.ts';

/** Keys (cluster and given servers) remembered at most. */
export const MAX_ENTRIES = 32;
/** Addresses kept per key at most (the client's own failover bound). */
export const MAX_MEMBERS = 256;
/** A hint older than this is refreshed (one `members` request) after a command that succeeded. */
export const REFRESH_AFTER_MS = 60_000;

interface Entry {
  savedAtMs: number;
  members: string[];
}

interface CacheFile {
  version: 1;
  entries: Record<string, Entry>;
}

/** Where the cache lives for this environment; undefined when there is no home to put it in. */
export function memberCacheDir(env: Record<string, string | undefined>): string | undefined {
  if (env.CONTACTS_STATE_DIR) return env.CONTACTS_STATE_DIR;
  if (env.XDG_STATE_HOME) return join(env.XDG_STATE_HOME, 'contacts');
  return env.HOME ? join(env.HOME, '.local', 'state', 'contacts') : undefined;
}

export class MemberCache {
  private readonly file: string;

  constructor(readonly dir: string) {
    this.file = join(dir, 'members.json');
  }

  /** The members remembered for `cluster` reached through `given`, freshest order; [] when none. */
  members(cluster: string, given: readonly string[]): string[] {
    return this.read().entries[keyOf(cluster, given)]?.members.filter((a) => !given.includes(a)) ?? [];
  }

  /** Whether the hint for `cluster` through `given` is missing or older than REFRESH_AFTER_MS. */
  stale(cluster: string, given: readonly string[], nowMs: number): boolean {
    const e = this.read().entries[keyOf(cluster, given)];
    return !e || nowMs - e.savedAtMs > REFRESH_AFTER_MS || nowMs < e.savedAtMs;
  }

  /** Remembers `members` (addresses of live members) for `cluster` through `given`. Never throws. */
  save(cluster: string, given: readonly string[], members: readonly string[], nowMs: number): void {
    try {
      const file = this.read();
      file.entries[keyOf(cluster, given)] = { savedAtMs: nowMs, members: [...new Set(members)].slice(0, MAX_MEMBERS) };
      const keys = Object.keys(file.entries).sort((a, b) => file.entries[b]!.savedAtMs - file.entries[a]!.savedAtMs);
      for (const k of keys.slice(MAX_ENTRIES)) delete file.entries[k];
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      const tmp = `${this.file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(file), { mode: 0o600 });
      renameSync(tmp, this.file);
    } catch {
      // Only a hint is lost.
    }
  }

  private read(): CacheFile {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(this.file, 'utf8'));
    } catch {
      return { version: 1, entries: {} };
    }
    const entries: Record<string, Entry> = {};
    const raw = (parsed as { version?: unknown; entries?: unknown })?.entries;
    if ((parsed as { version?: unknown })?.version !== 1 || typeof raw !== 'object' || raw === null) return { version: 1, entries };
    for (const [k, v] of Object.entries(raw as Record<string, unknown>).slice(0, MAX_ENTRIES)) {
      const e = v as Partial<Entry>;
      if (typeof e?.savedAtMs !== 'number' || !Array.isArray(e.members)) continue;
      const members = e.members.filter((a): a is string => typeof a === 'string' && parseAddress(a) !== undefined).slice(0, MAX_MEMBERS);
      entries[k] = { savedAtMs: e.savedAtMs, members };
    }
    return { version: 1, entries };
  }
}

function keyOf(cluster: string, given: readonly string[]): string {
  return `${cluster} ${[...given].sort().join(',')}`;
}
