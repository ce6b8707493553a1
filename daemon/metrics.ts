/**
 * Prometheus metrics (prom-client), served over HTTP by `--metrics HOST:PORT`
 * at /metrics.
 *
 * How this works: nothing is counted twice. The core and the shell already
 * keep plain counters (ClusterNode.stats, the Outbox's, membership.stats,
 * the UDP socket's, the state store's); each metric here reads them in its
 * `collect()` at scrape time, so the hot path pays nothing for metrics.
 * Counters mirror a number that only grows (reset, then set to it);
 * gauges read the current value. Every drop reason is registered up front
 * at 0, so a `rate()` over a reason that has not happened yet still works.
 *
 * Adding a component (replication, the client protocol, the SQLite store):
 * write a `registerXMetrics(registry, source)` beside the ones below and call
 * it where the daemon assembles its parts; names start `contactd_`.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from 'pino';
import type { ClusterNode } from '../protocol/node.ts';
import type { Membership } from '../protocol/membership/membership.ts';
import { formatAddress } from '../protocol/types.ts';
import type { HostPort } from './config.ts';
import type { UdpStats } from './udp.ts';
import { OperatorError } from './errors.ts';

/** A registry with the process's default metrics (memory, CPU, event loop lag). */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** A counter that mirrors `read()`'s values (one per label set) at each scrape. */
function mirrorCounter(registry: Registry, name: string, help: string, read: () => [Record<string, string>, number][]): void {
  const labelNames = [...new Set(read().flatMap(([labels]) => Object.keys(labels)))];
  new Counter({
    name, help, labelNames, registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of read()) this.inc(labels, value);
    },
  });
}

function gauge(registry: Registry, name: string, help: string, read: () => number): void {
  new Gauge({ name, help, registers: [registry], collect() { this.set(read()); } });
}

/** Datagram traffic: what the core received, sent and dropped, and the socket's own failures. */
export function registerTransportMetrics(registry: Registry, node: ClusterNode, udp: UdpStats): void {
  mirrorCounter(registry, 'contactd_datagrams_received_total', 'Datagrams received on the cluster socket.', () => [[{}, node.stats.datagramsIn]]);
  mirrorCounter(registry, 'contactd_received_bytes_total', 'Bytes received on the cluster socket.', () => [[{}, node.stats.bytesIn]]);
  mirrorCounter(registry, 'contactd_datagrams_sent_total', 'Datagrams the core handed to the socket.', () => [[{}, node.outbox.datagramsSent]]);
  mirrorCounter(registry, 'contactd_sent_bytes_total', 'Bytes the core handed to the socket.', () => [[{}, node.outbox.bytesSent]]);
  mirrorCounter(registry, 'contactd_datagrams_dropped_total',
    'Input dropped, by direction and reason, as `contacts stats` shows it (in: datagrams the codec refused; messages of unknown type '
    + 'skipped or misdirected; unparsable states; fragments never completed; client requests refused as malformed).', () => [
      ...Object.entries(node.badInput().byReason).map(([reason, n]): [Record<string, string>, number] => [{ direction: 'in', reason }, n]),
      [{ direction: 'out', reason: 'queue-full' }, node.outbox.droppedFull],
      [{ direction: 'out', reason: 'reply-capped' }, node.outbox.repliesCapped],
      [{ direction: 'out', reason: 'send-error' }, udp.sendErrors],
    ]);
  gauge(registry, 'contactd_rate_limited_sources', 'Source addresses with rate-limit state (bounded).', () => node.guard.sources);
  mirrorCounter(registry, 'contactd_client_auth_total', 'Client requests by what the credential check made of them.', () => [
    [{ outcome: 'admitted' }, node.clientGate.stats.admitted],
    [{ outcome: 'anonymous' }, node.clientGate.stats.anonymous],
    [{ outcome: 'auth-required' }, node.clientGate.stats.authRequired],
    [{ outcome: 'auth-answer-withheld' }, node.clientGate.stats.authAnswersLimited],
    [{ outcome: 'replay' }, node.clientGate.stats.replays],
    [{ outcome: 'retarget' }, node.clientGate.stats.retargets],
  ]);
  mirrorCounter(registry, 'contactd_socket_errors_total', 'Errors the UDP socket reported (the node keeps running).', () => [[{}, udp.socketErrors]]);
}

