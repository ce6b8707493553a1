/**
 * Every key of the TUI, in one table per place it works: the `?` help and
 * the bottom line are made from these tables, so they cannot drift from
 * what the keys do.
 *
 * Key names are blessed's (`down`, `pagedown`, `C-c`, `S-tab`, `enter`,
 * `escape`) for special keys and the typed character for the rest (`G` is
 * shift-g); `keyName` makes that one name from a keypress.
 */

/** What a key does: the app maps action names to code. */
export interface Binding {
  keys: readonly string[];
  /** How the key is written in help and the bottom line. */
  label: string;
  help: string;
  action: string;
  /** Shown in the bottom line (the few that matter most). */
  bar?: string;
}

/** Blessed's key event fields the TUI reads. */
export interface KeyEvent {
  full?: string;
  name?: string;
  ctrl?: boolean;
  meta?: boolean;
}

/** One name per keypress: the character typed, or blessed's name for a special key; undefined for the duplicate `return` event. */
export function keyName(ch: string | undefined, key: KeyEvent): string | undefined {
  if (key.name === 'return') return undefined; // blessed also emits `enter` for the same \r
  if (key.name === 'linefeed') return 'enter';
  if (ch !== undefined && ch.length > 0 && !key.ctrl && !key.meta && !/^[\x00-\x1f\x7f]/.test(ch)) return ch;
  return key.full ?? key.name;
}

/** A typed character that a text field takes (not a control key). */
export function isText(name: string): boolean {
  return [...name].length === 1 && !/[\x00-\x1f\x7f]/.test(name);
}

const MOVE: Binding[] = [
  { keys: ['j', 'down'], label: 'j/↓', help: 'next', action: 'down', bar: 'j/k move' },
  { keys: ['k', 'up'], label: 'k/↑', help: 'previous', action: 'up' },
  { keys: ['pagedown', 'C-f', 'C-d', ' '], label: 'PgDn/C-f', help: 'page down', action: 'pageDown' },
  { keys: ['pageup', 'C-b', 'C-u'], label: 'PgUp/C-b', help: 'page up', action: 'pageUp' },
  { keys: ['g', 'home'], label: 'g/Home', help: 'first', action: 'first' },
  { keys: ['G', 'end'], label: 'G/End', help: 'last', action: 'last' },
];

export const GLOBAL_KEYS: Binding[] = [
  { keys: ['tab', 'S-tab'], label: 'Tab', help: 'switch between contacts and cluster', action: 'switchView', bar: 'Tab view' },
  { keys: ['1'], label: '1', help: 'contacts view', action: 'viewContacts' },
  { keys: ['2'], label: '2', help: 'cluster view', action: 'viewCluster' },
  { keys: ['r'], label: 'r', help: 'read everything again now', action: 'refresh' },
  { keys: ['C-l'], label: 'C-l', help: 'redraw the screen', action: 'redraw' },
  { keys: ['?'], label: '?', help: 'this help', action: 'help', bar: '? help' },
  { keys: ['q', 'C-c'], label: 'q/C-c', help: 'quit', action: 'quit', bar: 'q quit' },
];

export const LIST_KEYS: Binding[] = [
  ...MOVE,
  { keys: ['/'], label: '/', help: 'filter as you type (Enter keeps it, Esc clears it)', action: 'filter', bar: '/ find' },
  { keys: ['escape'], label: 'Esc', help: 'clear the filter', action: 'clearFilter' },
  { keys: ['enter'], label: 'Enter', help: 'open the contact', action: 'open', bar: 'Enter open' },
  { keys: ['a'], label: 'a', help: 'add a contact', action: 'add', bar: 'a add' },
  { keys: ['e'], label: 'e', help: 'edit the contact', action: 'edit', bar: 'e edit' },
  { keys: ['d'], label: 'd', help: 'delete the contact (asks y/N)', action: 'delete', bar: 'd delete' },
  { keys: ['c'], label: 'c', help: 'resolve the contact\'s conflicts', action: 'conflicts' },
  { keys: ['n'], label: 'n', help: 'next contact with conflicts', action: 'nextConflict' },
  { keys: ['h'], label: 'h', help: 'the contact\'s history', action: 'history' },
];

export const FILTER_KEYS: Binding[] = [
  { keys: ['enter', 'down', 'up'], label: 'Enter/↓', help: 'keep the filter and go to the list', action: 'acceptFilter', bar: 'Enter keep' },
  { keys: ['escape'], label: 'Esc', help: 'clear the filter', action: 'clearFilter', bar: 'Esc clear' },
  { keys: ['backspace'], label: 'Backspace', help: 'delete a character', action: 'backspace' },
  { keys: ['C-u'], label: 'C-u', help: 'clear what is typed', action: 'killToStart' },
  { keys: ['C-w'], label: 'C-w', help: 'delete a word', action: 'killWord' },
];

export const CLUSTER_KEYS: Binding[] = [
  { keys: ['j', 'down'], label: 'j/↓', help: 'scroll the event log down', action: 'down', bar: 'j/k scroll log' },
  { keys: ['k', 'up'], label: 'k/↑', help: 'scroll the event log up', action: 'up' },
  { keys: ['pagedown', 'C-f', 'C-d', ' '], label: 'PgDn', help: 'page down', action: 'pageDown' },
  { keys: ['pageup', 'C-b', 'C-u'], label: 'PgUp', help: 'page up', action: 'pageUp' },
  { keys: ['g', 'home'], label: 'g', help: 'oldest event', action: 'first' },
  { keys: ['G', 'end'], label: 'G', help: 'newest event (follow)', action: 'last', bar: 'G follow' },
];

