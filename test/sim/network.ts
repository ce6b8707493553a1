/**
 * The simulated network between node indices: who can hear whom (symmetric
 * partitions, one-way blocks), how each directed link behaves (a base
 * LinkConfig with per-link overrides), and clogs (extra delay or a rate
 * limit on chosen links). It decides each datagram's fate; the simulation
 * owns the clock and the agenda.
 *
 * How this works: `plan(from, to, size, nowMs, out)` returns how many copies
 * arrive (0, 1 or 2) and writes their arrival times into `out`; on 0,
 * `dropReason` says why. Reachability is decided when a datagram is sent: a
 * datagram already in flight when a partition starts still lands, as one
 * already past the cut switch would. A rate-limited link serialises
 * datagrams (each occupies the link for size/rate) and drops what would wait
 * longer than its backlog allows, as a full router queue does. Every random
 * draw comes from the one network Rng in send order, so fates replay exactly.
 * Links are keyed `from * 65536 + to`, hence at most 65,536 nodes.
 */
import type { Rng, TimeMs } from '../../protocol/types.ts';
import { SimUsageError } from './checks.ts';
import { CompiledLink, DEFAULT_LINK, compileLink, type LinkConfig } from './link-model.ts';
import type { DropReason } from './stats.ts';

/** Extra trouble on a directed link, on top of its LinkConfig. */
export interface Clog {
  /** Added to every datagram's delay. */
  readonly extraDelayMs?: number;
  /** Serialisation rate; each datagram holds the link for size * 1000 / bytesPerSec ms. */
  readonly bytesPerSec?: number;
  /** With a rate: a datagram that would wait longer than this to start is dropped. Default 1000. */
  readonly maxBacklogMs?: number;
}

interface ClogState {
  readonly extraDelayMs: number;
  readonly bytesPerSec: number;
  readonly maxBacklogMs: number;
  busyUntilMs: number;
}

/** Largest node count a link key can address. */
export const MAX_NODES = 0x10000;

function linkKey(from: number, to: number): number {
  return from * MAX_NODES + to;
}

/** Topology and link behaviour; see the file comment. */
export class Network {
  private base: CompiledLink;
  private readonly patches = new Map<number, Partial<LinkConfig>>();
  private readonly overrides = new Map<number, CompiledLink>();
  /** Group number per node while partitioned; nodes in no listed group share group 0. */
  private groupOf: number[] = [];
  private partitioned = false;
  private readonly blocked = new Set<number>();
  private readonly clogs = new Map<number, ClogState>();
  /** Why the last `plan` returned 0. */
  dropReason: DropReason = 'loss';

  constructor(private readonly rng: Rng, config: Partial<LinkConfig> = {}) {
    this.base = compileLink(DEFAULT_LINK, config);
  }

  /** The base link behaviour now in force. */
  get config(): LinkConfig {
    return this.base.config;
  }

  /** Changes the base behaviour of every link; per-link overrides stay laid over the new base. */
  configure(patch: Partial<LinkConfig>): void {
    this.base = compileLink(this.base.config, patch);
    for (const [key, p] of this.patches) this.overrides.set(key, compileLink(this.base.config, p));
  }

  /** Overrides the behaviour of links from each of `froms` to each of `tos` (directed). */
  setLinks(froms: readonly number[], tos: readonly number[], patch: Partial<LinkConfig>): void {
    for (const f of froms) {
      for (const t of tos) {
        const key = linkKey(f, t);
        const merged = { ...this.patches.get(key), ...patch };
        this.patches.set(key, merged);
        this.overrides.set(key, compileLink(this.base.config, merged));
      }
    }
  }

  /** Drops every per-link override. */
  clearLinks(): void {
    this.patches.clear();
    this.overrides.clear();
  }

