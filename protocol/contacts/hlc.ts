/**
 * Hybrid logical clock (Kulkarni et al., 2014), pure: physical time comes in
 * as an argument and the node's last timestamp is passed in and handed back.
 *
 * How this works: a timestamp is (wall ms, logical counter). The next one
 * is at least the physical time and strictly above everything the node has
 * issued or written over, so a write always carries a later timestamp than
 * the values it replaces, and timestamps stay close to wall time (to show
 * users "when"). Among concurrent values of one field the winner a reader
 * sees is the greatest (hlc, origin, seq): a total order every node
 * computes the same way, whatever order it received the values in.
 */
import type { NodeId } from '../types.ts';

/** A hybrid logical timestamp. */
export interface Hlc {
  /** Wall-clock milliseconds (the larger of physical time and what was seen). */
  readonly wallMs: number;
  /** Breaks ties within one millisecond. */
  readonly logical: number;
}

/** Before every timestamp. */
export const HLC_ZERO: Hlc = Object.freeze({ wallMs: 0, logical: 0 });

/** Orders timestamps: negative when a < b, 0 when equal. */
export function hlcCompare(a: Hlc, b: Hlc): number {
  return a.wallMs - b.wallMs || a.logical - b.logical;
}

/** The later of two timestamps. */
export function hlcMax(a: Hlc, b: Hlc): Hlc {
  return hlcCompare(a, b) >= 0 ? a : b;
}

/** A fresh timestamp after `last` at physical time `nowMs`: strictly greater than `last`. */
export function hlcNext(last: Hlc, nowMs: number): Hlc {
  const wallMs = Math.max(last.wallMs, Math.floor(nowMs));
  return { wallMs, logical: wallMs === last.wallMs ? last.logical + 1 : 0 };
}

/** Orders stamped values for conflict winners: by hlc, then origin, then seq (unique per value). */
export function compareStamped(
  a: { readonly hlc: Hlc; readonly dot: { readonly origin: NodeId; readonly seq: number } },
  b: { readonly hlc: Hlc; readonly dot: { readonly origin: NodeId; readonly seq: number } },
): number {
  const byTime = hlcCompare(a.hlc, b.hlc);
  if (byTime !== 0) return byTime;
  if (a.dot.origin !== b.dot.origin) return a.dot.origin < b.dot.origin ? -1 : 1;
  return a.dot.seq - b.dot.seq;
}
