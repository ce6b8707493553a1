/**
 * The nonces of recent client requests, kept to refuse a replay: per
 * credential, so that what one credential sends can only ever get its own
 * requests refused.
 *
 * How this works. The gate (client-auth.ts) takes a request only while its
 * timestamp is within `windowMs` of our clock, and only once per nonce: a
 * nonce is kept until its timestamp has left the window (the window refuses
 * the request from then on). Memory is bounded: `max` nonces in all. Past
 * it, expired nonces are dropped first; if that is not enough, the
 * credential holding the most nonces gives up the one that arrived first,
 * and that credential's floor rises to its timestamp: its requests stamped
 * at or below the floor are refused from then on (their nonces may be
 * forgotten). A client that floods with a valid credential — say one
 * request stamped near the end of the window, then a flood to push it out —
 * raises only its own floor and shuts out only itself; every other
 * credential keeps its nonces and its floor. (A single cache with a single
 * floor let one read-only client lock every client out for the window.)
 * Credentials with state: those with live credentials (a request must
 * verify to get here, so at most LIMITS.maxCredentials at a time) and
 * those revoked within one window.
 */
import { invariant, type TimeMs } from '../types.ts';

export interface RequestReplayConfig {
  /** Nonces kept in all. */
  max: number;
  /** How far a request's timestamp may be from our clock (the gate's clockSkewMs). */
  windowMs: number;
}

interface PerCredential {
  /** Nonce (hex) → the request's timestamp, in arrival order. */
  readonly nonces: Map<string, TimeMs>;
  /** Requests stamped at or below it are refused: their nonces may be forgotten. */
  floorMs: TimeMs;
}

export type ReplayVerdict = 'fresh' | 'replay' | 'below-floor';

export class RequestReplayCache {
  private readonly byCredential = new Map<string, PerCredential>();
  private size = 0;
  readonly stats = { evicted: 0 };

  constructor(private readonly cfg: RequestReplayConfig) {}

  /** Whether the request `nonce` of `credential`, stamped `timeMs`, may be taken (nothing changes). */
  check(credential: string, nonce: string, timeMs: TimeMs): ReplayVerdict {
    const c = this.byCredential.get(credential);
    if (!c) return 'fresh';
    if (timeMs <= c.floorMs) return 'below-floor';
    return c.nonces.has(nonce) ? 'replay' : 'fresh';
  }

  /** Records a request `check` found fresh. */
  remember(now: TimeMs, credential: string, nonce: string, timeMs: TimeMs): void {
    let c = this.byCredential.get(credential);
    if (!c) {
      c = { nonces: new Map(), floorMs: -Infinity };
      this.byCredential.set(credential, c);
    }
    c.nonces.set(nonce, timeMs);
    this.size++;
    if (this.size > this.cfg.max) this.makeRoom(now);
  }

  /** Nonces kept (bounded by `max`). */
  get count(): number {
    return this.size;
  }

  private makeRoom(now: TimeMs): void {
    const expired = now - this.cfg.windowMs;
    for (const [id, c] of this.byCredential) {
      for (const [nonce, t] of c.nonces) {
        if (t >= expired) break; // arrival order is nearly time order: stop at the first live one
        c.nonces.delete(nonce);
        this.size--;
      }
      if (c.nonces.size === 0 && c.floorMs < expired) this.byCredential.delete(id);
    }
    if (this.size <= this.cfg.max) return;
    let largest: PerCredential | undefined;
    for (const c of this.byCredential.values()) if (!largest || c.nonces.size > largest.nonces.size) largest = c;
    invariant(largest !== undefined, 'over the bound, some credential holds nonces');
    const [nonce, t] = largest.nonces.entries().next().value as [string, TimeMs];
    largest.nonces.delete(nonce);
    largest.floorMs = Math.max(largest.floorMs, t);
    this.size--;
    this.stats.evicted++;
  }
}
