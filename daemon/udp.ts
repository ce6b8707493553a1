/**
 * The daemon's UDP socket (dgram-as-promised): binds, sends what the driver
 * hands it, and passes every received datagram on.
 *
 * How this works: bind and close are awaited (a port in use is an error at
 * start, with a message that says what to do). Sends are fire-and-forget:
 * UDP promises nothing, and a failed send is one lost datagram that SWIM
 * already tolerates, so it is counted and logged (at most once per error
 * code every `errorLogIntervalMs`, so a broken route cannot flood the log),
 * never thrown. Receiving uses a standing 'message' listener on the
 * underlying socket rather than dgram-as-promised's recv() loop: recv()
 * listens only while a call is pending and ends its iteration on the first
 * socket error, while a daemon must keep listening whatever happens.
 */
import DgramAsPromised, { type SocketAsPromised } from 'dgram-as-promised';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import { formatAddress, parseAddress, type Address } from '../protocol/types.ts';
import type { DatagramSink } from './driver.ts';
import type { HostPort } from './config.ts';
import { OperatorError } from './errors.ts';

/**
 * Receive buffer asked for: 256 KiB, about 190 full datagrams. Small on
 * purpose: under a flood, a 4 MiB buffer queued seconds of junk ahead of a
 * member's ping (ack p99 875 ms, past the 500 ms probe timeout); with this
 * one the kernel drops the excess instead (test/integration/flood.test.ts).
 */
const RECV_BUFFER_BYTES = 256 * 1024;

/** Socket-level counters, for metrics. */
export interface UdpStats {
  sendErrors: number;
  socketErrors: number;
}

/** Failed to bind; the message says what to do. */
export class BindError extends OperatorError {
  override name = 'BindError';
}

export class UdpTransport implements DatagramSink {
  readonly stats: UdpStats = { sendErrors: 0, socketErrors: 0 };
  private readonly lastLoggedMs = new Map<string, number>();
  private closed = false;

  private constructor(
    private readonly sock: SocketAsPromised,
    private readonly log: Logger,
    readonly family: 4 | 6,
    private readonly errorLogIntervalMs: number,
  ) {
    // dgram-as-promised latches a socket error and fails the next send() with
    // it (unsent); its destroy() removes only that latch. We count errors here.
    sock.destroy();
    sock.socket.on('error', (err) => this.onSocketError(err));
  }

  /** Binds a socket at `bind`; throws BindError. */
  static async open(bind: HostPort, log: Logger, errorLogIntervalMs = 10_000): Promise<UdpTransport> {
    const family = isIP(bind.host) === 6 ? 6 : 4;
    const sock = DgramAsPromised.createSocket({ type: family === 6 ? 'udp6' : 'udp4' });
    try {
      await sock.bind(bind.port, bind.host);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const where = formatAddress(bind.host, bind.port);
      const hint = code === 'EADDRINUSE' ? 'another process (another contactd?) uses that port: pick another with --bind'
        : code === 'EADDRNOTAVAIL' ? 'that IP is not on this host: use one of its addresses, or 0.0.0.0 with --advertise'
        : code === 'EACCES' ? 'this user may not bind that port: use a port above 1023'
        : 'check --bind';
      throw new BindError(`cannot bind UDP ${where}: ${code ?? (err as Error).message}; ${hint}`);
    }
    try {
      // Room for bursts (a catch-up, a flood being dropped): the kernel caps it at net.core.rmem_max.
      sock.socket.setRecvBufferSize(RECV_BUFFER_BYTES);
    } catch (err) {
      log.debug({ event: 'recv-buffer', err }, `cannot raise the socket's receive buffer: ${(err as Error).message}`);
    }
    return new UdpTransport(sock, log, family, errorLogIntervalMs);
  }

  /** The bound address. */
  get address(): Address {
    const a = this.sock.address();
    return formatAddress(a.address, a.port);
  }

  /** Calls `handler` with every datagram received from now on. */
  onDatagram(handler: (from: Address, bytes: Uint8Array) => void): void {
    this.sock.socket.on('message', (msg, rinfo) => handler(formatAddress(rinfo.address, rinfo.port), msg));
  }

  send(to: Address, bytes: Uint8Array): void {
    if (this.closed) return;
    const hp = parseAddress(to);
    if (!hp) return this.sendFailed(to, 'EBADADDR', `not host:port`);
    this.sock.send(bytes, hp.port, hp.host).catch((err: NodeJS.ErrnoException) => this.sendFailed(to, err.code ?? 'ERROR', err.message));
  }

  /** Closes the socket; later sends are ignored. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.sock.close();
  }

  private sendFailed(to: Address, code: string, message: string): void {
    this.stats.sendErrors++;
    if (this.shouldLog(`send:${code}`)) this.log.warn({ event: 'send-error', to, code, sendErrors: this.stats.sendErrors }, `UDP send to ${to} failed: ${message}`);
  }

  private onSocketError(err: NodeJS.ErrnoException): void {
    this.stats.socketErrors++;
    if (this.shouldLog(`socket:${err.code}`)) this.log.error({ event: 'socket-error', code: err.code, err }, `UDP socket error (the node keeps running): ${err.message}`);
  }

  private shouldLog(key: string): boolean {
    const now = Date.now();
    const last = this.lastLoggedMs.get(key);
    if (last !== undefined && now - last < this.errorLogIntervalMs) return false;
    this.lastLoggedMs.set(key, now);
    return true;
  }
}
