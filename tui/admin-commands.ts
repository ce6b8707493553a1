/**
 * `contacts keys …` and `contacts credentials …`: the admin commands.
 *
 * How this works: each subcommand becomes one admin op of the client
 * protocol (protocol/security/admin-ops.ts), sent with the admin's
 * credential. Keys travel as hex inside the sealed request. A new
 * credential's secret is made here and never sent: the server gets the key
 * derived from it (client-envelope.ts) and the token is printed once, on
 * stdout, for the person to store. `keys generate` needs no server.
 * Rotation, as Serf does it: `keys install NEW` on any member, `keys list`
 * until every member holds it, `keys use NEWID`, `keys list` until every
 * member seals with it, `keys remove OLDID`; `use` and `remove` refuse,
 * saying who is not there yet, until that holds.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { credentialKey } from '../protocol/security/client-envelope.ts';
import { hexOf } from '../protocol/security/envelope.ts';
import { nodeCrypto } from '../daemon/node-crypto.ts';
import { parseKeyText } from '../daemon/keys.ts';
import { credentialToken } from './client.ts';
import { clean, table } from './format.ts';
import { print, printJson, UsageError, type Ctx } from './cli.ts';

interface KeyList {
  mode: string;
  primary: string;
  keys: { id: string; primary: boolean; heldBy: string[]; sealingWith: string[] }[];
  members: { name: string; state: string; primary: string | null; holds: string[] }[];
}

const ROLES = ['read', 'write', 'admin'];

/** The subcommand and the one argument after it, if any. */
function sub(ctx: Ctx, allowed: string[], withArg: string[]): { name: string; arg: string | undefined } {
  const [name, arg, ...extra] = ctx.rest;
  if (!name || !allowed.includes(name)) throw new UsageError(`give one of: ${allowed.join(', ')}`);
  if (extra.length > 0 || (arg !== undefined && !withArg.includes(name))) throw new UsageError(`unexpected argument "${clean(extra[0] ?? arg)}"`);
  return { name, arg };
}

async function admin(ctx: Ctx, op: string, args: Record<string, unknown> = {}): Promise<unknown> {
  return (await ctx.client.request(op, args)).result;
}

/** A new credential: made here, its key registered by `op`, its token printed once. */
async function newCredential(ctx: Ctx, op: 'credentials.create' | 'credentials.bootstrap', role: string): Promise<void> {
  const id = randomBytes(8).toString('hex');
  const secret = new Uint8Array(randomBytes(32));
  const name = ctx.values.name ?? '';
  await admin(ctx, op, { id, role, name, key: hexOf(credentialKey(nodeCrypto, id, secret)) });
  const token = credentialToken({ id, secret });
  if (ctx.json) printJson(ctx, { id, role, name, credential: token });
  else print(ctx, [token]);
  ctx.io.err(`contacts: ${role} credential ${id} made. It is shown only now: keep it in a file only you can read and use --credential-file FILE (or CONTACTS_CREDENTIAL); revoke it with \`contacts credentials revoke ${id}\`.\n`);
}

export const ADMIN_RUNNERS: Record<string, (ctx: Ctx) => Promise<void>> = {
  async keys(ctx) {
    const { name, arg } = sub(ctx, ['list', 'install', 'use', 'remove'], ['install', 'use', 'remove']);
    if (name === 'list') {
      const r = (await admin(ctx, 'keys.list')) as KeyList;
      if (ctx.json) return printJson(ctx, r);
      print(ctx, [
        `gossip encryption: ${r.mode}; sealing with ${r.primary}`, '',
        ...table(['KEY', 'PRIMARY', 'HELD BY', 'SEALING WITH'], r.keys.map((k) => [k.id, k.primary ? 'yes' : '', k.heldBy.map(clean).join(',') || '-', k.sealingWith.map(clean).join(',') || '-'])),
        '', ...table(['MEMBER', 'STATE', 'SEALS WITH', 'HOLDS'], r.members.map((m) => [clean(m.name), m.state, m.primary ?? '(not heard yet)', m.holds.join(',')])),
      ]);
      return;
    }
    if (name === 'install') {
      const file = ctx.values['key-file'];
      if ((arg === undefined) === (file === undefined)) throw new UsageError('give the key (base64, as `contacts keys generate` prints it) or --key-file FILE, not both');
      const text = file === undefined ? arg! : readFileSync(file, 'utf8');
      let key: Uint8Array;
      try {
        key = parseKeyText(text, file ?? 'the key');
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      const r = (await admin(ctx, 'keys.install', { key: hexOf(key) })) as { id: string };
      if (ctx.json) return printJson(ctx, r);
      print(ctx, [`installed key ${r.id}; when \`contacts keys list\` shows every member holds it: contacts keys use ${r.id}`]);
      return;
    }
    if (!arg || !/^[0-9a-f]{8}$/.test(arg)) throw new UsageError('give a key id: 8 hex digits, as `contacts keys list` shows it');
    const r = await admin(ctx, `keys.${name}`, { id: arg });
    if (ctx.json) return printJson(ctx, r);
    print(ctx, [name === 'use' ? `every member now seals with ${arg}; once \`contacts keys list\` shows it, remove the old key (contacts keys remove OLDID)` : `removed key ${arg} from the cluster's keyring`]);
  },

  async credentials(ctx) {
    const { name, arg } = sub(ctx, ['create', 'list', 'revoke', 'bootstrap'], ['revoke']);
    if (name === 'create') {
      const role = ctx.values.role;
      if (!role || !ROLES.includes(role)) throw new UsageError('--role read, write or admin is required');
      return newCredential(ctx, 'credentials.create', role);
    }
    if (name === 'bootstrap') return newCredential(ctx, 'credentials.bootstrap', 'admin');
    if (name === 'list') {
      const list = (await admin(ctx, 'credentials.list')) as { id: string; role: string; name: string; created: number }[];
      if (ctx.json) return printJson(ctx, list);
      print(ctx, list.length === 0 ? ['no credentials'] : table(['ID', 'ROLE', 'NAME', 'CREATED'], list.map((c) => [c.id, c.role, clean(c.name), new Date(c.created).toISOString()])));
      return;
    }
    if (!arg || !/^[0-9a-f]{16}$/.test(arg)) throw new UsageError('give a credential id: 16 hex digits, as `contacts credentials list` shows it');
    const r = await admin(ctx, 'credentials.revoke', { id: arg });
    if (ctx.json) return printJson(ctx, r);
    print(ctx, [`revoked ${arg}: every member refuses it as soon as the news reaches it (seconds; a member that is down, when it is back)`]);
  },
};
