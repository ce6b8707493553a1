/**
 * The daemon's logger: pino, one line per record, on stderr (what journald
 * and container runtimes collect).
 *
 * How this works: pino always builds the JSON record; the `streamWrite` hook
 * then shapes the line: left as JSON (`--log-format json`, the default off a
 * terminal) or rewritten as `time LEVEL message key=value ...` (text, the
 * default on a terminal). Under systemd (`JOURNAL_STREAM` set) every line
 * starts with its syslog priority, `<3>` error .. `<7>` debug, which journald
 * strips and stores as the entry's priority; time and pid are left out
 * because journald records both itself. Writes are synchronous so that the
 * last lines before an exit or a crash are not lost in a buffer.
 */
import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogFormat, LogLevel } from './options.ts';

export type { Logger };

export interface LogOptions {
  level: LogLevel;
  format: LogFormat;
  /** Running under systemd with stderr connected to the journal. */
  journald: boolean;
  /** Where lines go; stderr when absent. */
  destination?: DestinationStream;
}

/** pino's numeric levels → syslog priorities (3 err, 4 warning, 6 info, 7 debug). */
export function journaldPriority(level: number): number {
  if (level >= 50) return 3; // error, fatal
  if (level >= 40) return 4; // warn
  if (level >= 30) return 6; // info
  return 7; // debug, trace
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const HIDDEN_KEYS = new Set(['level', 'time', 'pid', 'hostname', 'msg']);

/** Rewrites one pino JSON line as text: `[time ]LEVEL msg key=value ...`. */
export function formatTextLine(json: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json; // not ours to reshape
  }
  const level = LEVEL_NAMES[rec.level as number] ?? String(rec.level);
  const parts: string[] = [];
  if (typeof rec.time === 'string') parts.push(rec.time);
  parts.push(level.padEnd(5), String(rec.msg ?? ''));
  let stack = '';
  for (const [k, v] of Object.entries(rec)) {
    if (HIDDEN_KEYS.has(k) || v === undefined) continue;
    if (k === 'err' && typeof v === 'object' && v !== null && typeof (v as { stack?: unknown }).stack === 'string' && (v as { stack: string }).stack) {
      stack = '\n    ' + String((v as { stack: unknown }).stack).split('\n').join('\n    ');
      continue;
    }
    parts.push(`${k}=${typeof v === 'string' && /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v)}`);
  }
  return parts.join(' ') + stack + '\n';
}

/** Prefixes each line of `text` (one record, maybe several lines) with `<priority>`. */
function withPriority(text: string, level: number): string {
  const prefix = `<${journaldPriority(level)}>`;
  return text.replace(/\n$/, '').split('\n').map((l) => prefix + l).join('\n') + '\n';
}

function levelOf(json: string): number {
  const m = /"level":(\d+)/.exec(json);
  return m ? Number(m[1]) : 30;
}

/** The daemon's root logger. Its level can be changed later (`logger.level = ...`, on SIGHUP). */
export function createLogger(opts: LogOptions): Logger {
  const shape = (line: string): string => {
    const out = opts.format === 'text' ? formatTextLine(line) : line;
    return opts.journald ? withPriority(out, levelOf(line)) : out;
  };
  return pino(
    {
      level: opts.level,
      base: opts.journald ? undefined : { pid: process.pid },
      timestamp: opts.journald ? false : pino.stdTimeFunctions.isoTime,
      hooks: { streamWrite: shape },
    },
    opts.destination ?? pino.destination({ dest: 2, sync: true }),
  );
}
