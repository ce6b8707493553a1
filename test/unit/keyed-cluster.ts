/**
 * A few keyed ClusterNodes in one process, with the real AES-256-GCM, a
 * perfect network and a log of every datagram: the stage for the security
 * regression tests (each security review finding has one). Time moves only
 * in `pump`; nothing here sleeps or reads the clock.
 *
 * Also the client side of a request, as tui/client.ts builds it: a
 * credential, a request envelope, and reading the answers.
 */
import { randomBytes } from 'node:crypto';
import * as assert from 'uvu/assert';
import { ClusterNode, type NodeInit } from '../../protocol/node.ts';
import { SeededRng } from '../../protocol/rng.ts';
import { decodePacket, encodePacket } from '../../protocol/wire/codec.ts';
import type { ClientRes } from '../../protocol/wire/messages.ts';
import { address, nodeId, type Address, type NodeId } from '../../protocol/types.ts';
import { ANONYMOUS, credentialKey, openAnswer, sealRequest, type RequestTarget } from '../../protocol/security/client-envelope.ts';
import { hexOf } from '../../protocol/security/envelope.ts';
import type { Aead } from '../../protocol/security/crypto.ts';
import type { NodeSecurityInit } from '../../protocol/security/security-service.ts';
import { nodeCrypto } from '../../daemon/node-crypto.ts';

/** The cluster key every node starts with. */
export const KEY = new Uint8Array(32).fill(9);
export const T0 = 1_700_000_000_000;

export interface Sent {
  from: Address;
  to: Address;
  bytes: Uint8Array;
}

export class KeyedCluster {
  now = T0;
  readonly nodes = new Map<Address, ClusterNode>();
  readonly log: Sent[] = [];

  /** Node i at 10.0.0.(i+1):7700 with id 00..0a(i), keyed with KEY (unless `security` says otherwise). */
  add(i: number, security: Partial<NodeSecurityInit> = {}, extra: Partial<NodeInit> = {}): ClusterNode {
    const addr = KeyedCluster.addr(i);
    const node = new ClusterNode({
      id: KeyedCluster.id(i), addr, rng: new SeededRng(100 + i), now: this.now,
      security: { crypto: nodeCrypto, epoch: 5, keyFileKey: KEY, ...security },
      ...extra,
    });
    this.nodes.set(addr, node);
    return node;
  }

  static addr(i: number): Address {
    return address(`10.0.0.${i + 1}:7700`);
  }

  static id(i: number): NodeId {
    return nodeId(`00000000000000${(0xa0 + i).toString(16)}`);
  }

  node(i: number): ClusterNode {
    return this.nodes.get(KeyedCluster.addr(i))!;
  }

  /** Nodes 0..n-1, joined through node 0, then `settleMs` of running. */
  static joined(n: number, settleMs = 5_000, security?: Partial<NodeSecurityInit>): KeyedCluster {
    const c = new KeyedCluster();
    for (let i = 0; i < n; i++) c.add(i, security).join(c.now, i === 0 ? [] : [KeyedCluster.addr(0)]);
    c.pump(settleMs);
    return c;
  }

  /** Runs `ms` of time in 10 ms steps: `each` (say, a flood's share), timers, then every datagram delivered (and logged). */
  pump(ms: number, each?: (now: number) => void): void {
    for (let t = 0; t < ms; t += 10) {
      this.now += 10;
      each?.(this.now);
      for (const n of this.nodes.values()) n.handleTimeout(this.now);
      this.deliver();
    }
  }

  /** Delivers what the nodes have queued, and what that makes them send, a few rounds deep. */
  deliver(): void {
    for (let round = 0; round < 5; round++) {
      for (const [from, n] of this.nodes) {
        for (let t = n.pollTransmit(); t; t = n.pollTransmit()) {
          this.log.push({ from, to: t.to, bytes: t.bytes });
          this.nodes.get(t.to)?.handleDatagram(this.now, from, t.bytes);
        }
        while (n.pollEvent());
      }
    }
  }

