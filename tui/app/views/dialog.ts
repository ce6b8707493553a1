/**
 * A modal box in the middle of the screen, sized to its content and cut
 * to the window; the dialogs (form, confirm, conflicts, pager) draw into
 * one. Keys go to the topmost dialog only (app.ts).
 */
import blessed from '../blessed.ts';
import type { Widgets } from 'blessed';
import type { Binding } from '../keys.ts';
import type { Theme } from '../theme.ts';

/** A dialog as the app drives it. */
export interface Modal {
  /** The keys it takes, for the bottom line and the help. */
  readonly keys: readonly Binding[];
  /** Handles one key (already named by keys.ts keyName). */
  key(name: string): void | Promise<void>;
  render(): void;
  /** Hidden (not closed) while the window is too small. */
  setVisible(visible: boolean): void;
  destroy(): void;
}

export class DialogBox {
  readonly box: Widgets.BoxElement;

  constructor(private readonly screen: Widgets.Screen, theme: Theme, title: string) {
    this.box = blessed.box({
      parent: screen, top: 'center', left: 'center', width: 40, height: 5, border: { type: 'line' }, tags: true, wrap: false,
      label: ` ${title} `, style: { border: { ...theme.border }, label: { bold: true } },
    });
    this.box.setFront();
  }

  /** Columns and rows inside the border for content that wants `cols` x `rows`, within the window. */
  size(cols: number, rows: number): { cols: number; rows: number } {
    // A margin of two columns and rows (one row under the top line) shows the view behind it is still there.
    const w = Math.max(10, Math.min(cols + 4, (this.screen.width as number) - 4));
    const h = Math.max(3, Math.min(rows + 2, (this.screen.height as number) - 4));
    this.box.width = w;
    this.box.height = h;
    return { cols: w - 4, rows: h - 2 };
  }

  /** Sets the lines (already fitted to the width), indented by one column. */
  setLines(lines: readonly string[]): void {
    this.box.setContent(lines.map((l) => ` ${l}`).join('\n'));
  }

  setTitle(title: string): void {
    this.box.setLabel(` ${title} `);
  }

  setVisible(visible: boolean): void {
    if (visible) this.box.show();
    else this.box.hide();
  }

  destroy(): void {
    this.box.detach();
    this.box.destroy();
  }
}
