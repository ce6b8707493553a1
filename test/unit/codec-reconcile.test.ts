import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodePacket, encodePacket } from '../../protocol/wire/codec.ts';
import type { Message } from '../../protocol/wire/messages.ts';
import { ItemSet } from '../../protocol/reconcile/item-set.ts';
import { ReconcileInitiator } from '../../protocol/reconcile/initiator.ts';
import { ReconcileResponder } from '../../protocol/reconcile/responder.ts';
import type { ReconcileMessage } from '../../protocol/reconcile/messages.ts';
import type { NodeId } from '../../protocol/types.ts';

const header = { cluster: 'c', from: '00000000000000aa' as NodeId };

/** Sends a message through the real codec, as the wire would. */
function overWire(m: ReconcileMessage): ReconcileMessage {
  const bytes = encodePacket(header, [m as Message]);
  assert.ok(bytes.length <= 1400, `${m.type} of ${bytes.length} bytes`);
  const r = decodePacket(bytes, 'c');
  if (!r.ok) throw new Error(`${m.type} did not decode: ${r.reason}`);
  return r.packet.messages[0] as ReconcileMessage;
}

test('a digest-repair session runs through the wire codec and finds the difference', () => {
  const base = Array.from({ length: 5000 }, (_, i) => BigInt(i) * 0x9e3779b97f4a7c15n & 0xffffffffffffffffn);
  const a = ItemSet.from(base.concat([1n, 2n, 3n]));
  const b = ItemSet.from(base.concat([4n]));
  const ini = new ReconcileInitiator(a, { sid: 7 });
  const res = new ReconcileResponder(b);
  let toRes = ini.start().map(overWire);
  for (let round = 0; round < 10 && ini.phase !== 'done'; round++) {
    const toIni = toRes.flatMap((m) => res.handle(m)).map(overWire);
    toRes = toIni.flatMap((m) => ini.handle(m)).map(overWire);
  }
  assert.is(ini.phase, 'done');
  assert.equal(ini.result!.localOnly, [1n, 2n, 3n]);
  assert.equal(ini.result!.remoteOnly, [4n]);
});

test('a byte field of the wrong size is refused as bad-schema', () => {
  const bad = encodePacket(header, [{ type: 'rcEqual', sid: 1 }]);
  assert.ok(decodePacket(bad, 'c').ok);
  assert.throws(() => encodePacket(header, [{ type: 'rcHello', sid: 1, n: 3, fp: new Uint8Array(15) } as Message]));
});

test.run();
