/**
 * Junk datagrams for fuzzing a node, from a seeded generator: random bytes,
 * and valid packets of every kind that carries no address, mutated (bit
 * flips, byte changes, insertions, deletions, truncation), plus packets of
 * a foreign cluster, a wrong version and an unknown message type. Used at
 * a live contactd (test/integration/bad-input.test.ts) and in process
 * (test/unit/node-fuzz.test.ts).
 */
import type { SeededRng } from '../protocol/rng.ts';
import { assemblePacket, encodeMessage, encodePacket } from '../protocol/wire/codec.ts';
import type { Message, PacketHeader } from '../protocol/wire/messages.ts';
import { nodeId } from '../protocol/types.ts';

/** Valid packets of every kind that carries no address (so no mutation can point a node off loopback). */
export function corpus(rng: SeededRng): Uint8Array[] {
  const hex = () => (rng.nextU32().toString(16).padStart(8, '0') + rng.nextU32().toString(16).padStart(8, '0'));
  const id = nodeId(hex());
  const header: PacketHeader = { cluster: 'contacts', from: id };
  const contactId = '01J00000000000000000000001';
  const messages: Message[] = [
    { type: 'ping', seq: 7, target: nodeId(hex()) },
    { type: 'ack', seq: 7 },
    { type: 'nack', seq: 7 },
    { type: 'suspect', node: nodeId(hex()), incarnation: 1, from: id },
    { type: 'dead', node: nodeId(hex()), incarnation: 1, from: id },
    { type: 'rcHello', sid: 1, n: 3, fp: new Uint8Array(16) },
    { type: 'rcMore', sid: 1, from: 0, upTo: 4 },
    { type: 'repState', reply: false, full: true, batch: 0, id: contactId, entries: [
      ['formattedName', '', '"Fuzz"', id, 1, 1, 0],
      ['$live', '', 'true', id, 2, 1, 0],
    ], ctx: [{ origin: id, ranges: [1, 2] }], stable: [] },
    { type: 'repState', reply: true, full: false, batch: 1, id: '01J00000000000000000000002', entries: [
      ['phones', 'p1', '{"value":"+1 555 0100","types":["cell"],"pref":false}', id, 3, 2, 0],
      ['x:X-A', '', '["a"]', id, 4, 2, 0],
      ['$op', '01J00000000000000000000003', '{"first":3,"last":5,"kind":"create","fields":["phones"]}', id, 5, 2, 0],
      ['$live', '', 'true', id, 6, 2, 0],
    ], ctx: [{ origin: id, ranges: [3, 6] }], stable: [{ origin: id, seq: 1 }] },
    { type: 'rcSymbols', sid: 1, at: 0, end: 1, sym: new Uint8Array(12) },
    { type: 'rcItems', sid: 1, at: 0, end: 1, items: new Uint8Array(8) },
    { type: 'rcList', sid: 1, from: 0, upTo: 2 },
    { type: 'rcEstimate', sid: 1, from: 0, cells: new Uint8Array(8) },
    { type: 'repVv', reply: false, batch: 0, count: 0, more: false, cursor: '', vv: [{ origin: id, seq: 3 }] },
    { type: 'repFetch', items: new Uint8Array(16) },
    { type: 'frag', xid: 9, part: 0, parts: 2, bytes: new Uint8Array([1, 2, 3]) },
    { type: 'clientReq', reqId: 1, op: 'list', args: '{"limit":2}' },
    { type: 'clientReq', reqId: 2, op: 'get', args: `{"id":"${contactId}"}` },
    { type: 'clientReq', reqId: 3, op: 'put', args: '{"opId":"x","patch":{"kind":"create","contact":{"id":"nope","formattedName":""}}}' },
    { type: 'clientReq', reqId: 4, op: 'put', args: `{"opId":"y","patch":{"kind":"update","id":"${contactId}","ops":[{"op":"set","field":"title","value":"T"}]}}` },
    { type: 'clientReq', reqId: 5, op: 'subscribe', args: '{"leaseMs":5000}' },
    { type: 'clientReq', reqId: 6, op: 'history', args: `{"id":"${contactId}"}` },
    { type: 'clientReq', reqId: 7, op: 'search', args: '{"q":"fuzz 555"}' },
    { type: 'clientRes', reqId: 1, ok: true, result: '[]', cursor: '', more: false },
    { type: 'clientPush', sub: '00', seq: 1, event: '{}' },
  ];
  return messages.map((m) => encodePacket(header, [m]));
}

/** One datagram of junk: random bytes, or a corpus packet mutated, or one of the foreign kinds. */
export function junk(rng: SeededRng, packets: Uint8Array[]): Uint8Array {
  const pick = rng.int(10);
  if (pick === 0) return Uint8Array.from({ length: rng.int(1400) }, () => rng.int(256));
  const base = packets[rng.int(packets.length)]!;
  if (pick === 1) return encodePacket({ cluster: 'other-cluster', from: nodeId('ffffffffffffffff') }, [{ type: 'ping', seq: 1, target: nodeId('ffffffffffffffff') }]);
  if (pick === 2) {
    const b = Uint8Array.from(base);
    b[1] = 2; // the version, right after a one-byte array head
    return b;
  }
  if (pick === 3) return assemblePacket({ cluster: 'contacts', from: nodeId('eeeeeeeeeeeeeeee') }, [Uint8Array.from([0x82, 0x18, 0xc8, 0x01]), encodeMessage({ type: 'ack', seq: 1 })]); // type 200: unknown
  const b = [...base];
  for (let k = 1 + rng.int(2); k > 0; k--) {
    const at = rng.int(b.length);
    const how = rng.int(4);
    if (how === 0) b[at] = b[at]! ^ (1 << rng.int(8));
    else if (how === 1) b[at] = rng.int(256);
    else if (how === 2) b.splice(at, 1);
    else b.splice(at, 0, rng.int(256));
  }
  return rng.int(8) === 0 ? Uint8Array.from(b.slice(0, rng.int(b.length))) : Uint8Array.from(b);
}
