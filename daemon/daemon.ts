/**
 * One running contactd: assembles the parts (data dir, socket, core,
 * driver, event handler, systemd notifier, metrics) and takes them apart
 * again.
 *
 * How this works:
 * - start: lock the data dir and read the node id and what the last life
 *   persisted; bind the socket; resolve the seeds; build the core with the
 *   restored state (so a restarted node rejoins through the members it
 *   last knew, seeds or not); start the driver and ask the core to join.
 *   Anything that fails undoes what was done and throws an error whose
 *   message says what to do.
 * - stop: announce the leave, wait (bounded) for the core's `left` event,
 *   then stop the driver and close everything.
 * - reload: apply what can change without a restart (log level, name and
 *   advertised address) and say which other changes wait for one.
 * Future parts plug in here: the SQLite store opens beside StateDir and is
 * handed to the core's constructor; a client protocol is part of the core
 * and needs nothing from the driver (its datagrams share the socket); their
 * events get cases in node-events.ts, their counters a register*Metrics.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { ClusterNode, type NodeEvent } from '../protocol/node.ts';
import { SeededRng } from '../protocol/rng.ts';
import type { PersistedMembership } from '../protocol/membership/membership.ts';
import { isLoopback, type DaemonConfig, type HostPort } from './config.ts';
import { type Driver, monotonicNowMs } from './driver.ts';
import { writePathDriver } from './write-path.ts';
import { NodeEventHandler } from './node-events.ts';
import { resolveSeeds } from './seeds.ts';
import { StateDir, asPersistedMembership } from './state.ts';
import { SystemdNotifier } from './systemd.ts';
import { SqliteContactStore } from './store/sqlite-store.ts';
import { UdpTransport } from './udp.ts';
import { securityForStart } from './keys.ts';
import { keyIdText } from '../protocol/security/envelope.ts';
import { OperatorError } from './errors.ts';

/** Startup failed for a reason the operator can fix; the message says how. */
export class StartError extends OperatorError {
  override name = 'StartError';
}

type Env = Readonly<Record<string, string | undefined>>;

export class Daemon {
  private stopping: Promise<boolean> | undefined;

  private constructor(
    private config: DaemonConfig,
    private readonly log: Logger,
    readonly core: ClusterNode,
    private readonly driver: Driver<NodeEvent>,
    private readonly udp: UdpTransport,
    private readonly state: StateDir,
    private readonly events: NodeEventHandler,
    private readonly notifier: SystemdNotifier,
    private readonly metrics: { address: string; close(): Promise<void> } | undefined,
    private readonly sqlite: SqliteContactStore,
  ) {}

