/**
 * The core's send side (protocol/outbox.ts): one message to several
 * addresses is assembled once and leaves as the same datagram to each, in
 * pieces when it is over the budget.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Outbox } from '../../protocol/outbox.ts';
import { Reassembler } from '../../protocol/fragments.ts';
import { decodePacket, encodeMessage } from '../../protocol/wire/codec.ts';
import type { Message } from '../../protocol/wire/messages.ts';
import { address, nodeId, type Transmit } from '../../protocol/types.ts';

const HEADER = { cluster: 'contacts', from: nodeId('00000000000000a1') };
const PEERS = ['127.0.0.1:7701', '127.0.0.1:7702', '127.0.0.1:7703'].map(address);
const state = (noteChars: number): Message => ({
  type: 'repState', reply: false, full: false, batch: 0, id: '01J00000000000000000000001',
  entries: [['note', '', JSON.stringify('n'.repeat(noteChars)), HEADER.from, 1, 1_700_000_000_000, 0]],
  ctx: [{ origin: HEADER.from, ranges: [1, 1] }], stable: [],
});

function drain(out: Outbox): Transmit[] {
  const sent: Transmit[] = [];
  for (let t = out.poll(); t; t = out.poll()) sent.push(t);
  return sent;
}

test('a message to several peers leaves as the same datagram to each, in their order', () => {
  const out = new Outbox(HEADER, 1400);
  const m = state(100);
  out.sendEncodedToEach(PEERS, [encodeMessage(m)]);
  const sent = drain(out);
  assert.equal(sent.map((t) => t.to), PEERS);
  for (const t of sent) assert.equal(t.bytes, sent[0]!.bytes);
  const r = decodePacket(sent[0]!.bytes, HEADER.cluster);
  assert.ok(r.ok);
  assert.equal(r.ok && r.packet.messages, [m]);
  assert.is(out.datagramsSent, PEERS.length);
});

test('over the budget, each peer gets the same pieces, which join into the message', () => {
  const out = new Outbox(HEADER, 1400);
  const m = state(5000);
  out.sendEncodedToEach(PEERS, [encodeMessage(m)]);
  const sent = drain(out);
  const pieces = sent.length / PEERS.length;
  assert.ok(pieces >= 4, `${pieces} pieces`);
  for (const [k, peer] of PEERS.entries()) {
    const mine = sent.slice(k * pieces, (k + 1) * pieces);
    assert.ok(mine.every((t) => t.to === peer && t.bytes.length <= 1400));
    const re = new Reassembler();
    let whole: Uint8Array | undefined;
    for (const t of mine) {
      const r = decodePacket(t.bytes, HEADER.cluster);
      const f = r.ok ? r.packet.messages[0] : undefined;
      assert.ok(f?.type === 'frag');
      if (f?.type === 'frag') whole = re.add(0, HEADER.from, f) ?? whole;
    }
    const r = whole && decodePacket(whole, HEADER.cluster);
    assert.ok(r?.ok);
    assert.equal(r?.ok && r.packet.messages, [m]);
  }
});

test('no peers: nothing is sent', () => {
  const out = new Outbox(HEADER, 1400);
  out.sendEncodedToEach([], [encodeMessage(state(10))]);
  assert.equal(drain(out), []);
});

test.run();
