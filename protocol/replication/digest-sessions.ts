/**
 * Digest-repair sessions of one node: at most one it initiates, and a
 * bounded set it answers (keyed by peer and session id, oldest evicted
 * first). Routes each rc* message to its session and hands the initiator's
 * result, once known, to the caller.
 */
import type { Outbox } from '../outbox.ts';
import type { Address, NodeId, Rng, TimeMs } from '../types.ts';
import type { Message } from '../wire/messages.ts';
import { ItemSet } from '../reconcile/item-set.ts';
import { ReconcileInitiator } from '../reconcile/initiator.ts';
import { ReconcileResponder } from '../reconcile/responder.ts';
import type { ReconcileMessage } from '../reconcile/messages.ts';

const INITIATOR_TO_RESPONDER = new Set(['rcHello', 'rcEstimate', 'rcMore', 'rcList', 'rcDone']);
const MAX_RESPONDERS = 8;
/** A session still unfinished after this long is abandoned (a new one starts next interval). */
const SESSION_MAX_MS = 15_000;

export interface DigestResult {
  peerAddr: Address;
  localOnly: bigint[];
  remoteOnly: bigint[];
}

export class DigestSessions {
  private initiator: { ini: ReconcileInitiator; peer: NodeId; addr: Address; startedAt: TimeMs } | undefined;
  private readonly responders = new Map<string, ReconcileResponder>();

  constructor(
    private readonly rng: Rng,
    private readonly outbox: Outbox,
  ) {}

  get busy(): boolean {
    return this.initiator !== undefined;
  }

  /** Starts a session with `peer` over `items`. */
  start(now: TimeMs, peer: NodeId, addr: Address, items: bigint[]): void {
    const ini = new ReconcileInitiator(ItemSet.from(items), { sid: this.rng.nextU32(), budgetBytes: this.outbox.payloadBudgetBytes });
    this.initiator = { ini, peer, addr, startedAt: now };
    this.sendAll(addr, ini.start());
  }

  /** Called on the retry timer: re-asks for what is missing, or gives up. */
  retry(now: TimeMs): void {
    const s = this.initiator;
    if (!s) return;
    if (now - s.startedAt > SESSION_MAX_MS || s.ini.phase === 'failed' || s.ini.phase === 'done') {
      this.initiator = undefined;
      return;
    }
    this.sendAll(s.addr, s.ini.handleTimeout());
  }

  /** Routes one rc* message; returns the difference when our session just finished. */
  handle(now: TimeMs, fromAddr: Address, fromId: NodeId, msg: Message, items: () => bigint[]): DigestResult | undefined {
    const m = msg as ReconcileMessage;
    if (INITIATOR_TO_RESPONDER.has(m.type)) {
      const key = `${fromId}/${m.sid}`;
      let res = this.responders.get(key);
      if (!res) {
        if (m.type !== 'rcHello') return undefined;
        res = new ReconcileResponder(ItemSet.from(items()), { budgetBytes: this.outbox.payloadBudgetBytes });
        this.responders.set(key, res);
        while (this.responders.size > MAX_RESPONDERS) this.responders.delete(this.responders.keys().next().value as string);
      }
      this.sendAll(fromAddr, res.handle(m));
      if (res.status === 'done' || res.status === 'equal') this.responders.delete(key);
      return undefined;
    }
    const s = this.initiator;
    if (!s || s.peer !== fromId || m.sid !== s.ini.sid) return undefined;
    this.sendAll(s.addr, s.ini.handle(m));
    if (s.ini.phase === 'done' && s.ini.result) {
      this.initiator = undefined;
      return { peerAddr: s.addr, localOnly: s.ini.result.localOnly, remoteOnly: s.ini.result.remoteOnly };
    }
    if (s.ini.phase === 'failed') this.initiator = undefined;
    void now;
    return undefined;
  }

  private sendAll(to: Address, msgs: ReconcileMessage[]): void {
    for (const m of msgs) this.outbox.send(to, [m as Message]);
  }
}
