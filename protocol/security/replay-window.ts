/**
 * A sliding window over one sender's datagram counters (RFC 4303 §3.4.3,
 * as IPsec does it): which of the last WINDOW counters have been seen.
 *
 * How this works: `top` is the highest counter accepted; bit (c mod WINDOW)
 * of the bitmap says whether counter c in (top - WINDOW, top] was seen.
 * A counter above `top` slides the window up, clearing the bits it passes;
 * one at or below `top - WINDOW` is too old to tell from a replay and is
 * refused. `check` decides without changing anything, so a datagram is
 * tested before its tag is verified and recorded (`accept`) only after:
 * nothing a stranger sends can move the window.
 *
 * Why 1024: a sender's counter advances with every datagram it sends to
 * anyone, so between two datagrams to us it may skip many; only reordering
 * on the path makes one arrive below `top`, and 1024 datagrams of one
 * sender overtaking another is far beyond what a LAN or the Internet does.
 */

/** Counters the window remembers below the highest. */
export const WINDOW = 1024;

export type WindowVerdict = 'fresh' | 'replay' | 'too-old';

export class ReplayWindow {
  private top: number;
  private readonly bits = new Uint32Array(WINDOW / 32);

  /**
   * `floor`: counters at or below it count as seen. 0 for a sender's new
   * epoch (it counts from 1); for a window rebuilt mid-epoch (after our
   * restart), the counter before the first one taken, since what came
   * earlier may have been seen by our previous life.
   */
  constructor(private readonly floor = 0) {
    this.top = floor;
  }

  /** What `counter` would be: fresh, seen already, or too far below the highest to tell. */
  check(counter: number): WindowVerdict {
    if (counter > this.top) return 'fresh';
    if (counter <= this.top - WINDOW || counter <= this.floor) return 'too-old';
    return this.has(counter) ? 'replay' : 'fresh';
  }

  /** Records `counter` (which `check` found fresh). */
  accept(counter: number): void {
    if (counter > this.top) {
      if (counter - this.top >= WINDOW) this.bits.fill(0);
      else this.clearRange(this.top + 1, counter);
      this.top = counter;
    }
    const i = counter % WINDOW;
    this.bits[i >>> 5]! |= 1 << (i & 31);
  }

  /** The highest counter accepted (0: none). */
  get highest(): number {
    return this.top;
  }

  private has(counter: number): boolean {
    const i = counter % WINDOW;
    return (this.bits[i >>> 5]! & (1 << (i & 31))) !== 0;
  }

  /** Clears the bits of counters from..to (fewer than WINDOW of them), a whole word at a time where it can. */
  private clearRange(from: number, to: number): void {
    for (let c = from; c <= to; ) {
      const i = c % WINDOW;
      if ((i & 31) === 0 && to - c >= 31) {
        this.bits[i >>> 5] = 0;
        c += 32;
      } else {
        this.bits[i >>> 5]! &= ~(1 << (i & 31));
        c++;
      }
    }
  }
}
