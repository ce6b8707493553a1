/**
 * A catch-up request's bookkeeping (protocol/replication/catch-up-ask.ts):
 * what a node asks with, within a bound whatever its cloud; and how the
 * answering node tells settled writes from writes a moment old.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { catchUpAsk, HELD_NUMBERS_MAX, HELD_NUMBERS_PER_ORIGIN, HeldNotes } from '../../protocol/replication/catch-up-ask.ts';
import { cloudAddRange, EMPTY_CLOUD, type DotCloud } from '../../protocol/contacts/dots.ts';
import { encodePacket } from '../../protocol/wire/codec.ts';
import { LIMITS } from '../../protocol/wire/messages.ts';
import { nodeId, type NodeId } from '../../protocol/types.ts';

const A = nodeId('aaaaaaaaaaaaaaaa');
const B = nodeId('bbbbbbbbbbbbbbbb');

/** A cloud from [origin, from, to] ranges. */
function cloud(...ranges: [NodeId, number, number][]): DotCloud {
  return ranges.reduce((c, [o, from, to]) => cloudAddRange(c, o, from, to), EMPTY_CLOUD);
}

test('a node without gaps asks in the first wire form, which every member answers', () => {
  assert.equal(catchUpAsk(cloud([A, 1, 7], [B, 1, 3]), 50, ''), {
    type: 'repVv', reply: false, batch: 0, count: 50, more: false, cursor: '', vv: [{ origin: A, seq: 7 }, { origin: B, seq: 3 }],
  });
});

test('a node with gaps lists what it holds above its vector, an origin it has no start of included', () => {
  assert.equal(catchUpAsk(cloud([A, 1, 7], [A, 9, 12], [A, 20, 20], [B, 4, 5]), 0, ''), {
    type: 'repAsk', count: 0, cursor: '', vv: [{ origin: A, seq: 7 }], held: [{ origin: A, ranges: [9, 12, 20, 20] }, { origin: B, ranges: [4, 5] }],
  });
});

test('the listed ranges share one budget, dealt lowest first a range per origin per round, and the request always encodes', () => {
  // Every origin the wire allows, each with 100 gaps.
  const origins = Array.from({ length: LIMITS.maxOrigins }, (_, i) => nodeId(i.toString(16).padStart(16, '0')));
  let c: DotCloud = EMPTY_CLOUD;
  for (const o of origins) {
    c = cloudAddRange(c, o, 1, 10);
    for (let g = 0; g < 100; g++) c = cloudAddRange(c, o, 12 + 2 * g, 12 + 2 * g);
  }
  const ask = catchUpAsk(c, 0, '');
  assert.is(ask.type, 'repAsk');
  if (ask.type !== 'repAsk') return;
  const numbers = ask.held.reduce((n, h) => n + h.ranges.length, 0);
  assert.is(numbers, HELD_NUMBERS_MAX);
  // 256 origins and a budget of 128 ranges: the first range of the first 128 origins.
  assert.equal(ask.held.map((h) => h.ranges), origins.slice(0, HELD_NUMBERS_MAX / 2).map(() => [12, 12]));
  assert.ok(encodePacket({ cluster: 'c', from: A }, [ask]).length <= LIMITS.maxDatagramBytes);
  // One origin with many gaps: its lowest ranges, up to the per-origin bound.
  const one = catchUpAsk({ [origins[0]!]: c[origins[0]!]! }, 0, '');
  assert.ok(one.type === 'repAsk');
  if (one.type !== 'repAsk') return;
  assert.equal(one.held[0]!.ranges.length, HELD_NUMBERS_PER_ORIGIN);
  assert.equal(one.held[0]!.ranges.slice(0, 4), [12, 12, 14, 14]);
});

test('held notes: a write counts as settled a grace after its slice began; notes stay few', () => {
  const c1 = cloud([A, 1, 1]);
  const c2 = cloud([A, 1, 2]);
  const c3 = cloud([A, 1, 3]);
  // What was held at the start counts as settled at once.
  const notes = new HeldNotes(10_000, c1, 1_000, 125);
  assert.equal(notes.settled(10_000), { [A]: 1 });
  notes.note(10_000, c2);
  notes.note(10_050, c3); // the same slice as 2: joins its note
  assert.equal(notes.settled(10_999), { [A]: 1 });
  assert.equal(notes.settled(11_000), { [A]: 3 });
  // A stream of changes for ten seconds, one every 10 ms: about grace / slice notes.
  let c = c3;
  for (let t = 11_000, s = 4; t < 21_000; t += 10, s++) notes.note(t, (c = cloudAddRange(c, A, s, s)));
  assert.ok(notes.size <= 1_000 / 125 + 2, `${notes.size} notes kept`);
  assert.ok((notes.settled(21_000)[A] ?? 0) < (notes.settled(22_000)[A] ?? 0));
});

test.run();