  /** Starts a node with `config`; throws StartError, BindError, StateError, DataDirLockedError or MetricsServeError. */
  static async start(config: DaemonConfig, log: Logger, env: Env): Promise<Daemon> {
    const undo: (() => unknown)[] = [];
    try {
      const state = StateDir.open(config.dataDir);
      undo.push(() => state.close());
      const id = state.nodeId();
      const restored = restoreMembership(state, log);
      const security = securityForStart(config, state, log, Date.now());
      const sqlite = await SqliteContactStore.open(config.dataDir);
      undo.push(() => sqlite.close());
      const store = await sqlite.load({ journal: true });
      const udp = await UdpTransport.open(config.bind, log);
      undo.push(() => udp.close());
      const { seeds, failures } = await resolveSeeds(config.join, udp.family);
      for (const f of failures) log.warn({ event: 'seed-unresolved', seed: f.seed, error: f.error }, `cannot use seed ${f.seed}: ${f.error}`);
      if (config.join.length > 0 && seeds.length === 0 && !restored?.members.some((m) => m.id !== id)) {
        throw new StartError(`no --join seed could be used (${failures.map((f) => `${f.seed}: ${f.error}`).join('; ')}); check the names and DNS, or start without --join to begin a new cluster.`);
      }
      const entropy = randomBytes(16);
      const core = new ClusterNode({
        id, addr: config.advertise, now: monotonicNowMs(),
        config: { clusterName: config.cluster, nodeName: config.name, datagramBudgetBytes: config.datagramBudgetBytes },
        rng: new SeededRng(entropy.readUInt32LE(0), entropy.readUInt32LE(4), entropy.readUInt32LE(8), entropy.readUInt32LE(12)),
        restored: { membership: restored, store },
        security,
        // A client on this host may send from the address we bind (isLocalAddress: the first admin's bootstrap).
        ownHosts: [config.bind.host],
      });
      const notifier = SystemdNotifier.fromEnv(env, log);
      undo.push(() => notifier.close());
      const shell = { stateWriteErrors: 0 };
      const events = new NodeEventHandler({ log, save: (k, v) => state.save(k, v), notifier, members: () => core.membership.members(), shell, keyed: security !== undefined });
      const driver = writePathDriver({
        core, sink: udp, events, store: sqlite,
        onCommitFailed: (err) => {
          // Memory is now ahead of the disk: stop rather than serve state that a restart would lose.
          log.fatal({ event: 'commit-failed', err }, `cannot commit contacts to ${config.dataDir}: ${(err as Error).message}; exiting (nothing uncommitted was acknowledged)`);
          process.exit(1);
        },
        onError: (err, where) => {
          log.error({ event: 'driver-error', where, err }, `internal error while handling ${where} (the node keeps running): ${(err as Error).message}`);
        },
      });
      undo.push(() => driver.stop());
      udp.onDatagram((from, bytes) => driver.handleDatagram(from, bytes));
      const metrics = config.metrics ? await startMetrics(config.metrics, core, udp, shell, log) : undefined;
      const daemon = new Daemon(config, log, core, driver, udp, state, events, notifier, metrics, sqlite);
      log.info({
        event: 'started', id, name: config.name, bind: udp.address, advertise: config.advertise, data: config.dataDir,
        cluster: config.cluster, incarnation: core.membership.incarnation, seeds, knownMembers: restored?.members.length ?? 0,
        metrics: metrics?.address,
      }, `contactd ${config.name} (${id}) listening on ${udp.address}${metrics ? `, metrics at http://${metrics.address}/metrics` : ''}`);
      if (core.security) logSecurity(core, config, log);
      else warnUnencrypted(config, udp.address, log);
      driver.start();
      driver.input((now) => core.join(now, seeds));
      const watchdogMs = notifier.startWatchdog(env);
      if (watchdogMs) log.debug({ event: 'watchdog', intervalMs: watchdogMs }, `pinging the systemd watchdog every ${watchdogMs} ms`);
      return daemon;
    } catch (err) {
      for (const u of undo.reverse()) {
        try { await u(); } catch { /* undoing a half start: the original error is what matters */ }
      }
      throw err;
    }
  }

  /**
   * Leaves the cluster gracefully, waiting at most `leaveTimeoutMs` for the
   * leave to spread, then closes everything. Resolves whether the leave
   * completed in time. Idempotent.
   */
  stop(leaveTimeoutMs: number): Promise<boolean> {
    this.stopping ??= this.doStop(leaveTimeoutMs);
    return this.stopping;
  }

  private async doStop(leaveTimeoutMs: number): Promise<boolean> {
    this.notifier.stopping('leaving the cluster');
    this.driver.input((now) => this.core.leave(now));
    let timer: NodeJS.Timeout | undefined;
    const left = await Promise.race([
      this.events.whenLeft.then(() => true),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), leaveTimeoutMs); }),
    ]);
    clearTimeout(timer);
    if (!left) this.log.warn({ event: 'leave-timeout', timeoutMs: leaveTimeoutMs }, `leave not confirmed within ${leaveTimeoutMs} ms; stopping anyway (others will find this node dead instead of left)`);
    this.driver.stop();
    await this.udp.close();
    await this.sqlite.close();
    await this.metrics?.close();
    this.notifier.close();
    this.state.close();
    return left;
  }

  /** Last-resort cleanup before exiting on a crash: synchronous, never throws. */
  abort(): void {
    try { this.driver.stop(); } catch { /* exiting anyway */ }
    try { this.notifier.close(); } catch { /* exiting anyway */ }
    try { this.state.close(); } catch { /* exiting anyway */ }
  }

  /** Applies a re-read configuration: what can change live does; the rest is named for a restart. */
  reload(next: DaemonConfig): void {
    const prev = this.config;
    if (next.logLevel !== prev.logLevel) this.log.level = next.logLevel;
    if (next.gossipEncryption !== prev.gossipEncryption && this.core.security) {
      this.driver.input(() => this.core.security!.setMode(next.gossipEncryption));
      logSecurity(this.core, next, this.log);
    }
    if (next.name !== prev.name || next.advertise !== prev.advertise) {
      // A new incarnation carries the new name/address to every member.
      this.driver.input((now) => this.core.membership.announce(now, { name: next.name, addr: next.advertise }));
    }
    const needRestart = (['bind', 'dataDir', 'join', 'cluster', 'datagramBudgetBytes', 'logFormat', 'metrics', 'keyFile', 'allowUnencrypted'] as const)
      .filter((k) => JSON.stringify(next[k]) !== JSON.stringify(prev[k]));
    this.config = { ...prev, logLevel: next.logLevel, name: next.name, advertise: next.advertise, gossipEncryption: next.gossipEncryption };
    this.log.info({ event: 'reloaded', logLevel: next.logLevel, name: next.name, advertise: next.advertise, gossipEncryption: next.gossipEncryption, needRestart },
      needRestart.length > 0 ? `configuration reloaded; restart to apply: ${needRestart.join(', ')}` : 'configuration reloaded');
  }
}

