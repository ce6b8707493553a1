/**
 * A keyed node's security settings and what it is built with: the modes of
 * a rolling upgrade (security-service.ts says what each takes and sends),
 * the intervals and budgets, and the restored state.
 */
import type { SecurityCrypto } from './crypto.ts';
import type { SecurityState } from './security-state.ts';

/** Which datagrams a keyed node takes and sends; see security-service.ts. */
export type SecurityMode = 'accept' | 'send' | 'require';
export const SECURITY_MODES: readonly SecurityMode[] = ['accept', 'send', 'require'];

export interface SecurityConfig {
  /** How often a node compares its state's digest with a random live member. */
  syncIntervalMs: number;
  /** How often a node gossips its key status even when it has not changed. */
  statusRefreshMs: number;
  /** At most one key-alert this often (each sums up what came since the last). */
  alertIntervalMs: number;
  /** At most one public state (publicPart) per member not live, this often. */
  publicAnswerIntervalMs: number;
  /**
   * Sender keys derived a second for datagrams not verified yet, from member
   * addresses and from any other (packet-security.ts, Cost). A member needs
   * one per life of each member and per key: a whole cluster restarting or
   * rotating spends a few hundred; a flood of junk under our key id spends
   * them all, and only new senders wait.
   */
  derivationsPerSecond: number;
  strangerDerivationsPerSecond: number;
}

export const DEFAULT_SECURITY_CONFIG: SecurityConfig = {
  syncIntervalMs: 10_000,
  statusRefreshMs: 60_000,
  alertIntervalMs: 60_000,
  publicAnswerIntervalMs: 10_000,
  derivationsPerSecond: 500,
  strangerDerivationsPerSecond: 100,
};

/** What a keyed node is built with. */
export interface NodeSecurityInit {
  crypto: SecurityCrypto;
  /** This boot's epoch, raised and persisted by the driver before the core is built. */
  epoch: number;
  mode?: SecurityMode | undefined;
  /** What an earlier life persisted. */
  restored?: { state?: SecurityState | undefined; peerEpochs?: Record<string, number> | undefined };
  /** The key from the operator's key file (32 bytes). */
  keyFileKey?: Uint8Array | undefined;
  config?: Partial<SecurityConfig>;
}

