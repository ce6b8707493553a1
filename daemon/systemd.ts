/**
 * systemd's notify protocol (sd_notify), for `Type=notify` units: READY=1
 * once the node has joined, STATUS= lines for `systemctl status`,
 * STOPPING=1 on shutdown, EXTEND_TIMEOUT_USEC while joining takes long, and
 * watchdog keep-alives.
 *
 * How this works: each notification is one datagram of `KEY=value` lines
 * sent to the unix datagram socket named by $NOTIFY_SOCKET. node:dgram has
 * no unix datagram sockets, so unix-dgram sends them; spawning
 * systemd-notify would lose messages (systemd attributes them to the
 * short-lived child). unix-dgram cannot address abstract sockets
 * (`@name`; it pads the name to the full sockaddr), which systemd itself
 * never hands a service (it uses /run/systemd/notify); such a socket is
 * reported once and ignored. Without $NOTIFY_SOCKET every call is a no-op,
 * so callers need not care whether they run under systemd. The watchdog
 * pings from the event loop itself: a wedged loop stops pinging and
 * systemd restarts the daemon.
 */
import { createSocket, type UnixDgramSocket } from 'unix-dgram';
import type { Logger } from 'pino';

export class SystemdNotifier {
  private socket: UnixDgramSocket | undefined;
  private watchdogTimer: NodeJS.Timeout | undefined;
  private warned = false;

  private constructor(private readonly path: string | undefined, private readonly log: Logger) {}

  /** A notifier for $NOTIFY_SOCKET, or one that does nothing when it is unset. */
  static fromEnv(env: Readonly<Record<string, string | undefined>>, log: Logger): SystemdNotifier {
    const path = env.NOTIFY_SOCKET || undefined;
    if (path?.startsWith('@')) {
      log.warn({ event: 'sd-notify-unsupported', socket: path }, `NOTIFY_SOCKET=${path} is an abstract socket, which this build cannot send to; systemd notifications are off (use Type=simple for this unit)`);
      return new SystemdNotifier(undefined, log);
    }
    return new SystemdNotifier(path, log);
  }

  get enabled(): boolean {
    return this.path !== undefined;
  }

  /** The service is up: systemd finishes starting it and starts its dependents. */
  ready(status: string): void {
    this.send({ READY: '1', STATUS: status });
  }

  /** Free text shown by `systemctl status`. */
  status(text: string): void {
    this.send({ STATUS: text });
  }

  /** We are still starting and need up to `ms` more before the start timeout applies. */
  extendTimeout(ms: number): void {
    this.send({ EXTEND_TIMEOUT_USEC: String(Math.ceil(ms) * 1000) });
  }

  /** Shutdown has begun. */
  stopping(status: string): void {
    this.send({ STOPPING: '1', STATUS: status });
  }

  /**
   * Pings the watchdog at half the interval systemd asks for ($WATCHDOG_USEC,
   * meant for us when $WATCHDOG_PID is unset or ours). Returns the interval, or undefined when off.
   */
  startWatchdog(env: Readonly<Record<string, string | undefined>>, pid = process.pid): number | undefined {
    const usec = Number(env.WATCHDOG_USEC);
    if (!this.enabled || !(usec > 0) || (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid)) return undefined;
    const intervalMs = Math.max(1, Math.floor(usec / 2000));
    this.watchdogTimer = setInterval(() => this.send({ WATCHDOG: '1' }), intervalMs);
    this.watchdogTimer.unref();
    return intervalMs;
  }

  close(): void {
    if (this.watchdogTimer) clearInterval(this.watchdogTimer);
    this.watchdogTimer = undefined;
    this.socket?.close();
    this.socket = undefined;
  }

  private send(fields: Record<string, string>): void {
    if (this.path === undefined) return;
    const msg = Buffer.from(Object.entries(fields).map(([k, v]) => `${k}=${v.replace(/\n/g, ' ')}`).join('\n'));
    try {
      this.socket ??= createSocket('unix_dgram');
      this.socket.send(msg, 0, msg.length, this.path, (err) => { if (err) this.warn(err); });
    } catch (err) {
      this.warn(err as Error);
    }
  }

  private warn(err: Error): void {
    // Once: a notify socket that fails, fails every time.
    if (this.warned) return;
    this.warned = true;
    this.log.warn({ event: 'sd-notify-error', err }, `cannot notify systemd at $NOTIFY_SOCKET: ${err.message}`);
  }
}
