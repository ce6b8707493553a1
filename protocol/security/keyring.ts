/**
 * The cluster keyring: the keys members may seal with, and which one they
 * do. A small CRDT, so that every member ends up with the same ring however
 * the news of an install, a use or a removal reaches it.
 *
 * How this works. A key is 32 random bytes; its id is the first 4 bytes of
 * HMAC-SHA256(key, "contacts/key-id/v1"), so two members name the same key
 * the same way without ever sending it in the clear. The ring holds
 * - the installed keys (add-only set, at most MAX_KEYS),
 * - the removed key ids (tombstones: a removal wins over an install, for
 *   ever, so a stale member can never bring a retired key back),
 * - the primary register: (key id, version, set by) where the highest
 *   (version, setter) wins, so concurrent `use` commands settle on one.
 * `merge` is the union of the first two and the larger register; it is
 * commutative, associative and idempotent. The key a node seals with is
 * the register's key.
 *
 * Two keys are never dropped, whatever a merge brings: the key the register
 * names, and the last key. A removal of either is remembered (the tombstone
 * still keeps it from ever being installed again) but the key stays until
 * the register names another one; without that, one sealed state naming
 * every key as removed would leave a member nothing to seal with, for good.
 * Operators never get there (security-service.ts refuses to remove a
 * primary); a race of two admins, or a member holding a key and acting in
 * bad faith, can. Should the register name a key not held, the installed
 * key with the highest id takes its place, the same everywhere.
 *
 * What a merge takes is checked first (`checkKeyringState`): a key whose id
 * is not the id of its secret is refused, or a stray member could plant a
 * key under another key's id.
 */
import { invariant, isNodeId, type NodeId } from '../types.ts';
import { bytesOf, KEY_BYTES, type SecurityCrypto } from './crypto.ts';
import { bytesFromHex, hexOf, type KeyId } from './envelope.ts';

/** Keys installed at once: enough for a rotation with room to spare; each is tried by id, never by trial. */
export const MAX_KEYS = 8;
/** Removed key ids remembered (a removed key can never come back while its id is here). */
export const MAX_REMOVED_KEYS = 256;

export interface ClusterKey {
  readonly id: KeyId;
  readonly secret: Uint8Array;
}

/** What packet sealing needs: a key by id, and the one to seal with. */
export interface KeySource {
  key(id: KeyId): ClusterKey | undefined;
  primary(): ClusterKey;
}

/** Who set the primary, and when in the register's order. */
export interface PrimaryRegister {
  id: KeyId;
  version: number;
  by: NodeId;
}

/** The whole ring, as it travels (sealed) and as it is persisted. */
export interface KeyringState {
  keys: ClusterKey[];
  removed: KeyId[];
  primary: PrimaryRegister | undefined;
}

/** A key's id: the first 4 bytes of HMAC-SHA256(key, "contacts/key-id/v1"), big-endian. */
export function keyIdOf(crypto: SecurityCrypto, secret: Uint8Array): KeyId {
  const mac = crypto.hmac(secret, bytesOf('contacts/key-id/v1'));
  return (((mac[0]! << 24) | (mac[1]! << 16) | (mac[2]! << 8) | mac[3]!) >>> 0) as KeyId;
}

/** Orders registers: higher version wins, then the higher setter id. */
function registerWins(a: PrimaryRegister, b: PrimaryRegister | undefined): boolean {
  return b === undefined || a.version > b.version || (a.version === b.version && a.by > b.by);
}

export class Keyring implements KeySource {
  private readonly keys = new Map<KeyId, ClusterKey>();
  private readonly removed = new Set<KeyId>();
  private register: PrimaryRegister | undefined;

  constructor(state?: KeyringState) {
    if (state) this.merge(state);
  }

  key(id: KeyId): ClusterKey | undefined {
    return this.keys.get(id);
  }

  /** The key to seal with; see the file comment for the race fallback. A ring in use is never empty. */
  primary(): ClusterKey {
    const named = this.register && this.keys.get(this.register.id);
    if (named) return named;
    let best: ClusterKey | undefined;
    for (const k of this.keys.values()) if (!best || k.id > best.id) best = k;
    invariant(best !== undefined, 'a keyring in use holds a key (install one before sealing)');
    return best;
  }

  /** The primary register as merged (it may name a key not held; see primary()). */
  get primaryRegister(): PrimaryRegister | undefined {
    return this.register;
  }

  /** Installed key ids, ascending. */
  ids(): KeyId[] {
    return [...this.keys.keys()].sort((a, b) => a - b);
  }

  isRemoved(id: KeyId): boolean {
    return this.removed.has(id);
  }

  get size(): number {
    return this.keys.size;
  }

