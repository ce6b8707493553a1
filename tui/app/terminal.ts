/**
 * The terminal: which terminfo to draw with, and a blessed screen on the
 * given streams (the real TTY, or PassThrough streams in tests).
 *
 * Why the checks: blessed 0.1.81 with a TERM it cannot find prints
 * terminfo errors over the screen and falls back to 8 colours; we look the
 * name up first (the directories ncurses uses, then blessed's own copies)
 * and draw as xterm-256color instead, saying so in the event log. Box
 * lines are drawn as Unicode characters rather than the alternate
 * character set, which tmux and many fonts get wrong (NCURSES_NO_UTF8_ACS).
 */
import blessed from './blessed.ts';
import type { Widgets } from 'blessed';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { patchBlessedUnicode } from './blessed-unicode.ts';

const TERMINFO_DIRS = [
  '/etc/terminfo', '/lib/terminfo', '/usr/share/terminfo', '/usr/lib/terminfo', '/usr/share/lib/terminfo',
  '/usr/local/share/terminfo', '/usr/local/lib/terminfo',
];

/** True when a terminfo entry for `term` exists where blessed looks. */
export function knownTerm(term: string, env: Record<string, string | undefined>): boolean {
  if (!/^[A-Za-z0-9._+-]+$/.test(term)) return false;
  const blessedUsr = join(dirname(createRequire(import.meta.url).resolve('blessed/package.json')), 'usr');
  const dirs = [env.TERMINFO, ...(env.TERMINFO_DIRS ?? '').split(':'), env.HOME && join(env.HOME, '.terminfo'), ...TERMINFO_DIRS].filter((d): d is string => !!d);
  const hex = term.charCodeAt(0).toString(16).padStart(2, '0');
  if (existsSync(join(blessedUsr, term))) return true;
  return dirs.some((d) => existsSync(join(d, term[0]!, term)) || existsSync(join(d, hex, term)));
}

/** The terminal to draw as, and a notice when it is not the one asked for. */
export function chooseTerm(asked: string | undefined, env: Record<string, string | undefined>): { term: string; notice?: string } {
  const want = asked || env.TERM || 'xterm-256color';
  if (knownTerm(want, env)) return { term: want };
  return { term: 'xterm-256color', notice: `TERM=${want} has no terminfo entry here; drawing as xterm-256color (choose another with --term NAME)` };
}

export interface ScreenOptions {
  input: Readable;
  output: Writable;
  term: string;
}

/** A full-screen blessed screen on the streams; destroy() it to give the terminal back. */
export function openScreen(opts: ScreenOptions): Widgets.Screen {
  patchBlessedUnicode();
  // Line drawing as Unicode, not the alternate character set (see the file comment).
  process.env.NCURSES_NO_UTF8_ACS ??= '1';
  return blessed.screen({
    // @types/blessed declares both streams as Duplex; blessed reads one and writes the other.
    input: opts.input as never, output: opts.output as never, terminal: opts.term,
    fullUnicode: true, forceUnicode: true, smartCSR: true, warnings: false, autoPadding: false,
    title: 'contacts',
  });
}