  /** What every node thinks of every other: "addr:state" lists, one per node. */
  views(): string[] {
    return [...this.nodes.values()].map((n) => n.membership.members().filter((m) => m.id !== n.id).map((m) => `${m.addr}:${m.state}`).join(' '));
  }
}

// ---------------------------------------------------------------- the client side

export interface Cred {
  id: string;
  secret: Uint8Array;
}

export const newCred = (): Cred => ({ id: randomBytes(8).toString('hex'), secret: new Uint8Array(randomBytes(32)) });

/** K_c of `cred`, as hex for credentials.create / bootstrap. */
export const credKeyHex = (cred: Cred): string => hexOf(credentialKey(nodeCrypto, cred.id, cred.secret));

let reqIds = 0;

export interface RequestOptions {
  timeMs: number;
  /** Seal with this secret instead of the credential's (a wrong key). */
  secret?: Uint8Array;
  /** The server it is meant for (client-envelope.ts; targetOf); none: a first contact, answered with a retarget. */
  target?: RequestTarget;
}

/** Who `node` is in this life, as a request names it. */
export const targetOf = (node: ClusterNode): RequestTarget => ({ server: node.id, epoch: node.security!.packets.epoch });

/** One request datagram from `cred` (anonymous when undefined), padded as tui/client.ts pads them (room for an error to a stranger). */
export function request(op: string, args: unknown, cred: Cred | undefined, opts: RequestOptions): { bytes: Uint8Array; reqId: number } {
  const reqId = ++reqIds;
  const text = JSON.stringify(args);
  const packet = encodePacket({ cluster: 'contacts', from: nodeId('c1c1c1c1c1c1c1c1') }, [{ type: 'clientReq', reqId, op, args: text + ' '.repeat(Math.max(0, 600 - text.length)) }]);
  const kc = cred && credentialKey(nodeCrypto, cred.id, opts.secret ?? cred.secret);
  const bytes = sealRequest(nodeCrypto, { credential: cred?.id ?? ANONYMOUS, timeMs: opts.timeMs, nonce: new Uint8Array(randomBytes(12)), target: opts.target }, kc, packet);
  return { bytes, reqId };
}

export interface Outcome {
  answer?: ClientRes;
  authRequired?: string;
  /** The server's id and epoch from a retarget answer. */
  retarget?: RequestTarget;
  bytesOut: number;
  datagrams: number;
}

/** Reads what `node` queued for `to` as the client with `cred` would. */
export function answersTo(node: ClusterNode, to: Address, cred: Cred | undefined): Outcome {
  const kc = cred && credentialKey(nodeCrypto, cred.id, cred.secret);
  const cache = new Map<string, Aead>();
  const out: Outcome = { bytesOut: 0, datagrams: 0 };
  for (let t = node.pollTransmit(); t; t = node.pollTransmit()) {
    if (t.to !== to) continue;
    out.bytesOut += t.bytes.length;
    out.datagrams++;
    const opened = openAnswer(nodeCrypto, kc, t.bytes, cache);
    if (opened.kind === 'auth-required') out.authRequired = opened.reason;
    if (opened.kind === 'retarget') out.retarget = opened.target;
    if (opened.kind !== 'packet') continue;
    const r = decodePacket(opened.packet, 'contacts');
    assert.ok(r.ok);
    if (r.ok && r.packet.messages[0]?.type === 'clientRes') out.answer = r.packet.messages[0];
  }
  return out;
}

/** The result of a successful answer. */
export function ok(o: Outcome): any {
  assert.ok(o.answer, `no answer: ${JSON.stringify(o)}`);
  assert.ok(o.answer!.ok, o.answer!.result);
  return JSON.parse(o.answer!.result);
}

/** The code of an error answer. */
export function code(o: Outcome): string {
  assert.ok(o.answer && !o.answer.ok, `expected an error answer: ${JSON.stringify(o)}`);
  return JSON.parse(o.answer!.result).code;
}