export const FORM_KEYS: Binding[] = [
  { keys: ['tab', 'down', 'C-n'], label: 'Tab/↓', help: 'next field', action: 'nextField', bar: 'Tab next' },
  { keys: ['S-tab', 'up', 'C-p'], label: 'S-Tab/↑', help: 'previous field', action: 'prevField' },
  { keys: ['enter'], label: 'Enter', help: 'next field; on the last one, save', action: 'enter' },
  { keys: ['C-s'], label: 'C-s', help: 'save', action: 'save', bar: 'C-s save' },
  { keys: ['escape'], label: 'Esc', help: 'cancel (asks when something changed)', action: 'cancel', bar: 'Esc cancel' },
  { keys: ['left', 'right', 'home', 'end', 'C-a', 'C-e'], label: '←/→ Home End', help: 'move in the field', action: 'cursor' },
  { keys: ['C-u', 'C-k', 'C-w'], label: 'C-u C-k C-w', help: 'delete to start, to end, a word', action: 'kill' },
];

export const CONFIRM_KEYS: Binding[] = [
  { keys: ['y', 'Y'], label: 'y', help: 'yes', action: 'yes', bar: 'y yes' },
  { keys: ['n', 'N', 'escape', 'enter', 'q'], label: 'N/Esc', help: 'no', action: 'no', bar: 'N no' },
];

export const CONFLICT_KEYS: Binding[] = [
  { keys: ['j', 'down'], label: 'j/↓', help: 'next value', action: 'down', bar: 'j/k choose' },
  { keys: ['k', 'up'], label: 'k/↑', help: 'previous value', action: 'up' },
  { keys: ['tab'], label: 'Tab', help: 'next conflicting field', action: 'nextField', bar: 'Tab field' },
  { keys: ['S-tab'], label: 'S-Tab', help: 'previous conflicting field', action: 'prevField' },
  { keys: ['enter'], label: 'Enter', help: 'keep the chosen value', action: 'resolve', bar: 'Enter keep' },
  { keys: ['escape', 'q'], label: 'Esc', help: 'close', action: 'close', bar: 'Esc close' },
];

export const PAGER_KEYS: Binding[] = [
  { keys: ['j', 'down'], label: 'j/↓', help: 'scroll down', action: 'down', bar: 'j/k scroll' },
  { keys: ['k', 'up'], label: 'k/↑', help: 'scroll up', action: 'up' },
  { keys: ['pagedown', 'C-f', ' '], label: 'PgDn', help: 'page down', action: 'pageDown' },
  { keys: ['pageup', 'C-b'], label: 'PgUp', help: 'page up', action: 'pageUp' },
  { keys: ['g', 'home'], label: 'g', help: 'top', action: 'first' },
  { keys: ['G', 'end'], label: 'G', help: 'bottom', action: 'last' },
  { keys: ['escape', 'q', 'enter'], label: 'Esc/q', help: 'close', action: 'close', bar: 'Esc close' },
];

export const CARD_KEYS: Binding[] = [
  ...PAGER_KEYS.filter((b) => b.action !== 'close'),
  { keys: ['e'], label: 'e', help: 'edit', action: 'edit', bar: 'e edit' },
  { keys: ['d'], label: 'd', help: 'delete', action: 'delete', bar: 'd delete' },
  { keys: ['c'], label: 'c', help: 'resolve conflicts', action: 'conflicts', bar: 'c conflicts' },
  { keys: ['h'], label: 'h', help: 'history', action: 'history', bar: 'h history' },
  { keys: ['escape', 'q', 'enter'], label: 'Esc/q', help: 'close', action: 'close', bar: 'Esc close' },
];

/** The action `name` is bound to in `table`, if any. */
export function actionFor(table: readonly Binding[], name: string): string | undefined {
  return table.find((b) => b.keys.includes(name))?.action;
}

/** The bottom line's text for a table: its `bar` entries. */
export function barText(tables: readonly (readonly Binding[])[]): string[] {
  return tables.flatMap((t) => t.filter((b) => b.bar).map((b) => b.bar!));
}

/** The help screen: every table under its heading, one key per line. */
export function helpLines(): string[] {
  const section = (title: string, table: readonly Binding[]) => [title, ...table.map((b) => `  ${b.label.padEnd(14)} ${b.help}`), ''];
  return [
    ...section('Everywhere', GLOBAL_KEYS),
    ...section('Contacts list', LIST_KEYS),
    ...section('Filter (after /)', FILTER_KEYS),
    ...section('Cluster view', CLUSTER_KEYS),
    ...section('Add / edit form', FORM_KEYS),
    ...section('Conflicts dialog', CONFLICT_KEYS),
    ...section('Contact card (Enter)', CARD_KEYS),
    ...section('Delete confirmation', CONFIRM_KEYS),
    'Mouse: click a contact to select it, click again to open it; the wheel scrolls the list and the log;',
    'click "1 Contacts" or "2 Cluster" in the top line to switch.',
  ];
}
