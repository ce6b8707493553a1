/**
 * What is always on screen: the top line (where we are attached, the
 * members alive and suspect, how fresh the data is, the two views), the
 * bottom line (the keys that work here, and a short message), and the
 * "terminal too small" notice that replaces everything when the window
 * cannot hold the layout.
 */
import blessed from '../blessed.ts';
import type { Widgets } from 'blessed';
import type { Theme } from '../theme.ts';
import { paint } from '../theme.ts';
import { columns, escapeTags, fit } from '../text.ts';
import type { Link, SyncState } from '../remote/types.ts';

/** The smallest window the layout fits in. */
export const MIN_COLS = 60;
export const MIN_ROWS = 14;

export type ViewName = 'contacts' | 'cluster';

/** What the top line shows. */
export interface TopState {
  view: ViewName;
  link: Link;
  /** `name (address)` of a server address. */
  describe(address: string): string;
  /** A server's name, or its address when unknown. */
  short(address: string): string;
  alive: number;
  suspect: number;
  sync: SyncState;
  nowMs: number;
}

/** A message in the bottom line, and how it looks. */
export interface Flash {
  text: string;
  kind: 'info' | 'ok' | 'warn' | 'error';
  untilMs: number;
}

const secs = (ms: number): string => (ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms < 120_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`);

export class Frame {
  readonly top: Widgets.BoxElement;
  readonly bottom: Widgets.BoxElement;
  readonly tooSmall: Widgets.BoxElement;
  /** Columns of the "1 Contacts" and "2 Cluster" tabs in the top line, for clicks. */
  tabs: { view: ViewName; from: number; to: number }[] = [];

  constructor(private readonly screen: Widgets.Screen, private readonly theme: Theme) {
    this.top = blessed.box({ parent: screen, top: 0, left: 0, width: '100%', height: 1, tags: true, wrap: false, style: { ...theme.bar }, clickable: true });
    this.bottom = blessed.box({ parent: screen, bottom: 0, left: 0, width: '100%', height: 1, tags: true, wrap: false, style: { ...theme.bar } });
    this.tooSmall = blessed.box({ parent: screen, top: 0, left: 0, width: '100%', height: '100%', tags: true, hidden: true });
  }

  /** True when the window is below the minimum; shows or hides the notice. */
  checkSize(): boolean {
    const { width, height } = this.screen;
    const small = (width as number) < MIN_COLS || (height as number) < MIN_ROWS;
    if (small) {
      this.tooSmall.setContent(`The terminal is too small: ${width}x${height}.\nThe contacts TUI needs at least ${MIN_COLS}x${MIN_ROWS}.\nMake the window larger, or press q to quit.`);
      this.tooSmall.show();
      this.tooSmall.setFront();
    } else {
      this.tooSmall.hide();
    }
    return small;
  }

  renderTop(s: TopState): void {
    const t = this.theme;
    const width = this.screen.width as number;
    const tab = (view: ViewName, label: string) => (s.view === view ? t.bold(t.colour ? `{white-fg}${label}{/white-fg}` : `[${label}]`) : t.colour ? `{gray-fg}${label}{/gray-fg}` : ` ${label} `);
    const plainTabs = ['1 Contacts', '2 Cluster'].map((l, i) => (t.colour ? l : (i === 0) === (s.view === 'contacts') ? `[${l}]` : ` ${l} `));
    let x = ' contacts  '.length;
    this.tabs = [];
    (['contacts', 'cluster'] as const).forEach((view, i) => {
      this.tabs.push({ view, from: x, to: x + plainTabs[i]!.length });
      x += plainTabs[i]!.length + 2;
    });
    const parts: string[] = [
      ` ${t.bold('contacts')}  ${tab('contacts', '1 Contacts')}  ${tab('cluster', '2 Cluster')}`,
      this.linkText(s),
      `${paint(t, 'green', `${s.alive} alive`)} ${s.suspect > 0 ? paint(t, 'yellow', `${s.suspect} suspect`) : `${s.suspect} suspect`}`,
      this.syncText(s),
    ];
    this.top.setContent(fitTagged(parts.join(' │ '), width));
  }

  renderBottom(keys: readonly string[], flash: Flash | undefined, nowMs: number): void {
    const width = this.screen.width as number;
    const keyText = ' ' + keys.join('  ');
    if (!flash || flash.untilMs < nowMs) {
      this.bottom.setContent(escapeTags(fit(keyText, width)));
      return;
    }
    const colour = flash.kind === 'error' ? 'red' : flash.kind === 'warn' ? 'yellow' : flash.kind === 'ok' ? 'green' : 'white';
    const msg = fit(` ${flash.text} `, Math.min(columns(flash.text) + 2, width));
    const rest = width - columns(msg);
    const line = rest > 10 ? escapeTags(fit(keyText, rest - 1)) + ' ' + paint(this.theme, colour, msg) : paint(this.theme, colour, fit(msg, width));
    this.bottom.setContent(line);
  }

  private linkText(s: TopState): string {
    const t = this.theme;
    switch (s.link.kind) {
      case 'connecting':
        return paint(t, 'yellow', `connecting to ${s.link.trying}…`);
      case 'attached':
        return paint(t, 'green', '●') + ' ' + escapeTags(s.describe(s.link.server));
      case 'moving':
        return paint(t, 'yellow', `⇄ ${s.short(s.link.from)} not answering, moving to ${s.short(s.link.to)}…`);
      case 'offline':
        return paint(t, 'red', `✖ no server answers · read-only`);
    }
  }

  private syncText(s: TopState): string {
    const t = this.theme;
    const sync = s.sync;
    switch (sync.kind) {
      case 'loading':
        return paint(t, 'yellow', 'loading…');
      case 'polling': {
        const age = Math.max(0, s.nowMs - sync.lastAtMs);
        return age < 1500 ? 'synced just now' : `synced ${secs(age)} ago`;
      }
      case 'live':
        return paint(t, 'green', 'live');
      case 'stale': {
        const age = sync.lastAtMs === undefined ? 'no data yet' : `data ${secs(s.nowMs - sync.lastAtMs)} old`;
        return paint(t, 'red', `${age}, retry in ${secs(Math.max(0, sync.retryAtMs - s.nowMs))}`);
      }
    }
  }
}

/**
 * Cuts tagged text to `width` visible columns: tags take no room, the
 * rest is measured as text.ts measures it. Tags left open are closed by
 * blessed at the end of the line.
 */
export function fitTagged(text: string, width: number): string {
  let out = '';
  let used = 0;
  const re = /(\{[^{}]*\})|([^{]+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m[1]) {
      // {open} and {close} are escaped braces: one column each.
      if (m[1] === '{open}' || m[1] === '{close}') {
        if (used + 1 > width) break;
        used++;
      }
      out += m[1];
      continue;
    }
    const piece = m[2]!;
    const w = columns(piece);
    if (used + w <= width) {
      out += piece;
      used += w;
      continue;
    }
    out += fit(piece, width - used);
    used = width;
    break;
  }
  return out + ' '.repeat(Math.max(0, width - used));
}
