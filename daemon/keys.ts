/**
 * contactd's side of the cluster keys: the key file, the keyring and the
 * replay state kept in the data dir, and `contactd keygen`.
 *
 * How this works: a key file holds one key, base64 (standard or URL-safe)
 * of 32 random bytes, and nothing else but whitespace. At start the node
 * raises its boot epoch (saved before anything is sent), reads the key
 * file, and restores the keyring and the highest epoch seen per sender
 * that the core persisted; the core merges the key file's key into the
 * ring (protocol/security/security-service.ts). A data dir that holds a
 * ring but a start without --key-file is refused: the node would come up
 * unable to talk to its cluster, and silently dropping encryption is worse.
 */
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { isNodeId } from '../protocol/types.ts';
import { KEY_BYTES } from '../protocol/security/crypto.ts';
import { securityFromJson, type SecurityState } from '../protocol/security/security-state.ts';
import type { NodeSecurityInit } from '../protocol/security/security-service.ts';
import type { DaemonConfig } from './config.ts';
import { nodeCrypto } from './node-crypto.ts';
import type { StateDir } from './state.ts';
import { OperatorError } from './errors.ts';

/** The key file or the keyring in the data dir is unusable; the message says what to do. */
export class KeyError extends OperatorError {
  override name = 'KeyError';
}

/** A new random cluster key, as a key file holds it (with a newline). */
export function generateKeyText(): string {
  return randomBytes(KEY_BYTES).toString('base64') + '\n';
}

/** Parses a key file's text; throws KeyError saying what is wrong with it. */
export function parseKeyText(text: string, where: string): Uint8Array {
  const t = text.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(t)) throw new KeyError(`${where} is not base64; it must hold one key as \`contactd keygen\` prints it.`);
  const bytes = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (bytes.length !== KEY_BYTES) throw new KeyError(`${where} holds ${bytes.length} bytes; a cluster key is ${KEY_BYTES} (AES-256). Make one with \`contactd keygen\`.`);
  return new Uint8Array(bytes);
}

function readKeyFile(path: string): Uint8Array {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new KeyError(`--key-file: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); check the path and that this user may read it.`);
  }
  return parseKeyText(text, `--key-file ${path}`);
}

/** What the core needs to run keyed, or undefined for a plain node; raises and saves the boot epoch. */
export function securityForStart(config: DaemonConfig, state: StateDir, log: Logger, nowMs: number): NodeSecurityInit | undefined {
  const saved = restoreSecurity(state);
  if (!config.keyFile) {
    const why = config.keyFileSkipped ? `, but ${config.keyFileSkipped}` : '';
    if (saved) throw new KeyError(`${state.dir} holds a cluster keyring (this node ran with --key-file before)${why}: give --key-file again (any key of the cluster: the ring in the data dir is newer; under systemd, /etc/contactd/cluster.key), or delete ${state.dir}/security.json to run this node unencrypted.`);
    return undefined;
  }
  const keyFileKey = readKeyFile(config.keyFile);
  return {
    crypto: nodeCrypto,
    epoch: state.raiseBootEpoch(nowMs),
    mode: config.gossipEncryption,
    keyFileKey,
    restored: { state: saved, peerEpochs: restorePeerEpochs(state, log) },
  };
}

function restoreSecurity(state: StateDir): SecurityState | undefined {
  const value = state.load('security');
  if (value === undefined) return undefined;
  const saved = securityFromJson(value);
  if (typeof saved === 'string') throw new KeyError(`${state.dir}/security.json is damaged (${saved}); restore it from a backup, or delete it and start with the cluster's current key in --key-file (client credentials then come back from the other members).`);
  return saved;
}

/** The highest epoch seen per sender; an unreadable file only weakens replay refusal across this restart, so it is logged, not fatal. */
function restorePeerEpochs(state: StateDir, log: Logger): Record<string, number> | undefined {
  let value: unknown;
  try {
    value = state.load('peer-epochs');
  } catch (err) {
    log.warn({ event: 'state-unreadable', err }, `ignoring saved peer epochs: ${(err as Error).message}`);
    return undefined;
  }
  if (value === undefined) return undefined;
  const ok = typeof value === 'object' && value !== null && Object.entries(value).every(([id, e]) => isNodeId(id) && Number.isSafeInteger(e) && (e as number) > 0);
  if (!ok) {
    log.warn({ event: 'state-unreadable' }, 'ignoring saved peer epochs (malformed); datagrams recorded before this restart are still refused by their receiver epoch');
    return undefined;
  }
  return value as Record<string, number>;
}