  /**
   * Splits the nodes into groups that cannot reach each other (both ways).
   * Nodes named in no group form one more group together. Replaces any
   * earlier partition; one-way blocks are kept.
   */
  partition(groups: readonly (readonly number[])[]): void {
    this.groupOf = [];
    groups.forEach((group, g) => {
      for (const node of group) {
        if (this.groupOf[node] !== undefined) throw new SimUsageError(`node ${node} is in two partition groups`);
        this.groupOf[node] = g + 1;
      }
    });
    this.partitioned = true;
  }

  /** Stops datagrams from each of `froms` reaching each of `tos`; the reverse direction is untouched. */
  blockOneWay(froms: readonly number[], tos: readonly number[]): void {
    for (const f of froms) for (const t of tos) this.blocked.add(linkKey(f, t));
  }

  /** Clogs every link from each of `froms` to each of `tos` (directed); replaces an earlier clog there. */
  clog(froms: readonly number[], tos: readonly number[], clog: Clog): void {
    const extraDelayMs = clog.extraDelayMs ?? 0;
    const bytesPerSec = clog.bytesPerSec ?? Infinity;
    const maxBacklogMs = clog.maxBacklogMs ?? 1000;
    if (!(extraDelayMs >= 0 && bytesPerSec > 0 && maxBacklogMs >= 0)) {
      throw new SimUsageError(`clog makes no sense: ${JSON.stringify(clog)}`);
    }
    for (const f of froms) {
      for (const t of tos) this.clogs.set(linkKey(f, t), { extraDelayMs, bytesPerSec, maxBacklogMs, busyUntilMs: 0 });
    }
  }

  /** Removes clogs from each of `froms` to each of `tos`. */
  unclog(froms: readonly number[], tos: readonly number[]): void {
    for (const f of froms) for (const t of tos) this.clogs.delete(linkKey(f, t));
  }

  /** Ends every partition, one-way block and clog; per-link overrides stay. */
  heal(): void {
    this.groupOf = [];
    this.partitioned = false;
    this.blocked.clear();
    this.clogs.clear();
  }

  /** True when a datagram sent now from `from` would not be cut off on its way to `to`. */
  canReach(from: number, to: number): boolean {
    if (this.partitioned && (this.groupOf[from] ?? 0) !== (this.groupOf[to] ?? 0)) return false;
    return this.blocked.size === 0 || !this.blocked.has(linkKey(from, to));
  }

  /** Decides one datagram's fate: the number of copies that arrive, their arrival times in `out`. */
  plan(from: number, to: number, sizeBytes: number, nowMs: TimeMs, out: number[]): number {
    if (!this.canReach(from, to)) {
      this.dropReason = 'partition';
      return 0;
    }
    const key = linkKey(from, to);
    const link = this.overrides.size === 0 ? this.base : (this.overrides.get(key) ?? this.base);
    const rng = this.rng;
    if (link.lossRate > 0 && rng.next() < link.lossRate) {
      this.dropReason = 'loss';
      return 0;
    }
    let departMs = nowMs;
    if (this.clogs.size > 0) {
      const clog = this.clogs.get(key);
      if (clog !== undefined) {
        const departed = this.departClogged(clog, sizeBytes, nowMs);
        if (departed < 0) {
          this.dropReason = 'clog';
          return 0;
        }
        departMs = departed;
      }
    }
    const copies = link.duplicateRate > 0 && rng.next() < link.duplicateRate ? 2 : 1;
    for (let i = 0; i < copies; i++) out[i] = Math.ceil(departMs + link.sampleDelayMs(rng));
    return copies;
  }

  /** Time the datagram leaves a clogged link (before propagation delay), or -1 when the backlog is full. */
  private departClogged(clog: ClogState, sizeBytes: number, nowMs: number): number {
    if (clog.bytesPerSec === Infinity) return nowMs + clog.extraDelayMs;
    const startMs = Math.max(nowMs, clog.busyUntilMs);
    if (startMs - nowMs > clog.maxBacklogMs) return -1;
    clog.busyUntilMs = startMs + (sizeBytes * 1000) / clog.bytesPerSec;
    return clog.busyUntilMs + clog.extraDelayMs;
  }
}
