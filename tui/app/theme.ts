/**
 * Colours, or none: every styled piece of text goes through a Theme, so
 * `NO_COLOR` (https://no-color.org) turns colour off everywhere at once.
 * Without colour the screen still says everything in words, and the
 * selection shows by reverse video, which NO_COLOR does not forbid.
 */
import { escapeTags } from './text.ts';

export type Colour = 'red' | 'green' | 'yellow' | 'blue' | 'magenta' | 'cyan' | 'gray' | 'white';

export interface Theme {
  readonly colour: boolean;
  /** `text` (already escaped) in colour `c`, or plain. */
  fg(c: Colour, text: string): string;
  bold(text: string): string;
  inverse(text: string): string;
  /** Blessed style for borders and the bars; no colours under NO_COLOR. */
  readonly border: { fg?: string };
  readonly bar: { fg?: string; bg?: string; bold?: boolean; inverse?: boolean };
  readonly selected: { fg?: string; bg?: string; inverse?: boolean };
}

/** The theme for this environment: colour unless NO_COLOR is set to anything non-empty. */
export function themeFor(env: Record<string, string | undefined>): Theme {
  const colour = !env.NO_COLOR;
  return {
    colour,
    fg: (c, text) => (colour ? `{${c}-fg}${text}{/${c}-fg}` : text),
    bold: (text) => `{bold}${text}{/bold}`,
    inverse: (text) => `{inverse}${text}{/inverse}`,
    border: colour ? { fg: 'blue' } : {},
    bar: colour ? { fg: 'white', bg: 'blue' } : { inverse: true },
    selected: colour ? { fg: 'black', bg: 'cyan' } : { inverse: true },
  };
}

/** Plain text made safe for tags, then coloured. */
export function paint(theme: Theme, c: Colour, text: string): string {
  return theme.fg(c, escapeTags(text));
}

/** The colour of a member state. */
export function stateColour(state: string): Colour {
  return state === 'alive' ? 'green' : state === 'suspect' ? 'yellow' : state === 'dead' ? 'red' : 'gray';
}