/** Says how a keyed node treats datagrams, and what an upgrade mode still allows. */
/**
 * Serves the metrics at `--metrics`. metrics.ts, and prom-client under it,
 * are loaded only then: they cost a process ~10 MB, and the default
 * metrics keep their own timers.
 */
async function startMetrics(at: HostPort, core: ClusterNode, udp: UdpTransport, shell: { stateWriteErrors: number }, log: Logger): Promise<{ address: string; close(): Promise<void> }> {
  const m = await import('./metrics.ts');
  const registry = m.createRegistry();
  m.registerTransportMetrics(registry, core, udp.stats);
  m.registerMembershipMetrics(registry, core.membership);
  m.registerSecurityMetrics(registry, core);
  m.registerShellMetrics(registry, shell);
  m.registerSubscriptionMetrics(registry, core);
  return m.serveMetrics(registry, at, log);
}

function logSecurity(core: ClusterNode, config: DaemonConfig, log: Logger): void {
  const security = core.security!;
  const keys = security.keyring.ids().map(keyIdText);
  const primary = keyIdText(security.keyring.primary().id);
  const mode = security.mode;
  const what = mode === 'require' ? 'only sealed datagrams are taken'
    : mode === 'send' ? 'sending sealed datagrams but still taking plain ones (rolling upgrade): set --gossip-encryption require on every node once all send sealed'
    : 'taking sealed and plain datagrams and sending plain (rolling upgrade): once every node has the key, set --gossip-encryption send on each, then require';
  const level = mode === 'require' ? 'info' : 'warn';
  log[level]({ event: 'encryption', mode, keys, primary, epoch: security.packets.epoch, keyFile: config.keyFile },
    `cluster traffic sealed with AES-256-GCM under key ${primary} (keyring: ${keys.join(', ')}); ${what}`);
}

/** Says, at every start, that this node runs without a cluster key and what that means. */
function warnUnencrypted(config: DaemonConfig, bound: string, log: Logger): void {
  const where = isLoopback(config.bind.host)
    ? `listening on loopback only (${bound}), so only this host can reach it`
    : `listening on ${bound} beyond loopback because of --allow-unencrypted: anyone who can reach it can read, forge and replay cluster traffic`;
  log.warn({ event: 'unencrypted', bind: bound, allowUnencrypted: config.allowUnencrypted, keyFileSkipped: config.keyFileSkipped },
    `no cluster key${config.keyFileSkipped ? ` (${config.keyFileSkipped}; --key-file-optional)` : ''}: gossip and client requests are neither encrypted nor authenticated; ${where}`);
}

function restoreMembership(state: StateDir, log: Logger): PersistedMembership | undefined {
  let value: unknown;
  try {
    value = state.load('membership');
  } catch (err) {
    log.warn({ event: 'state-unreadable', err }, `ignoring saved membership: ${(err as Error).message}`);
    return undefined;
  }
  if (value === undefined) return undefined;
  const m = asPersistedMembership(value);
  if (typeof m === 'string') {
    log.warn({ event: 'state-unreadable', reason: m }, `ignoring saved membership (${m}); this node will need --join to find the cluster`);
    return undefined;
  }
  return m;
}
