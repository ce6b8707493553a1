/**
 * The add/edit form on screen: a label and a one-line editor per field,
 * the field's error under it in red, the focused field's hint in grey, and
 * a status line (saving…, no server answered…) at the bottom. Long values
 * scroll sideways around the cursor. The keys edit the ContactForm; Ctrl-S
 * (or Enter on the last field) asks the app to save, Esc to cancel.
 */
import type blessed from 'blessed';
import { actionFor, FORM_KEYS, isText, type Binding } from '../keys.ts';
import { FORM_FIELDS, type ContactForm } from '../model/contact-form.ts';
import type { Theme } from '../theme.ts';
import { paint } from '../theme.ts';
import { columns, displayText, escapeTags, fit, wrap } from '../text.ts';
import { DialogBox, type Modal } from './dialog.ts';

const LABEL_COLS = 14;

export interface FormEvents {
  save(): void;
  cancel(): void;
}

export class FormDialog implements Modal {
  readonly keys: readonly Binding[] = FORM_KEYS;
  private readonly dialog: DialogBox;
  /** The first field line shown, when the window is too short for them all. */
  private top = 0;

  constructor(screen: blessed.Widgets.Screen, private readonly theme: Theme, readonly form: ContactForm, private readonly events: FormEvents) {
    this.dialog = new DialogBox(screen, theme, '');
  }

  key(name: string): void {
    const f = this.form;
    if (f.saving) return; // the values on screen are the ones being saved
    const ed = f.current;
    switch (name) {
      case 'left': return ed.left();
      case 'right': return ed.right();
      case 'home': case 'C-a': return ed.home();
      case 'end': case 'C-e': return ed.end();
      case 'backspace': return ed.backspace();
      case 'delete': case 'C-d': return ed.deleteForward();
      case 'C-u': return ed.killToStart();
      case 'C-k': return ed.killToEnd();
      case 'C-w': return ed.killWord();
    }
    switch (actionFor(FORM_KEYS, name)) {
      case 'nextField': return f.move(1);
      case 'prevField': return f.move(-1);
      case 'enter':
        if (f.focus === FORM_FIELDS.length - 1) return this.events.save();
        return f.move(1);
      case 'save': return this.events.save();
      case 'cancel': return this.events.cancel();
    }
    if (isText(name)) ed.insert(name);
  }

  render(): void {
    const t = this.theme;
    const f = this.form;
    const title = f.mode === 'add' ? 'Add a contact' : `Edit ${displayText(f.base!.formattedName)}`;
    this.dialog.setTitle(title);
    const probe = this.dialog.size(76, 100);
    const valueCols = Math.max(10, probe.cols - LABEL_COLS - 1);
    const lines: string[] = [];
    let focusFrom = 0;
    let focusTo = 0;
    FORM_FIELDS.forEach((field, i) => {
      const focused = i === f.focus;
      if (focused) focusFrom = lines.length;
      const label = fit(`${focused ? '▸ ' : '  '}${field.label}`, LABEL_COLS);
      const text = f.editors[i]!.text;
      const value = focused ? this.withCursor(text, f.editors[i]!.cursor, valueCols) : escapeTags(fit(displayText(text), valueCols));
      lines.push(`${focused ? t.bold(escapeTags(label)) : escapeTags(label)} ${value}`);
      const error = f.errors.get(field.key);
      if (error) for (const l of wrap(`↳ ${error}`, valueCols)) lines.push(`${' '.repeat(LABEL_COLS)} ${paint(t, 'red', l)}`);
      else if (focused && 'hint' in field) lines.push(`${' '.repeat(LABEL_COLS)} ${paint(t, 'gray', fit(field.hint, valueCols))}`);
      if (focused) focusTo = lines.length - 1;
    });
    const footer = [''];
    const status = f.saving ? `saving… ${f.message}` : f.message;
    if (status) for (const l of wrap(status, probe.cols)) footer.push(paint(t, f.saving ? 'yellow' : 'red', l));
    footer.push(paint(t, 'gray', fit('Tab/↓ next field · Enter next (saves on the last) · Ctrl-S save · Esc cancel', probe.cols)));
    // A short window shows the fields around the focused one; the status and keys stay at the bottom.
    const room = Math.max(1, probe.rows - footer.length);
    if (lines.length > room) {
      if (focusFrom < this.top) this.top = focusFrom;
      if (focusTo >= this.top + room) this.top = focusTo - room + 1;
      this.top = Math.max(0, Math.min(this.top, lines.length - room));
    } else {
      this.top = 0;
    }
    const shown = [...lines.slice(this.top, this.top + room), ...footer];
    this.dialog.size(76, shown.length);
    this.dialog.setLines(shown);
  }

  setVisible(visible: boolean): void {
    this.dialog.setVisible(visible);
  }

  destroy(): void {
    this.dialog.destroy();
  }

  /** The value with the cursor shown in reverse video, scrolled so the cursor is in view. */
  private withCursor(text: string, cursor: number, cols: number): string {
    const t = this.theme;
    let before = displayText(text.slice(0, cursor));
    const atRaw = text.slice(cursor, cursor + (text.codePointAt(cursor)! > 0xffff ? 2 : 1));
    const at = atRaw === '' ? ' ' : displayText(atRaw);
    let after = displayText(text.slice(cursor + atRaw.length));
    // Keep the cursor in view: drop characters from the left while the text before it is too wide.
    while (columns(before) + columns(at) > cols - 1 && before.length > 0) before = [...before].slice(1).join('');
    const room = cols - columns(before) - columns(at);
    after = fit(after, Math.max(0, room));
    return `${escapeTags(before)}${t.inverse(escapeTags(at))}${escapeTags(after)}`;
  }
}
