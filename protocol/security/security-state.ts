/**
 * The cluster's security state — the keyring and the client credentials —
 * as one value: how it travels (a `secState` message, only ever sealed),
 * how it is persisted (JSON, secrets as hex, in the data dir), and its
 * digest (what two members compare to learn whether they differ).
 *
 * How this works: both parts are CRDTs (keyring.ts, credentials.ts), so
 * the state travels whole and merges on arrival. The digest is 8 bytes of
 * HMAC over a canonical text of ids, roles and the primary register (key
 * ids stand for the keys: they are derived from them), so equal states
 * have equal digests on every member.
 */
import type { NodeId } from '../types.ts';
import type { SecState } from '../wire/messages.ts';
import { bytesOf, type SecurityCrypto } from './crypto.ts';
import { bytesFromHex, hexOf, type KeyId } from './envelope.ts';
import { CLIENT_ROLES, isCredentialId, type ClientRole, type Credential, type CredentialsState, CredentialStore } from './credentials.ts';
import { Keyring, keyringFromJson, keyringToJson, type KeyringState } from './keyring.ts';

export interface SecurityState {
  keyring: KeyringState;
  credentials: CredentialsState;
}

/** The state as a `secState` message. */
export function toSecState(keyring: Keyring, creds: CredentialStore, reply: boolean): SecState {
  const k = keyring.state();
  const c = creds.state();
  const p = k.primary;
  return {
    type: 'secState', reply,
    primary: p?.id ?? 0, primaryVersion: p?.version ?? 0, primaryBy: p?.by ?? ('0000000000000000' as NodeId),
    keys: k.keys.map((x) => ({ id: x.id, secret: x.secret })), removed: k.removed,
    creds: c.creds.map((x) => ({ ...x })), revoked: c.revoked,
  };
}

/**
 * What of a state may go to, or be taken from, a member that is not live
 * (dead or left: perhaps removed on purpose): which key is primary and which
 * keys and credentials are gone, by id. No key, no credential. Enough for a
 * member that missed a rotation and was handed the current key to learn it
 * is the primary; nothing that helps one that was not.
 */
export function publicPart(m: SecState): SecState {
  return { ...m, keys: [], creds: [] };
}

/** A `secState` message as a state to merge. */
export function fromSecState(m: SecState): SecurityState {
  return {
    keyring: {
      keys: m.keys.map((k) => ({ id: k.id as KeyId, secret: k.secret })),
      removed: m.removed as KeyId[],
      primary: m.primaryVersion > 0 ? { id: m.primary as KeyId, version: m.primaryVersion, by: m.primaryBy } : undefined,
    },
    credentials: { creds: m.creds, revoked: m.revoked },
  };
}

/** 8 bytes that differ when the states differ (and are equal when they are equal). */
export function securityDigest(crypto: SecurityCrypto, keyring: Keyring, creds: CredentialsState | CredentialStore): Uint8Array {
  const k = keyring.state();
  const c = creds instanceof CredentialStore ? creds.state() : creds;
  const canonical = JSON.stringify([
    k.keys.map((x) => x.id), k.removed, k.primary ?? null,
    c.creds.map((x) => [x.id, x.role, x.created]), c.revoked,
  ]);
  return crypto.hmac(bytesOf('contacts/security-digest/v1'), bytesOf(canonical)).subarray(0, 8);
}

/** The state as JSON-safe data for the data dir (secrets as hex). */
export function securityToJson(keyring: Keyring, creds: CredentialStore): unknown {
  const c = creds.state();
  return {
    keyring: keyringToJson(keyring.state()),
    credentials: { creds: c.creds.map((x) => ({ ...x, key: hexOf(x.key) })), revoked: c.revoked },
  };
}

/** Reads what `securityToJson` wrote; a reason string when it is not a state. */
export function securityFromJson(value: unknown): SecurityState | string {
  if (typeof value !== 'object' || value === null) return 'not an object';
  const v = value as { keyring?: unknown; credentials?: { creds?: unknown; revoked?: unknown } };
  const keyring = keyringFromJson(v.keyring);
  if (typeof keyring === 'string') return `keyring: ${keyring}`;
  const creds: Credential[] = [];
  const rawCreds = v.credentials?.creds ?? [];
  const revoked = v.credentials?.revoked ?? [];
  if (!Array.isArray(rawCreds) || !Array.isArray(revoked) || !revoked.every(isCredentialId)) return 'credentials: malformed';
  for (const c of rawCreds as Record<string, unknown>[]) {
    const ok = isCredentialId(c?.id) && CLIENT_ROLES.includes(c.role as ClientRole) && typeof c.key === 'string' && /^[0-9a-f]{64}$/.test(c.key)
      && typeof c.name === 'string' && Number.isSafeInteger(c.created);
    if (!ok) return 'credentials: bad entry';
    creds.push({ id: c.id as string, role: c.role as ClientRole, key: bytesFromHex(c.key as string), name: c.name as string, created: c.created as number });
  }
  return { keyring, credentials: { creds, revoked: revoked as string[] } };
}
