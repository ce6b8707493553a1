/**
 * Client credentials as the cluster keeps them: who may ask what. A CRDT
 * replicated with the keyring (security-service.ts), so that a credential
 * created at one member works at every member, and a revoked one stops
 * working at every member as soon as the news arrives.
 *
 * How this works. A credential is (id, role, key, name, created), made once
 * and never changed: a new role is a new credential and a revocation of the
 * old. The key is derived from the client's secret (client-auth.ts); the
 * secret itself never leaves the client. The set is an add-set with
 * revocation tombstones: a revoked id wins over its credential for ever,
 * whatever order the news comes in, and a credential whose id was revoked
 * is never taken again. `merge` is commutative, associative and
 * idempotent. Bounded: MAX_CREDENTIALS live credentials (a create past it
 * is refused) and MAX_REVOKED tombstones (the oldest forgotten first: a
 * member away for more than MAX_REVOKED revocations could bring one of the
 * oldest back, which is why the bound is four times the live one).
 */
import { LIMITS, type ClientRoleName, type WireCredential } from '../wire/messages.ts';

export type ClientRole = ClientRoleName;
export const CLIENT_ROLES: readonly ClientRole[] = ['read', 'write', 'admin'];

export const MAX_CREDENTIALS = LIMITS.maxCredentials;
export const MAX_REVOKED = LIMITS.maxRevokedCredentials;

/** A credential: its id, role, request key, label and creation time. */
export type Credential = Readonly<WireCredential>;

/** The whole set, as it travels and is persisted. */
export interface CredentialsState {
  creds: Credential[];
  revoked: string[];
}

const CRED_ID_RE = /^[0-9a-f]{16}$/;

/** True when `id` has the form of a credential id (16 hex digits). */
export function isCredentialId(id: unknown): id is string {
  return typeof id === 'string' && CRED_ID_RE.test(id);
}

/** Does `role` allow what `needed` asks? admin > write > read. */
export function roleAllows(role: ClientRole, needed: ClientRole): boolean {
  return CLIENT_ROLES.indexOf(role) >= CLIENT_ROLES.indexOf(needed);
}

export class CredentialStore {
  private readonly creds = new Map<string, Credential>();
  private readonly revoked = new Set<string>();

  constructor(state?: CredentialsState) {
    if (state) this.merge(state);
  }

  /** The live credential `id`, or undefined (never made, or revoked). */
  get(id: string): Credential | undefined {
    return this.creds.get(id);
  }

  isRevoked(id: string): boolean {
    return this.revoked.has(id);
  }

  get size(): number {
    return this.creds.size;
  }

  /** Adds a new credential; says why not when it cannot. */
  add(c: Credential): 'added' | 'present' | 'revoked' | 'full' {
    if (this.revoked.has(c.id)) return 'revoked';
    if (this.creds.has(c.id)) return 'present';
    if (this.creds.size >= MAX_CREDENTIALS) return 'full';
    this.creds.set(c.id, { ...c, key: new Uint8Array(c.key) });
    return 'added';
  }

  /** Revokes `id` for good; false when it was revoked already. */
  revoke(id: string): boolean {
    if (this.revoked.has(id)) return false;
    this.revoked.add(id);
    this.creds.delete(id);
    this.boundRevoked();
    return true;
  }

  /** Merges another set in; returns whether anything changed. */
  merge(other: CredentialsState): boolean {
    let changed = false;
    for (const id of other.revoked) if (this.revoke(id)) changed = true;
    for (const c of other.creds) if (this.add(c) === 'added') changed = true;
    return changed;
  }

  /** Live credentials by id, and the tombstones (copies). */
  state(): CredentialsState {
    return {
      creds: [...this.creds.values()].sort((a, b) => (a.id < b.id ? -1 : 1)).map((c) => ({ ...c, key: new Uint8Array(c.key) })),
      revoked: [...this.revoked].sort(),
    };
  }

  private boundRevoked(): void {
    while (this.revoked.size > MAX_REVOKED) this.revoked.delete(this.revoked.values().next().value as string);
  }
}