  /** Installs `key` unless it was removed or the ring is full; returns what happened. */
  install(key: ClusterKey): 'installed' | 'present' | 'removed' | 'full' {
    if (this.removed.has(key.id)) return 'removed';
    if (this.keys.has(key.id)) return 'present';
    if (this.keys.size >= MAX_KEYS) return 'full';
    this.keys.set(key.id, { id: key.id, secret: new Uint8Array(key.secret) });
    return 'installed';
  }

  /** Makes `id` primary as set by `by` (the caller checked it is installed). */
  use(id: KeyId, by: NodeId): void {
    this.register = { id, version: (this.register?.version ?? 0) + 1, by };
    this.prune();
  }

  /** Removes `id` for good (the caller checked it is not the primary, nor the last key). */
  remove(id: KeyId): void {
    this.removed.add(id);
    this.boundRemoved();
    this.prune();
  }

  /** Merges another ring in (checked with checkKeyringState first); returns whether anything changed. */
  merge(other: KeyringState): boolean {
    const before = this.fingerprint();
    if (other.primary && registerWins(other.primary, this.register)) this.register = { ...other.primary };
    for (const id of other.removed) this.removed.add(id);
    this.boundRemoved();
    for (const k of other.keys) if (k.secret.length === KEY_BYTES) this.install(k);
    this.prune();
    return this.fingerprint() !== before;
  }

  /** The whole ring (copies), for sending to members and persisting. */
  state(): KeyringState {
    return {
      keys: this.ids().map((id) => ({ id, secret: new Uint8Array(this.keys.get(id)!.secret) })),
      removed: [...this.removed].sort((a, b) => a - b),
      primary: this.register && { ...this.register },
    };
  }

  /** Forgets the oldest tombstones past MAX_REMOVED_KEYS (Set order is insertion order). */
  private boundRemoved(): void {
    while (this.removed.size > MAX_REMOVED_KEYS) this.removed.delete(this.removed.values().next().value as KeyId);
  }

  /** Drops removed keys, except the one the register names and the last one (see the file comment). */
  private prune(): void {
    for (const id of [...this.keys.keys()]) {
      if (this.keys.size === 1) return;
      if (this.removed.has(id) && id !== this.register?.id) this.keys.delete(id);
    }
  }

  /** What merge compares to tell whether it changed anything. */
  private fingerprint(): string {
    const r = this.register;
    return `${this.ids().join()}|${[...this.removed].join()}|${r ? `${r.id}/${r.version}/${r.by}` : ''}`;
  }
}

/**
 * Why `state` (from a member) must not be merged, or undefined when it may:
 * every key's id must be the id of its secret (keyIdOf), secrets 32 bytes.
 */
export function checkKeyringState(crypto: SecurityCrypto, state: KeyringState): string | undefined {
  for (const k of state.keys) {
    if (k.secret.length !== KEY_BYTES) return `key ${k.id} is ${k.secret.length} bytes, not ${KEY_BYTES}`;
    if (keyIdOf(crypto, k.secret) !== k.id) return `key ${k.id} is not the id of its secret`;
  }
  return undefined;
}

/** The ring as JSON-safe data (secrets as hex), for the daemon's state file and the simulator's storage. */
export function keyringToJson(state: KeyringState): unknown {
  return {
    keys: state.keys.map((k) => ({ id: k.id, secret: hexOf(k.secret) })),
    removed: state.removed,
    primary: state.primary ?? null,
  };
}

/** Reads what `keyringToJson` wrote; a reason string when it is not a ring. */
export function keyringFromJson(value: unknown): KeyringState | string {
  if (typeof value !== 'object' || value === null) return 'not an object';
  const v = value as { keys?: unknown; removed?: unknown; primary?: unknown };
  if (!Array.isArray(v.keys) || !Array.isArray(v.removed)) return 'no key list';
  const keys: ClusterKey[] = [];
  for (const k of v.keys as { id?: unknown; secret?: unknown }[]) {
    if (!isKeyId(k?.id) || typeof k.secret !== 'string' || !/^[0-9a-f]{64}$/.test(k.secret)) return 'bad key entry';
    keys.push({ id: k.id, secret: bytesFromHex(k.secret) });
  }
  if (!v.removed.every(isKeyId)) return 'bad removed key id';
  let primary: PrimaryRegister | undefined;
  if (v.primary !== null && v.primary !== undefined) {
    const p = v.primary as { id?: unknown; version?: unknown; by?: unknown };
    if (!isKeyId(p.id) || !Number.isSafeInteger(p.version) || (p.version as number) < 0 || !isNodeId(p.by)) return 'bad primary';
    primary = { id: p.id, version: p.version as number, by: p.by };
  }
  return { keys, removed: v.removed as KeyId[], primary };
}

/** True for a u32. */
export function isKeyId(x: unknown): x is KeyId {
  return Number.isInteger(x) && (x as number) >= 0 && (x as number) <= 0xffff_ffff;
}
