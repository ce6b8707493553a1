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

  /**
   * The top line, in the longest form that fits: the app's name, the views
   * (the current one bold, or in brackets without colour), where we are
   * attached, members alive and suspect, and how fresh the data is. A
   * narrow window drops the name and the server's address first.
   */
  renderTop(s: TopState): void {
    const t = this.theme;
    const width = this.screen.width as number;
    const labels = { contacts: '1 Contacts', cluster: '2 Cluster' } as const;
    const tabPlain = (view: ViewName) => (t.colour ? labels[view] : s.view === view ? `[${labels[view]}]` : ` ${labels[view]} `);
    const tab = (view: ViewName) => {
      if (!t.colour) return t.bold(tabPlain(view));
      return s.view === view ? t.bold(`{white-fg}${labels[view]}{/white-fg}`) : `{gray-fg}${labels[view]}{/gray-fg}`;
    };
    const suspect = s.suspect > 0 ? paint(t, 'yellow', `${s.suspect} suspect`) : `${s.suspect} suspect`;
    const counts = `${paint(t, 'green', `${s.alive} alive`)} ${suspect}`;
    const fewCounts = s.suspect > 0 ? counts : paint(t, 'green', `${s.alive} alive`);
    const variants = [
      { title: ' contacts  ', link: this.linkText(s, true), counts, sync: this.syncText(s, false) },
      { title: ' contacts  ', link: this.linkText(s, false), counts, sync: this.syncText(s, false) },
      { title: ' ', link: this.linkText(s, false), counts, sync: this.syncText(s, false) },
      { title: ' ', link: this.linkText(s, false), counts: fewCounts, sync: this.syncText(s, true) },
    ];
    let chosen = variants[variants.length - 1]!;
    let line = '';
    for (const v of variants) {
      chosen = v;
      line = [`${v.title === ' ' ? ' ' : ` ${t.bold('contacts')}  `}${tab('contacts')}  ${tab('cluster')}`, v.link, v.counts, v.sync].join(' │ ');
      if (columns(plainOf(line)) <= width) break;
    }
    let x = chosen.title.length;
    this.tabs = (['contacts', 'cluster'] as const).map((view) => {
      const w = tabPlain(view).length;
      const span = { view, from: x, to: x + w };
      x += w + 2;
      return span;
    });
    this.top.setContent(fitTagged(line, width));
  }

  /**
   * The bottom line: the keys that work here, and a message for a few
   * seconds. When they do not fit, keys are dropped from the middle: the
   * first (moving) and the last (help, quit) stay.
   */
  renderBottom(keys: readonly string[], flash: Flash | undefined, nowMs: number): void {
    const width = this.screen.width as number;
    const message = flash && flash.untilMs >= nowMs ? flash : undefined;
    const msg = message ? fit(` ${message.text} `, Math.min(columns(message.text) + 2, width)) : '';
    const room = width - columns(msg) - (msg ? 1 : 0);
    const shown = [...keys];
    while (shown.length > 3 && columns(' ' + shown.join('  ')) > room) shown.splice(shown.length - 3, 1);
    const keyText = escapeTags(fit(' ' + shown.join('  '), Math.max(0, room)));
    if (!message) return void this.bottom.setContent(keyText);
    const colour = message.kind === 'error' ? 'red' : message.kind === 'warn' ? 'yellow' : message.kind === 'ok' ? 'green' : 'white';
    this.bottom.setContent(room > 10 ? `${keyText} ${paint(this.theme, colour, msg)}` : paint(this.theme, colour, fit(msg, width)));
  }

  private linkText(s: TopState, long: boolean): string {
    const t = this.theme;
    switch (s.link.kind) {
      case 'connecting':
        return paint(t, 'yellow', `connecting to ${s.link.trying}…`);
      case 'attached':
        return paint(t, 'green', '●') + ' ' + escapeTags(long ? s.describe(s.link.server) : s.short(s.link.server));
      case 'moving':
        return paint(t, 'yellow', `⇄ ${s.short(s.link.from)} not answering, moving to ${s.short(s.link.to)}…`);
      case 'offline':
        return paint(t, 'red', `✖ no server answers · read-only`);
    }
  }

  private syncText(s: TopState, short: boolean): string {
    const t = this.theme;
    const sync = s.sync;
    switch (sync.kind) {
      case 'loading':
        return paint(t, 'yellow', 'loading…');
      case 'polling': {
        const age = Math.max(0, s.nowMs - sync.lastAtMs);
        return age < 1500 ? (short ? 'synced now' : 'synced just now') : `synced ${secs(age)} ago`;
      }
      case 'live':
        return paint(t, 'green', 'live');
      case 'stale': {
        const retry = secs(Math.max(0, sync.retryAtMs - s.nowMs));
        if (short) return paint(t, 'red', `retry in ${retry}`);
        const age = sync.lastAtMs === undefined ? 'no data yet' : `data ${secs(s.nowMs - sync.lastAtMs)} old`;
        return paint(t, 'red', `${age}, retry in ${retry}`);
      }
    }
  }

}

/** Tagged text as it shows: tags removed, escaped braces put back. */
function plainOf(tagged: string): string {
  return tagged.replace(/\{(open|close)\}|\{[^{}]*\}/g, (m, brace: string | undefined) => (brace === 'open' ? '{' : brace === 'close' ? '}' : ''));
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
