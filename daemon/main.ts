/**
 * contactd's entry point: configuration, logger, signals, exit codes.
 * Run with `npm run node -- <flags>`, `node --import tsx daemon/main.ts`, or
 * the `daemon/bin.js` executable.
 *
 * How this works:
 * - A bad configuration prints one message on stderr and exits 2; --help
 *   prints the help on stdout and exits 0.
 * - SIGTERM or SIGINT: leave the cluster gracefully (bounded by
 *   LEAVE_TIMEOUT_MS), close, exit 0. A second one exits at once with
 *   128 + the signal number (130 for SIGINT, 143 for SIGTERM), the shell's
 *   convention for "killed by".
 * - SIGHUP: re-read flags, environment and config file; apply what can be
 *   applied live (daemon.ts `reload`). A reload that fails validation keeps
 *   the running configuration.
 * - An uncaught error or unhandled rejection is logged, the data-dir lock
 *   released, and the process exits 1 (state is unknown: systemd's
 *   Restart=on-failure brings it back clean).
 */
import { constants as osConstants } from 'node:os';
import { ConfigError, loadConfig } from './config.ts';
import { Daemon } from './daemon.ts';
import { OperatorError } from './errors.ts';
import { createLogger, type Logger } from './log.ts';
import { generateKeyText } from './keys.ts';

/** How long a graceful leave may take before we stop anyway (the core needs ~1.5 s to spread it). */
const LEAVE_TIMEOUT_MS = 5_000;
/** Past this, a stop that hangs (a socket that will not close) is abandoned with exit 1. */
const STOP_DEADLINE_MS = LEAVE_TIMEOUT_MS + 5_000;

function readConfig(argv: readonly string[]): ReturnType<typeof loadConfig> {
  return loadConfig({ argv, env: process.env, stderrIsTTY: process.stderr.isTTY === true });
}

async function main(argv: readonly string[]): Promise<void> {
  if (argv[0] === 'keygen') {
    if (argv.length > 1) {
      process.stderr.write('contactd keygen takes no options; it prints a new cluster key (save it to a file for --key-file).\n');
      process.exit(2);
    }
    process.stdout.write(generateKeyText());
    return;
  }
  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = readConfig(argv);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`contactd: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  if (loaded.kind === 'help') {
    // `contactd --help | head` closes the pipe early: that is not an error.
    process.stdout.on('error', (err: NodeJS.ErrnoException) => process.exit(err.code === 'EPIPE' ? 0 : 1));
    process.stdout.write(loaded.text);
    return;
  }
  const { config } = loaded;
  const log = createLogger({ level: config.logLevel, format: config.logFormat, journald: Boolean(process.env.JOURNAL_STREAM) });
  for (const w of loaded.warnings) log.warn({ event: 'config-warning' }, w);

  let daemon: Daemon | undefined;
  const crash = (err: unknown, what: string): never => {
    log.fatal({ event: 'crash', err }, `${what}: ${(err as Error)?.message ?? String(err)}; exiting`);
    daemon?.abort();
    process.exit(1);
  };
  process.on('uncaughtException', (err) => crash(err, 'uncaught error'));
  process.on('unhandledRejection', (err) => crash(err, 'unhandled rejection'));

  // Signals are handled from the start: one that arrives while the node is
  // still starting waits for the start, then acts on the running node.
  const starting = Daemon.start(config, log, process.env);
  installSignals(starting, () => daemon, log, argv);
  try {
    daemon = await starting;
  } catch (err) {
    // An operator's error says what to do in one line; anything else is a bug and keeps its stack.
    const fields = err instanceof OperatorError ? { error: err.name } : { err };
    log.fatal({ event: 'start-failed', ...fields }, `cannot start: ${(err as Error).message}`);
    process.exit(1);
  }
}

function installSignals(starting: Promise<Daemon>, current: () => Daemon | undefined, log: Logger, argv: readonly string[]): void {
  const started = starting.catch(() => new Promise<never>(() => {})); // a failed start exits in main
  let stopping = false;
  const stop = (signal: 'SIGTERM' | 'SIGINT'): void => {
    if (stopping) {
      log.warn({ event: 'stop-now', signal }, `${signal} again: exiting at once`);
      current()?.abort();
      process.exit(128 + osConstants.signals[signal]);
    }
    stopping = true;
    log.info({ event: 'stopping', signal }, `${signal}: leaving the cluster (send it again to exit at once)`);
    setTimeout(() => {
      log.error({ event: 'stop-hung', deadlineMs: STOP_DEADLINE_MS }, `stopping took over ${STOP_DEADLINE_MS} ms; exiting`);
      current()?.abort();
      process.exit(1);
    }, STOP_DEADLINE_MS).unref();
    started.then((daemon) => daemon.stop(LEAVE_TIMEOUT_MS)).then(
      (left) => {
        log.info({ event: 'stopped', left }, 'stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.fatal({ event: 'stop-failed', err }, `stopping failed: ${(err as Error).message}`);
        current()?.abort();
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    let next: ReturnType<typeof loadConfig>;
    try {
      next = readConfig(argv);
    } catch (err) {
      log.error({ event: 'reload-failed' }, `SIGHUP: configuration not reloaded, keeping the running one: ${(err as Error).message}`);
      return;
    }
    if (next.kind !== 'config') return;
    for (const w of next.warnings) log.warn({ event: 'config-warning' }, w);
    const { config } = next;
    void started.then((daemon) => daemon.reload(config));
  });
}

await main(process.argv.slice(2));
