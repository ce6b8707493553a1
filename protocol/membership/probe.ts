/**
 * Bookkeeping for probes: the one probe this node has in flight, and the
 * probes it runs on behalf of others (ping-req relays), bounded so that a
 * flood of ping-reqs cannot grow memory.
 */
import type { Address, NodeId } from '../types.ts';

/** The probe this node has in flight. */
export class ProbeState {
  acked = false;
  /** Set when our own timers fired too late to trust a missing ack. */
  inconclusive = false;
  expectedNacks = 0;
  nacks = 0;

  constructor(
    readonly seq: number,
    readonly target: NodeId,
    /** The target's incarnation when probed: a refutation meanwhile voids the verdict. */
    readonly incarnation: number,
  ) {}
}

/** A ping we send for someone else: where to relay the ack, under which seq. */
export interface Relay {
  to: Address;
  seq: number;
  wantNack: boolean;
}

export class RelayTable {
  private readonly relays = new Map<number, Relay>();

  constructor(private readonly max: number) {}

  /** Records a relay under our local seq; false (dropped) when the table is full. */
  add(localSeq: number, relay: Relay): boolean {
    if (this.relays.size >= this.max) return false;
    this.relays.set(localSeq, relay);
    return true;
  }

  /** Removes and returns the relay for `localSeq`, if still pending. */
  take(localSeq: number): Relay | undefined {
    const r = this.relays.get(localSeq);
    if (r) this.relays.delete(localSeq);
    return r;
  }

  get size(): number {
    return this.relays.size;
  }
}
