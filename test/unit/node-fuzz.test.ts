/**
 * A ClusterNode in process fed tens of thousands of junk datagrams (seeded
 * random bytes and mutated valid packets, test/fuzz-datagrams.ts; the seed
 * is printed): handling one never throws, and whatever it stored can still
 * be read: every contact has a view and search text, list and history
 * answer. The same junk is sent at a live contactd in
 * test/integration/bad-input.test.ts; here it runs fast enough to try many
 * more.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ClusterNode } from '../../protocol/node.ts';
import { SeededRng } from '../../protocol/rng.ts';
import { address, nodeId } from '../../protocol/types.ts';
import { view } from '../../protocol/contacts/view.ts';
import { history } from '../../protocol/contacts/history.ts';
import { ftsColumns } from '../../daemon/store/search-text.ts';
import { encodePacket } from '../../protocol/wire/codec.ts';
import { corpus, junk } from '../fuzz-datagrams.ts';

const SEED = Number(process.env.NODE_FUZZ_SEED ?? Date.now() % 1_000_000);
const DATAGRAMS = 30_000;

test(`${DATAGRAMS} junk datagrams: nothing throws, everything stored stays readable`, () => {
  console.log(`node fuzz: SEED=${SEED} (rerun with NODE_FUZZ_SEED=${SEED})`);
  const rng = new SeededRng(SEED);
  // No rate limit: every datagram is to reach the decoders (with the limits most would be dropped unread).
  const unlimited = { strangerPerSecond: 1e9, strangerBurst: 1e9, strangersPerSecond: 1e9, strangersBurst: 1e9 };
  const node = new ClusterNode({ id: nodeId('0000000000000001'), addr: address('127.0.0.1:7700'), rng: new SeededRng(SEED + 1), now: 1_000, inboundLimits: unlimited });
  node.join(1_000, []);
  const packets = corpus(rng);
  const from = address('127.0.0.1:50000');
  let now = 1_000;
  for (let i = 0; i < DATAGRAMS; i++) {
    now += rng.int(3);
    const bytes = junk(rng, packets);
    try {
      node.handleDatagram(now, from, bytes);
      if (i % 100 === 0) node.handleTimeout(now);
    } catch (err) {
      assert.unreachable(`datagram ${i} (${Buffer.from(bytes).toString('hex')}) threw: ${(err as Error).stack}`);
    }
    while (node.pollTransmit()) { /* sent */ }
    while (node.pollEvent()) { /* delivered */ }
  }
  const bad = node.badInput();
  assert.ok(bad.total > DATAGRAMS / 2, JSON.stringify(bad));
  assert.is(bad.byReason['internal-error'], 0);
  let stored = 0;
  for (let page = node.replication.store.page(undefined, 1000); page.length > 0; page = node.replication.store.page(page[page.length - 1]!.id, 1000)) {
    for (const s of page) {
      stored++;
      view(s);
      ftsColumns(s);
      history(s);
    }
  }
  // The client ops that read every contact still answer.
  for (const op of ['list', 'conflicts']) {
    node.handleDatagram(now, from, encodePacket({ cluster: 'contacts', from: nodeId('c1c1c1c1c1c1c1c1') }, [{ type: 'clientReq', reqId: 1, op, args: '{}' }]));
    let answered = false;
    for (let t = node.pollTransmit(); t; t = node.pollTransmit()) if (t.to === from) answered = true;
    assert.ok(answered, `${op} answered`);
  }
  console.log(`node fuzz: ${bad.total} dropped, ${stored} contacts stored and readable`);
});

test.run();
