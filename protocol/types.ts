/**
 * Shared vocabulary of the protocol core: branded ids, addresses, the random
 * source and the shape of what the core hands back to its driver.
 *
 * The core never reads a clock or a socket: time comes in as `now` (integer
 * milliseconds on any monotonic scale the driver likes), datagrams come in as
 * bytes with the address they came from, and go out as `Transmit`s.
 */

/** A node's stable identity: 16 lowercase hex characters, persisted in its data dir. */
export type NodeId = string & { readonly __brand: 'NodeId' };

/** A UDP endpoint as `host:port` (IPv6 hosts in brackets: `[::1]:7700`). */
export type Address = string & { readonly __brand: 'Address' };

/** Milliseconds on the driver's clock. */
export type TimeMs = number;

const NODE_ID_RE = /^[0-9a-f]{16}$/;

/** True when `s` has the form of a NodeId. */
export function isNodeId(s: unknown): s is NodeId {
  return typeof s === 'string' && NODE_ID_RE.test(s);
}

/** Brands `s` as a NodeId; throws on a malformed id (our own misuse, not wire input). */
export function nodeId(s: string): NodeId {
  if (!isNodeId(s)) throw new TypeError(`not a node id: ${JSON.stringify(s)}`);
  return s;
}

/** Parses `host:port` / `[v6]:port`; undefined when malformed. */
export function parseAddress(s: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]\s]+)):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: (m[1] ?? m[2])!, port };
}

/** Brands `s` as an Address; throws when it is not `host:port`. */
export function address(s: string): Address {
  if (!parseAddress(s)) throw new TypeError(`not a host:port address: ${JSON.stringify(s)}`);
  return s as Address;
}

/** Formats a host and port as an Address (brackets IPv6 hosts). */
export function formatAddress(host: string, port: number): Address {
  return (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`) as Address;
}

/** A datagram the core wants sent. */
export interface Transmit {
  readonly to: Address;
  readonly bytes: Uint8Array;
  /**
   * Seal it even when the node's security mode sends plain datagrams (it
   * carries keyring secrets), under key `keyId` when given and held (to
   * answer a member that seals with a key other than our primary).
   */
  readonly seal?: { readonly keyId?: number };
  /** Already in its final form (a client auth-required answer): sent as is. */
  readonly raw?: boolean;
  /**
   * To a client: wrapped in the client answer envelope of the request it
   * answers (or the subscription it pushes to). Set where the datagram is
   * made, never looked up by address: a forged request from a member's
   * address must not change how anything else goes to that address.
   */
  readonly client?: ClientChannel;
}

/**
 * How datagrams to one client go back (security/client-auth.ts makes it
 * when it admits a request): sealed under the credential's key, or plain
 * to an anonymous client, echoing the request's nonce.
 */
export interface ClientChannel {
  /** The credential's request key K_c; undefined for an anonymous client (plain answers). */
  readonly kc: Uint8Array | undefined;
  readonly credential: string;
  /** The nonce of the request this answers (for pushes: the latest subscribe or renewal). */
  readonly nonce: Uint8Array;
}

/** A seeded source of randomness; the core's only one. */
export interface Rng {
  /** Uniform integer in [0, 2^32). */
  nextU32(): number;
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
}

/** A typed error for misuse of the core's API by our own code. */
export class ProtocolUsageError extends Error {
  override name = 'ProtocolUsageError';
}

/** Fails loudly when an invariant the core relies on does not hold. */
export function invariant(cond: unknown, what: string): asserts cond {
  if (!cond) throw new Error(`invariant violated: ${what}`);
}
