/**
 * A small, fast, seedable PRNG (xoshiro128**, seeded through splitmix32), so
 * that every random choice the core makes (probe order, gossip targets,
 * jitter) replays exactly from a seed in the simulator. The daemon seeds it
 * from the operating system's entropy; the core itself never asks for
 * entropy.
 */
import type { Rng } from './types.ts';

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** xoshiro128** generator; `seed` is any 32-bit integer (or several, mixed). */
export class SeededRng implements Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(...seeds: number[]) {
    let mix = 0x243f6a88;
    for (const s of seeds) mix = (Math.imul(mix ^ (s >>> 0), 0x01000193) + (s / 0x100000000 >>> 0)) >>> 0;
    const sm = splitmix32(mix);
    this.a = sm();
    this.b = sm();
    this.c = sm();
    this.d = sm();
  }

  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.b << 9) >>> 0;
    this.c = (this.c ^ this.a) >>> 0;
    this.d = (this.d ^ this.b) >>> 0;
    this.b = (this.b ^ this.c) >>> 0;
    this.a = (this.a ^ this.d) >>> 0;
    this.c = (this.c ^ t) >>> 0;
    this.d = rotl(this.d, 11);
    return result;
  }

  next(): number {
    return this.nextU32() / 0x100000000;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** A child generator whose stream is independent of this one's next draws. */
  fork(): SeededRng {
    return new SeededRng(this.nextU32(), this.nextU32());
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Fisher–Yates shuffle in place, driven by `rng`. */
export function shuffle<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const tmp = items[i]!;
    items[i] = items[j]!;
    items[j] = tmp;
  }
  return items;
}
