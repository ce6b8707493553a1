/**
 * The flood of test/integration/flood.test.ts, in a process of its own (so
 * that the test's own measurements — probe round trips, client requests —
 * are not held up behind its sends): COUNT unauthenticated datagrams at
 * 127.0.0.1:PORT from 16 sockets, as fast as this process sends them,
 * cycling through three kinds: a plain ping naming the node (it would draw
 * an ack from a node without a key), sealed-looking junk under the
 * cluster's real key id, and random bytes. It tells its parent when it
 * has sent them all ({sent, ms}), keeps listening for any reply, and when
 * the parent asks (once the node has worked through the flood) answers
 * {repliedBytes} and exits.
 *
 * Usage (forked with --import tsx): flooder.ts PORT COUNT KEY_ID NODE_ID
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { encodePacket } from '../../protocol/wire/codec.ts';
import { nodeId } from '../../protocol/types.ts';

const [port, count, keyId, target] = [Number(process.argv[2]), Number(process.argv[3]), Number(process.argv[4]), process.argv[5]!];
const SOCKETS = 16;

export type FloodReport = { sent: number; ms: number } | { repliedBytes: number };

const ping = encodePacket({ cluster: 'contacts', from: nodeId('f1f1f1f1f1f1f1f1') }, [{ type: 'ping', seq: 7, target: nodeId(target) }]);
const sealedJunk = (): Uint8Array => {
  const d = new Uint8Array(randomBytes(120));
  d[0] = 0xc5;
  new DataView(d.buffer).setUint32(1, keyId);
  return d;
};
const junk = (): Uint8Array => {
  const d = new Uint8Array(randomBytes(64));
  if (d[0] === 0xc6) d[0] = 0; // that would be a client request: the test's second case sends those
  return d;
};
const kinds = [() => ping, sealedJunk, junk];

let repliedBytes = 0;
const sockets: Socket[] = [];
for (let i = 0; i < SOCKETS; i++) {
  const s = createSocket('udp4');
  s.on('message', (m) => (repliedBytes += m.length));
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  sockets.push(s);
}
const started = performance.now();
for (let sent = 0; sent < count; ) {
  const batch: Promise<void>[] = [];
  for (let k = 0; k < 2000 && sent < count; k++, sent++) {
    const d = kinds[sent % kinds.length]!();
    batch.push(new Promise((resolve) => sockets[sent % SOCKETS]!.send(d, port, '127.0.0.1', () => resolve())));
  }
  await Promise.all(batch);
}
process.send!({ sent: count, ms: performance.now() - started } satisfies FloodReport);
process.once('message', () => {
  for (const s of sockets) s.close();
  process.send!({ repliedBytes } satisfies FloodReport, () => process.exit(0));
});
