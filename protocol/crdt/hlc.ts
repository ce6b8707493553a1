/**
 * Hybrid logical clock (Kulkarni et al., 2014), pure: physical time comes in
 * as an argument. A timestamp is (wall ms, counter); it never goes backwards
 * on one node and always exceeds every timestamp the node has seen, so the
 * largest (hlc, origin) among concurrent values is a winner every node
 * agrees on, and it tracks wall time closely enough to show users "when".
 */
import type { NodeId } from '../types.ts';

export interface Hlc {
  readonly t: number;
  readonly c: number;
}

export const HLC_ZERO: Hlc = { t: 0, c: 0 };

/** Orders timestamps: negative when a < b. */
export function compareHlc(a: Hlc, b: Hlc): number {
  return a.t - b.t || a.c - b.c;
}

/** Orders (hlc, origin) pairs: the total order conflict winners are chosen by. */
export function compareStamp(a: Hlc, ao: NodeId, b: Hlc, bo: NodeId): number {
  return compareHlc(a, b) || (ao < bo ? -1 : ao > bo ? 1 : 0);
}

/** One node's clock state. */
export class HlcClock {
  private last: Hlc = HLC_ZERO;

  /** A fresh timestamp for a local event at physical time `nowMs`. */
  tick(nowMs: number): Hlc {
    const t = Math.max(this.last.t, Math.floor(nowMs));
    this.last = { t, c: t === this.last.t ? this.last.c + 1 : 0 };
    return this.last;
  }

  /** Folds in a timestamp seen from elsewhere, so our next tick exceeds it. */
  observe(remote: Hlc): void {
    if (compareHlc(remote, this.last) > 0) this.last = remote;
  }

  get current(): Hlc {
    return this.last;
  }
}
