/**
 * Resolving a contact's conflicts: one conflicting field at a time, each
 * competing value with the node that took it and when; the user picks one
 * and the app writes it with the contact's `seen` as read context, so the
 * kept value causally follows all of them and the conflict is gone
 * everywhere once it replicates.
 */
import type blessed from 'blessed';
import type { Contact, FieldConflict } from '../../../protocol/contacts/model.ts';
import { actionFor, CONFLICT_KEYS, type Binding } from '../keys.ts';
import type { Theme } from '../theme.ts';
import { paint } from '../theme.ts';
import { displayText, escapeTags, fit, localTime, wrap } from '../text.ts';
import { valueText } from '../../format.ts';
import { DialogBox, type Modal } from './dialog.ts';
import { nodeLabel, type NameOf } from './details.ts';

export interface ConflictEvents {
  resolve(contact: Contact, conflict: FieldConflict, value: unknown): void;
  close(): void;
}

export class ConflictDialog implements Modal {
  readonly keys: readonly Binding[] = CONFLICT_KEYS;
  private readonly dialog: DialogBox;
  private field = 0;
  private choice = 0;
  /** Shown under the values (saving…, refused: …). */
  message = '';
  busy = false;

  constructor(screen: blessed.Widgets.Screen, private readonly theme: Theme, public contact: Contact, private readonly nameOf: NameOf, private readonly events: ConflictEvents) {
    this.dialog = new DialogBox(screen, theme, 'Conflicts');
  }

  /** Shows the contact as it is now (after a resolve, or an update from the feed). */
  update(contact: Contact): void {
    const was = this.current();
    this.contact = contact;
    const same = was ? contact.conflicts.findIndex((c) => c.field === was.field && c.uid === was.uid) : -1;
    this.field = same >= 0 ? same : Math.min(this.field, Math.max(0, contact.conflicts.length - 1));
    if (same < 0) this.choice = 0;
    this.choice = Math.min(this.choice, Math.max(0, (this.current()?.values.length ?? 1) - 1));
  }

  key(name: string): void {
    if (this.busy) return;
    const n = this.contact.conflicts.length;
    const conflict = this.current();
    switch (actionFor(CONFLICT_KEYS, name)) {
      case 'down': if (conflict) this.choice = Math.min(conflict.values.length - 1, this.choice + 1); break;
      case 'up': this.choice = Math.max(0, this.choice - 1); break;
      case 'nextField': if (n > 0) { this.field = (this.field + 1) % n; this.choice = 0; } break;
      case 'prevField': if (n > 0) { this.field = (this.field - 1 + n) % n; this.choice = 0; } break;
      case 'resolve': if (conflict) this.events.resolve(this.contact, conflict, conflict.values[this.choice]!.value); break;
      case 'close': this.events.close(); break;
    }
  }

  render(): void {
    const t = this.theme;
    const c = this.contact;
    const conflict = this.current();
    const { cols } = this.dialog.size(96, 100);
    const lines: string[] = [];
    if (!conflict) {
      this.dialog.setTitle(`Conflicts of ${displayText(c.formattedName)}`);
      lines.push(paint(t, 'green', fit('No conflicts left. Esc closes.', cols)));
    } else {
      const where = conflict.uid ? `${conflict.field} entry ${conflict.uid}` : conflict.field;
      this.dialog.setTitle(`Conflicts of ${displayText(c.formattedName)}: ${this.field + 1} of ${c.conflicts.length}`);
      for (const l of wrap(displayText(`Field ${where} was written at the same time on different nodes. Keep which value?`), cols)) lines.push(escapeTags(l));
      lines.push('');
      const origins = conflict.values.map((v) => displayText(`from ${nodeLabel(this.nameOf, v.origin)} at ${localTime(v.hlc.wallMs)}`));
      const originCols = Math.min(Math.max(...origins.map((o) => o.length)), Math.floor(cols / 2));
      conflict.values.forEach((v, i) => {
        const chosen = i === this.choice;
        const origin = origins[i]!;
        const text = fit(`${chosen ? '▸ ' : '  '}${displayText(valueText(v.value))}`, Math.max(10, cols - originCols - 1));
        const line = `${escapeTags(text)} ${paint(t, 'gray', fit(origin, originCols))}`;
        lines.push(chosen ? t.bold(line) : line);
        if (i === 0) lines.push(paint(t, 'gray', fit('    (shown now: the latest write wins until you choose)', cols)));
      });
    }
    lines.push('');
    if (this.message) for (const l of wrap(this.message, cols)) lines.push(paint(t, this.busy ? 'yellow' : 'red', l));
    lines.push(paint(t, 'gray', fit('j/k choose · Enter keep it · Tab next field · Esc close', cols)));
    this.dialog.size(96, lines.length);
    this.dialog.setLines(lines);
  }

  setVisible(visible: boolean): void {
    this.dialog.setVisible(visible);
  }

  destroy(): void {
    this.dialog.destroy();
  }

  private current(): FieldConflict | undefined {
    return this.contact.conflicts[this.field];
  }
}
