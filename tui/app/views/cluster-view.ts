/**
 * The cluster view: every member the attached server knows (name, address,
 * state in colour, incarnation, time since last heard, ticking between
 * reads), and under it the event log, newest last. The log follows new
 * lines unless scrolled up; G follows again.
 */
import blessed from '../blessed.ts';
import type { Widgets } from 'blessed';
import type { ClusterState, EventLog, EventKind } from '../model/cluster-state.ts';
import type { Colour, Theme } from '../theme.ts';
import { paint, stateColour } from '../theme.ts';
import { displayText, escapeTags, fit, localTime, wrap } from '../text.ts';
import { ago } from '../../format.ts';
import type { Link } from '../remote/types.ts';

const KIND_COLOUR: Record<EventKind, Colour> = {
  join: 'green', alive: 'green', suspect: 'yellow', dead: 'red', left: 'gray',
  conflict: 'magenta', failover: 'yellow', offline: 'red', info: 'white', error: 'red',
};

const KIND_MARK: Record<EventKind, string> = {
  join: '+', alive: '↑', suspect: '?', dead: '✖', left: '←', conflict: '!', failover: '⇄', offline: '✖', info: '·', error: '!',
};

export class ClusterView {
  readonly members: Widgets.BoxElement;
  readonly log: Widgets.BoxElement;
  /** Lines scrolled up from the newest; 0 follows new lines. */
  logBack = 0;

  constructor(private readonly screen: Widgets.Screen, private readonly theme: Theme, onWheel: (direction: 1 | -1) => void) {
    const border = { type: 'line' as const };
    const style = { border: { ...theme.border }, label: { bold: true } };
    this.members = blessed.box({ parent: screen, top: 1, left: 0, right: 0, height: 6, border, tags: true, wrap: false, style, label: ' Members ' });
    this.log = blessed.box({ parent: screen, top: 7, left: 0, right: 0, bottom: 1, border, tags: true, wrap: false, style, clickable: true, label: ' Events ' });
    this.log.on('wheeldown', () => onWheel(1));
    this.log.on('wheelup', () => onWheel(-1));
  }

  show(visible: boolean): void {
    for (const b of [this.members, this.log]) {
      if (visible) b.show();
      else b.hide();
    }
  }

  /** Lines the event log shows at once. */
  logRows(): number {
    return Math.max(1, (this.log.height as number) - 2);
  }

  render(cluster: ClusterState, events: EventLog, link: Link, nowMs: number): void {
    const t = this.theme;
    const ms = cluster.members;
    const screenRows = this.screen.height as number;
    const height = Math.min(ms.length + 3, Math.max(5, Math.floor((screenRows - 2) / 2)));
    this.members.height = height;
    this.log.top = 1 + height;
    const width = Math.max(20, (this.screen.width as number) - 2);
    const attached = link.kind === 'attached' ? link.server : undefined;
    const nameW = Math.max(6, Math.min(24, Math.max(0, ...ms.map((m) => displayText(m.name).length + 1))));
    const addrW = Math.max(8, Math.min(24, Math.max(0, ...ms.map((m) => m.address.length + 1))));
    const head = ` ${'  '}${fit('NAME', nameW)} ${fit('ADDRESS', addrW)} ${fit('STATE', 8)} ${fit('INCARNATION', 12)} LAST HEARD`;
    const rows = ms.map((m) => {
      const mark = m.address === attached ? paint(t, 'green', '●') + ' ' : '  ';
      const heard = cluster.heardAgoMs(m, nowMs);
      return ` ${mark}${escapeTags(fit(displayText(m.name), nameW))} ${escapeTags(fit(m.address, addrW))} ${paint(t, stateColour(m.state), fit(m.state, 8))} ${fit(String(m.incarnation), 12)} ${heard === null ? 'never' : ago(heard)}`;
    });
    const shownRows = rows.slice(0, Math.max(0, height - 3));
    if (shownRows.length < rows.length) shownRows[shownRows.length - 1] = paint(t, 'gray', ` … ${rows.length - shownRows.length + 1} more`);
    this.members.setContent([t.bold(escapeTags(fit(head, width))), ...shownRows].join('\n'));
    const c = cluster.counts();
    this.members.setLabel(` Members: ${ms.length} (${c.alive} alive, ${c.suspect} suspect, ${c.dead} dead, ${c.left} left) · ● attached `);
    this.renderLog(events, width);
  }

  private renderLog(events: EventLog, width: number): void {
    const t = this.theme;
    const rows = this.logRows();
    const textCols = Math.max(10, width - 12);
    // Every entry, wrapped: a long one (a failover, an unknown TERM) is read whole.
    const lines: string[] = [];
    for (const e of events.entries) {
      const parts = wrap(displayText(e.text), textCols);
      parts.forEach((part, i) => {
        const head = i === 0 ? `${paint(t, 'gray', localTime(e.atMs).slice(11))} ${paint(t, KIND_COLOUR[e.kind], KIND_MARK[e.kind])}` : ' '.repeat(10);
        lines.push(` ${head} ${escapeTags(part)}`);
      });
    }
    this.logBack = Math.max(0, Math.min(this.logBack, lines.length - rows));
    const end = lines.length - this.logBack;
    this.log.setContent(lines.slice(Math.max(0, end - rows), end).join('\n'));
    const where = this.logBack > 0 ? ` · ${this.logBack} newer lines below (G follows)` : '';
    this.log.setLabel(` Events: ${events.entries.length}${events.dropped > 0 ? ` (+${events.dropped} older dropped)` : ''}${where} `);
  }

}
