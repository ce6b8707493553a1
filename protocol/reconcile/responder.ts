/**
 * The responding side of digest repair: answers one initiator's session with
 * its set's digest, coded symbols and, when cheaper, its plain item list.
 *
 * How this works: it is a pure function of the request and the snapshot it
 * was built on, plus a cache of the symbols produced so far (the encoder only
 * moves forward, and retransmissions need old ranges). So a duplicated or
 * retried request gets the same answer, and the responder has no timer of its
 * own: the caller drops it after `rcDone` or after a quiet spell. What grows is
 * bounded: symbols by `symbolCap` (12 bytes each), and each answer by
 * `maxMessagesPerFlight` datagrams of at most `budgetBytes` each.
 */
import { estimateFromCells, estimatorBytes, estimatorCells } from './estimator.ts';
import type { ItemSet } from './item-set.ts';
import type { RcDiffer, RcItems, RcSymbols, ReconcileMessage } from './messages.ts';
import { isWellFormed } from './messages.ts';
import {
  firstBatchSymbols,
  flightLimits,
  listIsCheaper,
  symbolCap,
  symbolsForEstimate,
  type FlightLimits,
  type ReconcileOptions,
} from './policy.ts';
import { encoderOf, SymbolArray, type SymbolEncoder } from './symbols.ts';

/** Where a responder's session stands. */
export type ResponderStatus = 'idle' | 'equal' | 'serving' | 'done';

export class ReconcileResponder {
  status: ResponderStatus = 'idle';
  /** Messages ignored: malformed, for another session, or out of turn. */
  dropped = 0;
  private sid = -1;
  private remoteCount = 0;
  private encoder: SymbolEncoder | undefined;
  private symbols = new SymbolArray();
  private readonly limits: FlightLimits;

  constructor(
    private readonly local: ItemSet,
    opts: ReconcileOptions = {},
  ) {
    this.limits = flightLimits(opts);
  }

  /** Handles one message from the initiator; returns the messages to send back. */
  handle(msg: ReconcileMessage): ReconcileMessage[] {
    if (!isWellFormed(msg) || (this.sid >= 0 && msg.sid !== this.sid)) return this.drop();
    if (msg.type === 'rcHello') return this.onHello(msg.sid, msg.n, msg.fp);
    if (this.status !== 'serving') return msg.type === 'rcDone' ? [] : this.drop();
    switch (msg.type) {
      case 'rcEstimate':
        return this.onEstimate(msg.from, msg.cells);
      case 'rcMore':
        return this.symbolsReply(msg.from, Math.min(msg.upTo, msg.from + this.limits.symbolsPerFlight));
      case 'rcList':
        return this.itemsReply(msg.from, Math.min(msg.upTo, msg.from + this.limits.itemsPerFlight));
      case 'rcDone':
        this.status = 'done';
        this.encoder = undefined;
        this.symbols = new SymbolArray();
        return [];
      default:
        return this.drop();
    }
  }

  private onHello(sid: number, remoteCount: number, fp: Uint8Array): ReconcileMessage[] {
    if (this.status === 'done' || remoteCount > this.limits.maxItems) return this.drop();
    this.sid = sid;
    this.remoteCount = remoteCount;
    if (this.local.digest.matches(remoteCount, fp)) {
      this.status = 'equal';
      return [{ type: 'rcEqual', sid }];
    }
    this.status = 'serving';
    // With either side empty the initiator needs no symbols: it has everything or asks for the list.
    const empty = remoteCount === 0 || this.local.size === 0;
    const end = empty ? 0 : this.clampSymbols(0, firstBatchSymbols(Math.abs(remoteCount - this.local.size)));
    const first = Math.min(end, this.limits.symbolsInDiffer);
    this.ensureSymbols(end);
    const differ: RcDiffer = {
      type: 'rcDiffer',
      sid,
      n: this.local.size,
      fp: this.local.digest.fingerprint(),
      end,
      sym: this.symbols.pack(0, first),
    };
    return [differ, ...this.symbolsReply(first, end)];
  }

  private onEstimate(from: number, cells: Uint8Array): ReconcileMessage[] {
    const maxCount = Math.max(this.remoteCount, this.local.size);
    if (cells.length !== estimatorBytes(maxCount)) return this.drop();
    const ours = estimatorCells(this.local.words, maxCount, this.sid);
    const gap = Math.abs(this.remoteCount - this.local.size);
    const estimate = estimateFromCells(cells, ours, maxCount, gap);
    const target = Math.max(symbolsForEstimate(estimate), from + 16);
    if (listIsCheaper(target - from, this.local.size)) return this.itemsReply(0, this.limits.itemsPerFlight);
    return this.symbolsReply(from, this.clampSymbols(from, target));
  }

  /** `upTo` bounded by the cap and by one flight from `from`. */
  private clampSymbols(from: number, upTo: number): number {
    return Math.min(upTo, from + this.limits.symbolsPerFlight, symbolCap(this.local.size, this.remoteCount));
  }

  private ensureSymbols(upTo: number): void {
    if (upTo <= this.symbols.length) return;
    this.encoder ??= encoderOf(this.local, this.sid);
    this.encoder.extend(upTo, this.symbols);
  }

  /** Symbols [from, end) in `rcSymbols` messages, each naming the batch end. */
  private symbolsReply(from: number, end: number): RcSymbols[] {
    end = Math.min(end, symbolCap(this.local.size, this.remoteCount));
    if (from >= end) return [];
    this.ensureSymbols(end);
    const out: RcSymbols[] = [];
    for (let at = from; at < end; at += this.limits.symbolsPerMessage) {
      const to = Math.min(end, at + this.limits.symbolsPerMessage);
      out.push({ type: 'rcSymbols', sid: this.sid, at, end, sym: this.symbols.pack(at, to) });
    }
    return out;
  }

  /** Sorted items [from, end) in `rcItems` messages, each naming the batch end. */
  private itemsReply(from: number, end: number): RcItems[] {
    end = Math.min(end, this.local.size);
    const out: RcItems[] = [];
    for (let at = from; at < end; at += this.limits.itemsPerMessage) {
      const to = Math.min(end, at + this.limits.itemsPerMessage);
      out.push({ type: 'rcItems', sid: this.sid, at, end, items: this.local.pack(at, to) });
    }
    return out;
  }

  private drop(): [] {
    this.dropped++;
    return [];
  }
}