/** Client subscriptions: how many, and pushes sent or withheld (a withheld push shows the client a gap). */
export function registerSubscriptionMetrics(registry: Registry, node: ClusterNode): void {
  gauge(registry, 'contactd_client_subscriptions', 'Client subscriptions held (confirmed or not).', () => node.subscriptions.size);
  mirrorCounter(registry, 'contactd_client_pushes_total', 'Pushes to subscribed clients, by outcome.', () => [
    [{ outcome: 'sent' }, node.subscriptions.stats.pushes],
    [{ outcome: 'withheld' }, node.subscriptions.stats.pushesWithheld],
  ]);
}

/** A keyed node: datagrams sealed and opened, senders with replay state, keys installed. */
export function registerSecurityMetrics(registry: Registry, node: ClusterNode): void {
  const security = node.security;
  if (!security) return;
  mirrorCounter(registry, 'contactd_datagrams_sealed_total', 'Datagrams sealed with the cluster key.', () => [[{}, security.packets.stats.sealed]]);
  mirrorCounter(registry, 'contactd_datagrams_opened_total', 'Sealed datagrams that verified and were taken.', () => [[{}, security.packets.stats.opened]]);
  gauge(registry, 'contactd_replay_senders', 'Senders with replay state (bounded).', () => security.packets.peerCount);
  gauge(registry, 'contactd_keyring_keys', 'Cluster keys installed in the keyring.', () => security.keyring.size);
}

const MEMBER_STATES = ['alive', 'suspect', 'dead', 'left'] as const;

/** SWIM membership: members by state, protocol counters, broadcast queue, local health. */
export function registerMembershipMetrics(registry: Registry, membership: Membership): void {
  new Gauge({
    name: 'contactd_members', help: 'Members this node knows, itself included, by state.', labelNames: ['state'], registers: [registry],
    collect() {
      const counts = new Map<string, number>(MEMBER_STATES.map((s) => [s, 0]));
      for (const m of membership.members()) counts.set(m.state, (counts.get(m.state) ?? 0) + 1);
      for (const [state, n] of counts) this.set({ state }, n);
    },
  });
  for (const key of Object.keys(membership.stats) as (keyof Membership['stats'])[]) {
    const snake = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    mirrorCounter(registry, `contactd_swim_${snake}_total`, `SWIM counter membership.stats.${key}.`, () => [[{}, membership.stats[key]]]);
  }
  gauge(registry, 'contactd_broadcast_queue_depth', 'Membership broadcasts waiting to be gossiped.', () => membership.broadcastQueueDepth);
  gauge(registry, 'contactd_local_health_score', 'Lifeguard local health score (0 healthy; timeouts scale by score + 1).', () => membership.health);
  gauge(registry, 'contactd_incarnation', "This node's incarnation number.", () => membership.incarnation);
}

/** The shell's own counters. */
export function registerShellMetrics(registry: Registry, shell: { stateWriteErrors: number }): void {
  mirrorCounter(registry, 'contactd_state_write_errors_total', 'Failed writes to the data directory.', () => [[{}, shell.stateWriteErrors]]);
}

/** Could not serve metrics; the message says what to do. */
export class MetricsServeError extends OperatorError {
  override name = 'MetricsServeError';
}

/** Serves `registry` at http://HOST:PORT/metrics; resolves once listening. */
export async function serveMetrics(registry: Registry, at: HostPort, log: Logger): Promise<{ address: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('contactd: metrics are at /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: Error) => {
        log.error({ event: 'metrics-error', err }, `collecting metrics failed: ${err.message}`);
        res.writeHead(500, { 'content-type': 'text/plain' }).end('collecting metrics failed\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new MetricsServeError(`cannot serve metrics on ${formatAddress(at.host, at.port)}: ${err.code ?? err.message}; pick another --metrics HOST:PORT, or leave it out.`)));
    server.listen(at.port, at.host, () => resolve());
  });
  const a = server.address();
  const address = typeof a === 'object' && a ? formatAddress(a.address, a.port) : String(a);
  return {
    address,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
