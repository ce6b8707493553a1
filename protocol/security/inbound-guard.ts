/**
 * The first thing every inbound datagram meets: rate limits, before any
 * decoding or cryptography, so that a flood costs us a map lookup per
 * datagram and never grows memory.
 *
 * How this works. Three lanes, each its own bounded map of token buckets
 * (rate-limit.ts), so that no lane's crowd can push another lane's sources
 * out:
 * - members: a source address in the member table gets a generous bucket
 *   of its own (catch-up bursts, push/pull). The caller says whether an
 *   address is a member's; only the member table decides, so neither
 *   clients nor strangers can evict a member from this lane. (A flood that
 *   forges a member's address spends that member's bucket: that needs more
 *   than trustedPerSecond forged datagrams a second, and is what a
 *   per-address limit cannot tell apart.)
 * - trusted: a source that proved a key (a client request whose credential
 *   verified, a sealed datagram from a node not yet in the table) gets the
 *   same generous bucket, least recently used forgotten first, so a crowd
 *   of short-lived CLI runs (each from a new port) never evicts a client
 *   that keeps talking.
 * - strangers: everyone else, per IP address (not per port: a flooder
 *   cycling ports gets no fresh burst; on loopback per port, as nobody off
 *   this host can forge a loopback source and local clients each have their
 *   own), and all strangers together share one global bucket, so that a
 *   flood from many forged addresses is bounded too.
 * Past a bucket the datagram is dropped and counted as 'rate-limited'.
 */
import type { Address, TimeMs } from '../types.ts';
import { TokenBucket, TokenBuckets } from './rate-limit.ts';

export interface InboundLimits {
  /** Datagrams a second, and the burst, from one source not yet authenticated. */
  strangerPerSecond: number;
  strangerBurst: number;
  /** Datagrams a second, and the burst, from all such sources together. */
  strangersPerSecond: number;
  strangersBurst: number;
  /** Datagrams a second, and the burst, from one member's address or one authenticated source. */
  trustedPerSecond: number;
  trustedBurst: number;
  /** Sources remembered per lane (member addresses, trusted sources, stranger IPs). */
  maxSources: number;
}

export const DEFAULT_INBOUND_LIMITS: InboundLimits = {
  strangerPerSecond: 200,
  strangerBurst: 400,
  strangersPerSecond: 5_000,
  strangersBurst: 10_000,
  trustedPerSecond: 20_000,
  trustedBurst: 40_000,
  maxSources: 4096,
};

export class InboundGuard {
  private readonly strangers: TokenBuckets<string>;
  private readonly allStrangers: TokenBucket;
  private readonly trusted: TokenBuckets<Address>;
  private readonly members: TokenBuckets<Address>;
  readonly stats = { limited: 0 };

  constructor(readonly limits: InboundLimits = DEFAULT_INBOUND_LIMITS) {
    this.strangers = new TokenBuckets({ perSecond: limits.strangerPerSecond, burst: limits.strangerBurst, maxKeys: limits.maxSources });
    this.allStrangers = new TokenBucket(limits.strangersPerSecond, limits.strangersBurst);
    const wide = { perSecond: limits.trustedPerSecond, burst: limits.trustedBurst, maxKeys: limits.maxSources };
    this.trusted = new TokenBuckets({ ...wide, lru: true });
    this.members = new TokenBuckets(wide);
  }

  /** Whether to look at a datagram from `from` at all; `member`: `from` is a member's address in the member table. */
  admit(now: TimeMs, from: Address, member = false): boolean {
    const ok = member
      ? this.members.take(now, from)
      : this.trusted.has(from)
      ? this.trusted.take(now, from)
      : this.strangers.take(now, stranger(from)) && this.allStrangers.take(now);
    if (!ok) this.stats.limited++;
    return ok;
  }

  /** `from` proved a key: it gets the trusted lane from now on (while it keeps talking). */
  authenticated(now: TimeMs, from: Address): void {
    this.trusted.ensure(now, from);
  }

  /** Sources with state, for metrics (each lane is bounded by maxSources). */
  get sources(): number {
    return this.strangers.size + this.trusted.size + this.members.size;
  }
}

/** What a stranger is limited by: its IP address (`a` without its port), or on loopback the whole address. */
function stranger(a: Address): string {
  if (a.startsWith('127.') || a.startsWith('[::1]')) return a;
  const colon = a.lastIndexOf(':');
  return colon < 0 ? a : a.slice(0, colon);
}
