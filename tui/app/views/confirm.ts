/** A yes/no question; anything but y is no (the safe answer for a delete). */
import type blessed from 'blessed';
import { actionFor, CONFIRM_KEYS, type Binding } from '../keys.ts';
import type { Theme } from '../theme.ts';
import { escapeTags, fit } from '../text.ts';
import { DialogBox, type Modal } from './dialog.ts';

export class ConfirmDialog implements Modal {
  readonly keys: readonly Binding[] = CONFIRM_KEYS;
  private readonly dialog: DialogBox;

  constructor(screen: blessed.Widgets.Screen, theme: Theme, title: string, private readonly question: string, private readonly answer: (yes: boolean) => void) {
    this.dialog = new DialogBox(screen, theme, title);
  }

  key(name: string): void {
    const action = actionFor(CONFIRM_KEYS, name);
    if (action === 'yes') this.answer(true);
    else if (action === 'no' || name.length === 1) this.answer(false);
  }

  render(): void {
    const text = `${this.question} [y/N]`;
    const { cols } = this.dialog.size(Math.min(70, text.length), 1);
    this.dialog.setLines([escapeTags(fit(text, cols))]);
  }

  setVisible(visible: boolean): void {
    this.dialog.setVisible(visible);
  }

  destroy(): void {
    this.dialog.destroy();
  }
}
