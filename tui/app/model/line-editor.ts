/**
 * One line of editable text with a cursor, as readline edits it: insert,
 * delete either side, move by character or word, kill to either end.
 * Positions are UTF-16 indexes that never split a surrogate pair.
 */
export class LineEditor {
  constructor(public text = '', public cursor = text.length) {}

  set(text: string): void {
    this.text = text;
    this.cursor = text.length;
  }

  insert(s: string): void {
    this.text = this.text.slice(0, this.cursor) + s + this.text.slice(this.cursor);
    this.cursor += s.length;
  }

  backspace(): void {
    if (this.cursor === 0) return;
    const from = this.prev(this.cursor);
    this.text = this.text.slice(0, from) + this.text.slice(this.cursor);
    this.cursor = from;
  }

  deleteForward(): void {
    if (this.cursor >= this.text.length) return;
    this.text = this.text.slice(0, this.cursor) + this.text.slice(this.next(this.cursor));
  }

  left(): void {
    this.cursor = this.prev(this.cursor);
  }

  right(): void {
    this.cursor = this.next(this.cursor);
  }

  home(): void {
    this.cursor = 0;
  }

  end(): void {
    this.cursor = this.text.length;
  }

  /** Ctrl-U: deletes from the start of the line to the cursor. */
  killToStart(): void {
    this.text = this.text.slice(this.cursor);
    this.cursor = 0;
  }

  /** Ctrl-K: deletes from the cursor to the end. */
  killToEnd(): void {
    this.text = this.text.slice(0, this.cursor);
  }

  /** Ctrl-W: deletes the word before the cursor (and the spaces after it). */
  killWord(): void {
    const before = this.text.slice(0, this.cursor);
    const from = before.replace(/\S*\s*$/, '').length;
    this.text = this.text.slice(0, from) + this.text.slice(this.cursor);
    this.cursor = from;
  }

  private prev(i: number): number {
    if (i <= 0) return 0;
    const low = this.text.charCodeAt(i - 1);
    return low >= 0xdc00 && low <= 0xdfff && i >= 2 ? i - 2 : i - 1;
  }

  private next(i: number): number {
    if (i >= this.text.length) return this.text.length;
    const high = this.text.charCodeAt(i);
    return high >= 0xd800 && high <= 0xdbff && i + 1 < this.text.length ? i + 2 : i + 1;
  }
}
