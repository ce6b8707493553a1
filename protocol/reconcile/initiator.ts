/**
 * The initiating side of digest repair: learns the symmetric difference
 * between its set and one peer's.
 *
 * How this works, as phases:
 * - hello: send count + fingerprint. `rcEqual` ends the session (one
 *   datagram each way); `rcDiffer` brings the peer's digest and first symbols.
 * - symbols: feed the contiguous prefix of the peer's coded symbols to the
 *   Peeler. When it runs dry short of the answer, ask for the next batch:
 *   the first time with estimator cells (the peer sizes the batch), after
 *   that by an explicit range sized from our residuals. A decoded answer is
 *   accepted only if it turns our digest into the peer's.
 * - list: the peer's sorted items, page by page, when that is cheaper than
 *   more symbols, when either set is empty, or when decoding went wrong.
 * - done / failed.
 * Nothing here reads a clock: `handleTimeout` is called by the driver when it
 * decides a reply is overdue, and asks again for exactly what is missing.
 */
import { ChunkAssembler } from './assembler.ts';
import { estimatorCells } from './estimator.ts';
import { ITEM_BYTES, ItemSet, unpackItems, type Difference } from './item-set.ts';
import type { RcEstimate, ReconcileMessage } from './messages.ts';
import { isWellFormed } from './messages.ts';
import { Peeler } from './peeler.ts';
import { flightLimits, listIsCheaper, symbolCap, symbolsForResidual, type FlightLimits, type ReconcileOptions } from './policy.ts';
import { SYMBOL_BYTES } from './symbols.ts';

/** Options of the initiator: the shared ones plus its session id. */
export interface InitiatorOptions extends ReconcileOptions {
  /** Session id (u32), unique per attempt: it also salts the symbol mapping, so a retry is independent. */
  sid: number;
}

/** The answer, once known; `via` says which exchange produced it. */
export interface ReconcileResult extends Difference {
  via: 'fingerprint' | 'symbols' | 'list';
}

export type InitiatorPhase = 'hello' | 'symbols' | 'list' | 'done' | 'failed';

export class ReconcileInitiator {
  phase: InitiatorPhase = 'hello';
  /** Set when phase is 'done'. */
  result: ReconcileResult | undefined;
  /** Messages ignored: malformed, for another session, or out of turn. */
  dropped = 0;
  readonly sid: number;
  private readonly limits: FlightLimits;
  private remote: { count: number; fp: Uint8Array } = { count: 0, fp: new Uint8Array(16) };
  private peeler: Peeler | undefined;
  private symbolsIn: ChunkAssembler | undefined;
  private batchEnd = 0;
  private estimateRequest: RcEstimate | undefined;
  private awaitingEstimate = false;
  private remoteItems: BigUint64Array | undefined;
  private itemsIn: ChunkAssembler | undefined;
  private listEnd = 0;
  private silentTimeouts = 0;

  constructor(
    private readonly local: ItemSet,
    opts: InitiatorOptions,
  ) {
    if (!Number.isInteger(opts.sid) || opts.sid < 0 || opts.sid > 0xffffffff) throw new RangeError('reconcile: sid must be a u32');
    this.sid = opts.sid;
    this.limits = flightLimits(opts);
  }

  /** The opening message. */
  start(): ReconcileMessage[] {
    return [{ type: 'rcHello', sid: this.sid, n: this.local.size, fp: this.local.digest.fingerprint() }];
  }

  /** Handles one message from the responder; returns the messages to send next. */
  handle(msg: ReconcileMessage): ReconcileMessage[] {
    if (!isWellFormed(msg) || msg.sid !== this.sid) return this.drop();
    if (this.phase === 'done' || this.phase === 'failed') return [];
    this.silentTimeouts = 0;
    switch (msg.type) {
      case 'rcEqual':
        if (this.phase !== 'hello') return this.drop();
        return this.finish({ localOnly: [], remoteOnly: [], via: 'fingerprint' }, false);
      case 'rcDiffer':
        if (this.phase !== 'hello') return this.offerSymbols(0, msg.sym, 0);
        return this.onDiffer(msg.n, msg.fp, msg.end, msg.sym);
      case 'rcSymbols':
        return this.offerSymbols(msg.at, msg.sym, msg.end);
      case 'rcItems':
        if (this.phase === 'symbols') this.enterList(msg.end);
        if (this.phase !== 'list') return this.drop();
        // Only what we asked for: a peer cannot make us hold more than its claimed set.
        if (msg.at + msg.items.length / ITEM_BYTES > this.listEnd || !this.itemsIn!.accept(msg.at, msg.items)) this.dropped++;
        return this.progressList();
      default:
        return this.drop();
    }
  }

  /**
   * The driver's retry: re-sends whatever request is still unanswered. After
   * `maxRetries` in a row with nothing heard, the session fails.
   */
  handleTimeout(): ReconcileMessage[] {
    if (this.phase !== 'done' && this.phase !== 'failed' && ++this.silentTimeouts > this.limits.maxRetries) {
      this.phase = 'failed';
      return [];
    }
    switch (this.phase) {
      case 'hello':
        return this.start();
      case 'symbols':
        if (this.awaitingEstimate) return [this.estimateRequest!];
        return this.symbolsIn!.gaps(this.batchEnd, 4).map(([from, upTo]) => ({ type: 'rcMore', sid: this.sid, from, upTo }));
      case 'list':
        return this.itemsIn!.gaps(this.listEnd, 4).map(([from, upTo]) => ({ type: 'rcList', sid: this.sid, from, upTo }));
      default:
        return [];
    }
  }

