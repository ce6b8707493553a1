/**
 * A dialog of scrolling lines: the help, a contact's card, its history.
 * Scroll keys are handled here; any other action of its key table goes to
 * `onAction` (the card's e, d, c, h; close).
 */
import type blessed from 'blessed';
import { actionFor, type Binding } from '../keys.ts';
import type { Theme } from '../theme.ts';
import { paint } from '../theme.ts';
import { DialogBox, type Modal } from './dialog.ts';

export interface PagerOptions {
  title: string;
  /** The lines for a width (tagged, fitted). */
  lines(cols: number): string[];
  keys: readonly Binding[];
  /** Widest the dialog gets, columns. */
  maxCols?: number;
  onAction(action: string): void;
}

export class PagerDialog implements Modal {
  private readonly dialog: DialogBox;
  private top = 0;
  private rows = 1;
  private total = 0;

  constructor(screen: blessed.Widgets.Screen, private readonly theme: Theme, private readonly opts: PagerOptions) {
    this.dialog = new DialogBox(screen, theme, opts.title);
  }

  get keys(): readonly Binding[] {
    return this.opts.keys;
  }

  setTitle(title: string): void {
    this.dialog.setTitle(title);
  }

  key(name: string): void {
    const action = actionFor(this.opts.keys, name);
    const page = Math.max(1, this.rows - 1);
    switch (action) {
      case 'down': this.top++; break;
      case 'up': this.top--; break;
      case 'pageDown': this.top += page; break;
      case 'pageUp': this.top -= page; break;
      case 'first': this.top = 0; break;
      case 'last': this.top = this.total; break;
      case undefined: return;
      default: return this.opts.onAction(action);
    }
    this.top = Math.max(0, Math.min(this.top, this.total - this.rows));
  }

  render(): void {
    const maxCols = this.opts.maxCols ?? 100;
    const probe = this.dialog.size(maxCols, 1000);
    const all = this.opts.lines(probe.cols);
    const size = this.dialog.size(maxCols, all.length);
    this.total = all.length;
    const more = all.length > size.rows;
    this.rows = more ? size.rows - 1 : size.rows;
    this.top = Math.max(0, Math.min(this.top, all.length - this.rows));
    const shown = all.slice(this.top, this.top + this.rows);
    if (more) shown.push(paint(this.theme, 'gray', `— lines ${this.top + 1}-${this.top + shown.length} of ${all.length}; j/k, PgUp/PgDn scroll —`));
    this.dialog.setLines(shown);
  }

  setVisible(visible: boolean): void {
    this.dialog.setVisible(visible);
  }

  destroy(): void {
    this.dialog.destroy();
  }
}
