/**
 * Turns `--join` seeds into addresses the core can send to: IP literals pass
 * through, a DNS name becomes every address it resolves to (the "name
 * server" of the original notes: one name for the whole cluster).
 *
 * How this works: names are looked up once at start with the system resolver
 * (dns.lookup, so /etc/hosts counts), restricted to the bound socket's
 * address family, since a UDP socket of one family cannot send to the other.
 * A name that does not resolve is reported, not fatal: the others may do.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { formatAddress, parseAddress, type Address } from '../protocol/types.ts';

/** The resolver: `lookup(host, {all: true, family})`, as node:dns/promises has it. */
export type Lookup = (host: string, opts: { all: true; family: 4 | 6 }) => Promise<{ address: string; family: number }[]>;

export interface ResolvedSeeds {
  /** Distinct addresses, in the order the seeds were given. */
  seeds: Address[];
  /** Seeds that did not resolve, and why. */
  failures: { seed: Address; error: string }[];
}

/** Resolves each seed to the addresses of `family`; never throws. */
export async function resolveSeeds(join: readonly Address[], family: 4 | 6, lookup: Lookup = dnsLookup as Lookup): Promise<ResolvedSeeds> {
  const seeds = new Set<Address>();
  const failures: ResolvedSeeds['failures'] = [];
  const results = await Promise.all(join.map(async (seed) => {
    const hp = parseAddress(seed)!;
    const literal = isIP(hp.host);
    if (literal === family) return { seed, addrs: [seed] };
    if (literal !== 0) return { seed, error: `an IPv${literal} address, but this node's socket is IPv${family}` };
    try {
      const found = await lookup(hp.host, { all: true, family });
      if (found.length === 0) return { seed, error: `no IPv${family} address` };
      return { seed, addrs: found.map((a) => formatAddress(a.address, hp.port)) };
    } catch (err) {
      return { seed, error: (err as NodeJS.ErrnoException).code ?? (err as Error).message };
    }
  }));
  for (const r of results) {
    if ('error' in r) failures.push({ seed: r.seed, error: r.error! });
    else for (const a of r.addrs) seeds.add(a);
  }
  return { seeds: [...seeds], failures };
}