  private onDiffer(count: number, fp: Uint8Array, end: number, sym: Uint8Array): ReconcileMessage[] {
    this.remote = { count, fp };
    if (count > this.limits.maxItems) {
      this.phase = 'failed';
      return [{ type: 'rcDone', sid: this.sid }];
    }
    if (count === 0) {
      return this.finish({ localOnly: [...this.local.items], remoteOnly: [], via: 'list' }, true);
    }
    if (this.local.size === 0) return this.enterList(0);
    this.phase = 'symbols';
    const peeler = new Peeler(this.local, this.sid);
    this.peeler = peeler;
    this.symbolsIn = new ChunkAssembler(SYMBOL_BYTES, (b, o, n) => peeler.append(b, o, n), 2 * this.limits.symbolsPerFlight);
    this.setBatchEnd(end);
    return this.offerSymbols(0, sym, end);
  }

  private offerSymbols(at: number, sym: Uint8Array, end: number): ReconcileMessage[] {
    if (this.phase !== 'symbols') return this.drop();
    if (this.awaitingEstimate && end > this.symbolsIn!.prefix) {
      this.awaitingEstimate = false;
      this.setBatchEnd(Math.max(this.batchEnd, end));
    }
    // Only what we asked for, so the decoder's memory follows our requests, not the peer's zeal.
    if (at + sym.length / SYMBOL_BYTES > this.batchEnd || !this.symbolsIn!.accept(at, sym)) this.dropped++;
    return this.progressSymbols();
  }

  private progressSymbols(): ReconcileMessage[] {
    const peeler = this.peeler!;
    if (peeler.isComplete()) {
      if (peeler.confirms(this.local.digest, this.remote.count, this.remote.fp)) {
        return this.finish({ ...peeler.difference(), via: 'symbols' }, true);
      }
      return this.enterList(0); // a false peel: the list cannot be wrong
    }
    const prefix = peeler.prefix;
    if (prefix < this.batchEnd || this.awaitingEstimate) return [];
    if (!this.estimateRequest) {
      const cells = estimatorCells(this.local.words, Math.max(this.local.size, this.remote.count), this.sid);
      this.estimateRequest = { type: 'rcEstimate', sid: this.sid, from: prefix, cells };
      this.awaitingEstimate = true;
      return [this.estimateRequest];
    }
    const cap = symbolCap(this.local.size, this.remote.count);
    const estimate = peeler.estimateDifference(cap);
    const target = estimate === undefined ? 2 * prefix : Math.max(symbolsForResidual(estimate), prefix + Math.max(16, prefix >> 2));
    if (target > cap || listIsCheaper(target - prefix, this.remote.count)) return this.enterList(0);
    this.setBatchEnd(Math.min(target, prefix + this.limits.symbolsPerFlight));
    return [{ type: 'rcMore', sid: this.sid, from: prefix, upTo: this.batchEnd }];
  }

  private setBatchEnd(end: number): void {
    this.batchEnd = end;
    this.peeler!.expect(end);
  }

  /** Switches to the peer's item list; `end` > 0 when the peer already started sending it. */
  private enterList(end: number): ReconcileMessage[] {
    this.phase = 'list';
    this.peeler = undefined;
    this.symbolsIn = undefined;
    const items = new BigUint64Array(this.remote.count);
    this.remoteItems = items;
    const consume = (bytes: Uint8Array, offset: number, count: number) => unpackItems(bytes, offset, count, items, this.itemsIn!.prefix);
    this.itemsIn = new ChunkAssembler(ITEM_BYTES, consume, 2 * this.limits.itemsPerFlight);
    this.listEnd = Math.min(end, this.remote.count);
    return end > 0 ? [] : this.progressList();
  }

  private progressList(): ReconcileMessage[] {
    const prefix = this.itemsIn!.prefix;
    if (prefix >= this.remote.count) return this.finishList();
    if (prefix < this.listEnd) return [];
    this.listEnd = Math.min(this.remote.count, prefix + this.limits.itemsPerFlight);
    return [{ type: 'rcList', sid: this.sid, from: prefix, upTo: this.listEnd }];
  }

  private finishList(): ReconcileMessage[] {
    const remote = ItemSet.from(this.remoteItems!);
    this.remoteItems = undefined;
    if (!remote.digest.matches(this.remote.count, this.remote.fp)) {
      this.phase = 'failed';
      return [{ type: 'rcDone', sid: this.sid }];
    }
    return this.finish({ ...this.local.differenceWith(remote), via: 'list' }, true);
  }

  private finish(result: ReconcileResult, tellPeer: boolean): ReconcileMessage[] {
    this.phase = 'done';
    this.result = result;
    this.peeler = undefined;
    this.symbolsIn = undefined;
    this.itemsIn = undefined;
    return tellPeer ? [{ type: 'rcDone', sid: this.sid }] : [];
  }

  private drop(): [] {
    this.dropped++;
    return [];
  }
}
