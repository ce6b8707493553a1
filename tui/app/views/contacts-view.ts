/**
 * The contacts view: the list on the left, the selected contact on the
 * right, and the filter line under the list while a query is typed or set.
 *
 * How this works: the list is one box whose content is only the rows that
 * fit (ContactList.window), rebuilt on every change, so its cost does not
 * depend on how many contacts there are. Conflicted contacts carry a red
 * `!`. Clicks and the wheel are reported to the app as row indexes.
 */
import blessed from '../blessed.ts';
import type { Widgets } from 'blessed';
import type { ContactList } from '../model/contact-list.ts';
import type { Theme } from '../theme.ts';
import { paint } from '../theme.ts';
import { columns, count, displayText, escapeTags, fit } from '../text.ts';
import { detailLines, type NameOf } from './details.ts';

export interface ContactsViewEvents {
  /** A row (index into the shown list) was clicked. */
  click(index: number): void;
  /** The wheel turned over the list: +1 down, -1 up. */
  wheel(direction: 1 | -1): void;
}

/** What the list shows beyond the model. */
export interface ListState {
  filtering: boolean;
  /** Where the cursor is in the query while filtering. */
  filterCursor: number;
  loading: boolean;
  readOnly: boolean;
}

export class ContactsView {
  readonly list: Widgets.BoxElement;
  readonly details: Widgets.BoxElement;

  constructor(private readonly screen: Widgets.Screen, private readonly theme: Theme, events: ContactsViewEvents) {
    const border = { type: 'line' as const };
    this.list = blessed.box({
      parent: screen, top: 1, left: 0, bottom: 1, width: '40%', border, tags: true, clickable: true, wrap: false,
      style: { border: { ...theme.border }, label: { bold: true } },
    });
    this.details = blessed.box({
      parent: screen, top: 1, left: '40%', bottom: 1, right: 0, border, tags: true, wrap: false,
      style: { border: { ...theme.border }, label: { bold: true } },
    });
    this.list.on('click', (data: { y: number }) => {
      const row = data.y - (this.list.atop as number) - 1;
      if (row >= 0 && row < this.rows()) events.click(this.firstShown + row);
    });
    this.list.on('wheeldown', () => events.wheel(1));
    this.list.on('wheelup', () => events.wheel(-1));
  }

  private firstShown = 0;

  show(visible: boolean): void {
    if (visible) {
      this.list.show();
      this.details.show();
    } else {
      this.list.hide();
      this.details.hide();
    }
  }

  /** Rows of contacts the list can show now. */
  rows(filterLine = false): number {
    return Math.max(1, (this.list.height as number) - 2 - (filterLine ? 1 : 0));
  }

  render(model: ContactList, state: ListState, nameOf: NameOf): void {
    const t = this.theme;
    const filterLine = state.filtering || model.query !== '';
    const height = this.rows(filterLine);
    const width = Math.max(4, (this.list.width as number) - 2);
    const { first, contacts } = model.window(height);
    this.firstShown = first;
    const lines = contacts.map((c, k) => {
      const i = first + k;
      const mark = c.conflicts.length > 0 ? '!' : ' ';
      const text = fit(`${mark}${displayText(c.formattedName)}`, width);
      if (i === model.cursor) return t.colour ? `{black-fg}{cyan-bg}${escapeTags(text)}{/cyan-bg}{/black-fg}` : t.inverse(escapeTags(text));
      return mark === '!' ? paint(t, 'red', '!') + escapeTags(text.slice(1)) : escapeTags(text);
    });
    if (contacts.length === 0) {
      const empty = state.loading ? 'loading…' : model.query ? 'no contact matches' : 'no contacts yet: press a to add one';
      lines.push(paint(t, 'gray', fit(empty, width)));
    }
    while (lines.length < height) lines.push('');
    if (filterLine) lines.push(this.filterText(model.query, state, width));
    this.list.setContent(lines.join('\n'));
    const shown = model.query ? `${count(model.size)} of ${count(model.total)}` : count(model.total);
    const pos = model.size > 0 ? ` ${model.cursor + 1}/${count(model.size)}` : '';
    this.list.setLabel(` Contacts ${shown}${model.query ? ' matching' : ''}${pos !== '' && model.size > height ? ` ·${pos}` : ''} `);
    this.renderDetails(model, state, nameOf);
  }

  private filterText(query: string, state: ListState, width: number): string {
    const t = this.theme;
    if (!state.filtering) return paint(t, 'yellow', fit(`/${displayText(query)}  (Esc clears)`, width));
    const before = displayText(query.slice(0, state.filterCursor));
    const at = query.slice(state.filterCursor, state.filterCursor + 1) || ' ';
    const after = displayText(query.slice(state.filterCursor + at.length));
    const room = width - 1 - columns(before) - columns(displayText(at));
    return `${paint(t, 'yellow', '/')}${escapeTags(before)}${t.inverse(escapeTags(displayText(at)))}${escapeTags(fit(after, Math.max(0, room)))}`;
  }

  private renderDetails(model: ContactList, state: ListState, nameOf: NameOf): void {
    const c = model.selected();
    const width = Math.max(10, (this.details.width as number) - 4);
    const height = Math.max(1, (this.details.height as number) - 2);
    this.details.setLabel(state.readOnly ? ' Details (read-only) ' : ' Details ');
    if (!c) {
      this.details.setContent('');
      return;
    }
    const lines = detailLines(c, width, this.theme, nameOf).map((l) => ` ${l}`);
    if (lines.length > height) lines.splice(height - 1, lines.length, paint(this.theme, 'gray', ' … Enter shows all'));
    this.details.setContent(lines.join('\n'));
  }
}
