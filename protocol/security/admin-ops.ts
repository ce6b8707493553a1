/**
 * The client protocol's admin ops: keyring rotation and client credentials,
 * on top of security-service.ts. The node runs them for admin credentials
 * only (client-auth.ts), and `credentials.bootstrap` for an anonymous
 * request from this host while the cluster has no credential at all.
 *
 *   keys.list             {}                            → {mode, primary, keys: [{id, primary, heldBy, sealingWith}], members}
 *   keys.install          {key: 64 hex}                 → {id}
 *   keys.use              {id: 8 hex}                   → {id}
 *   keys.remove           {id: 8 hex}                   → {id}
 *   credentials.create    {id: 16 hex, role, key: 64 hex, name} → {id, role, name}
 *   credentials.bootstrap {id: 16 hex, key: 64 hex, name}       → {id, role: 'admin', name}
 *   credentials.list      {}                            → [{id, role, name, created}]
 *   credentials.revoke    {id: 16 hex}                  → {id}
 *
 * Keys and credential keys travel as hex inside a sealed request; a
 * credential's key is K_c, derived by the client from a secret that never
 * leaves it (client-envelope.ts).
 */
import type { TimeMs } from '../types.ts';
import { LIMITS } from '../wire/messages.ts';
import { bytesFromHex, keyIdText, type KeyId } from './envelope.ts';
import { CLIENT_ROLES, isCredentialId, type ClientRole } from './credentials.ts';
import type { CommandResult, SecurityService } from './security-service.ts';

/** What an admin op answers: a result, or an error code and what to do. */
export type AdminResult = { ok: true; result: unknown } | { ok: false; code: string; message: string };

/** True for the ops this file runs. */
export function isAdminOp(op: string): boolean {
  return op.startsWith('keys.') || op.startsWith('credentials.');
}

const HEX64 = /^[0-9a-f]{64}$/;
const HEX8 = /^[0-9a-f]{8}$/;
const bad = (message: string): AdminResult => ({ ok: false, code: 'bad-request', message });

function done<T>(r: CommandResult<T>, result: unknown): AdminResult {
  return r.ok ? { ok: true, result } : { ok: false, code: r.code, message: r.message };
}

function keyIdArg(a: Record<string, unknown>): KeyId | undefined {
  return typeof a.id === 'string' && HEX8.test(a.id) ? (parseInt(a.id, 16) as KeyId) : undefined;
}

function credentialArgs(a: Record<string, unknown>): { id: string; key: Uint8Array; name: string } | string {
  if (!isCredentialId(a.id)) return '"id" must be 16 hex digits';
  if (typeof a.key !== 'string' || !HEX64.test(a.key)) return '"key" must be 64 hex digits (the key the client derived from its secret)';
  const name = a.name ?? '';
  if (typeof name !== 'string' || name.length > LIMITS.maxCredentialNameLength || !/^[\x20-\x7e]*$/.test(name)) {
    return `"name" must be printable ASCII of at most ${LIMITS.maxCredentialNameLength} characters`;
  }
  return { id: a.id, key: bytesFromHex(a.key), name };
}

/** Runs admin op `op` with `args` against `security` (undefined on a node without a key). */
export function runAdminOp(security: SecurityService | undefined, now: TimeMs, op: string, args: Record<string, unknown>): AdminResult {
  if (!security) return { ok: false, code: 'not-keyed', message: 'this node runs without a cluster key, so it has no keyring and no credentials: start every node with --key-file (make a key with contactd keygen)' };
  switch (op) {
    case 'keys.list':
      return { ok: true, result: { mode: security.mode, ...security.keyReport() } };
    case 'keys.install': {
      if (typeof args.key !== 'string' || !HEX64.test(args.key)) return bad('keys.install needs {"key": the key as 64 hex digits}');
      const r = security.installKey(bytesFromHex(args.key));
      return done(r, r.ok ? { id: keyIdText(r.value) } : undefined);
    }
    case 'keys.use':
    case 'keys.remove': {
      const id = keyIdArg(args);
      if (id === undefined) return bad(`${op} needs {"id": a key id, 8 hex digits as keys list shows it}`);
      return done(op === 'keys.use' ? security.useKey(id) : security.removeKey(id), { id: keyIdText(id) });
    }
    case 'credentials.create':
    case 'credentials.bootstrap': {
      const c = credentialArgs(args);
      if (typeof c === 'string') return bad(c);
      const role = op === 'credentials.bootstrap' ? 'admin' : args.role;
      if (!CLIENT_ROLES.includes(role as ClientRole)) return bad(`"role" must be one of ${CLIENT_ROLES.join(', ')}`);
      if (op === 'credentials.bootstrap' && security.credentials.size > 0) {
        return { ok: false, code: 'forbidden', message: 'the cluster has credentials already; bootstrap makes only the first one. Ask an admin for one (contacts credentials create)' };
      }
      const r = security.addCredential({ ...c, role: role as ClientRole, created: now });
      return done(r, { id: c.id, role, name: c.name });
    }
    case 'credentials.list':
      return { ok: true, result: security.credentials.state().creds.map((c) => ({ id: c.id, role: c.role, name: c.name, created: c.created })) };
    case 'credentials.revoke':
      if (!isCredentialId(args.id)) return bad('credentials.revoke needs {"id": a credential id, 16 hex digits}');
      return done(security.revokeCredential(args.id), { id: args.id });
    default:
      return { ok: false, code: 'unknown-op', message: `unknown op "${op.slice(0, 32)}": keys.list, keys.install, keys.use, keys.remove, credentials.create, credentials.bootstrap, credentials.list, credentials.revoke` };
  }
}
