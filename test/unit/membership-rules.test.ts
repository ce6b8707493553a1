import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { aliveOverrides, deadOverrides, MemberTable, suspectOverrides, type Member } from '../../protocol/membership/member-table.ts';
import { SeededRng } from '../../protocol/rng.ts';
import { suspicionMinMs, suspicionTimeoutMs, Suspicion } from '../../protocol/membership/suspicion.ts';
import { BroadcastQueue } from '../../protocol/membership/broadcast-queue.ts';
import { retransmitLimit, pushPullIntervalFor } from '../../protocol/membership/config.ts';
import { Awareness } from '../../protocol/membership/awareness.ts';
import type { Address, NodeId } from '../../protocol/types.ts';

const member = (state: Member['state'], incarnation: number): Member => ({
  id: '0000000000000001' as NodeId, name: 'n', addr: '127.0.0.1:1' as Address, incarnation, state, stateSince: 0, lastHeardAt: 0,
});

test('SWIM precedence: (incarnation, state) ordering', () => {
  // [current state, current inc, message inc, alive?, suspect?, dead?]
  const table: [Member['state'], number, number, boolean, boolean, boolean][] = [
    ['alive', 3, 2, false, false, false],
    ['alive', 3, 3, false, true, true],
    ['alive', 3, 4, true, true, true],
    ['suspect', 3, 3, false, false, true],
    ['suspect', 3, 4, true, true, true],
    ['dead', 3, 3, false, false, false],
    ['dead', 3, 4, true, true, true],
    ['left', 3, 3, false, false, false],
    ['left', 3, 4, true, true, true],
  ];
  for (const [state, inc, msgInc, a, s, d] of table) {
    const m = member(state, inc);
    assert.is(aliveOverrides(m, msgInc), a, `alive ${msgInc} over ${state}@${inc}`);
    assert.is(suspectOverrides(m, msgInc), s, `suspect ${msgInc} over ${state}@${inc}`);
    assert.is(deadOverrides(m, msgInc), d, `dead ${msgInc} over ${state}@${inc}`);
  }
  assert.ok(aliveOverrides(undefined, 0), 'an unknown member is always news');
});

test('suspicion timeout: max with no confirmation, min at k, monotone between', () => {
  const min = 4000;
  const max = 24000;
  const k = 3;
  assert.is(suspicionTimeoutMs(min, max, k, 0), max);
  assert.is(suspicionTimeoutMs(min, max, k, k), min);
  assert.is(suspicionTimeoutMs(min, max, k, k + 5), min);
  let last = Infinity;
  for (let c = 0; c <= k; c++) {
    const t = suspicionTimeoutMs(min, max, k, c);
    assert.ok(t <= last, `non-increasing at ${c}`);
    last = t;
  }
  assert.is(suspicionTimeoutMs(min, max, 0, 0), min, 'k = 0 means no waiting for confirmations');
});

test('suspicion minimum scales with log10(n), never below one unit', () => {
  const table: [number, number][] = [[1, 2000], [5, 2000], [10, 2000], [100, 4000], [1000, 6000]];
  for (const [n, want] of table) assert.is(suspicionMinMs(2, n, 1000), want, `n=${n}`);
});

test('Suspicion counts distinct confirmers only and shortens its deadline', () => {
  const a = '000000000000000a' as NodeId;
  const b = '000000000000000b' as NodeId;
  const s = new Suspicion(1000, 2000, 12000, 2, a);
  assert.is(s.deadline(), 13000);
  assert.not.ok(s.confirm(a), 'the raiser does not confirm itself');
  assert.ok(s.confirm(b));
  assert.not.ok(s.confirm(b), 'a repeat is not independent');
  assert.ok(s.deadline() < 13000 && s.deadline() > 3000);
});

test('retransmit limit is mult·ceil(log10(n+1)); push/pull scales past 32 members', () => {
  assert.is(retransmitLimit(4, 1), 4);
  assert.is(retransmitLimit(4, 9), 4);
  assert.is(retransmitLimit(4, 10), 8);
  assert.is(retransmitLimit(4, 100), 12);
  assert.is(retransmitLimit(4, 1000), 16);
  assert.is(pushPullIntervalFor(30_000, 32), 30_000);
  assert.is(pushPullIntervalFor(30_000, 100), 90_000);
});

test('broadcast queue: fewest-sent first, replaced by key, retired at the limit, bounded', () => {
  const q = new BroadcastQueue(3);
  const b = (n: number, len = 10) => new Uint8Array(len).fill(n);
  q.push('a', b(1));
  q.push('b', b(2));
  assert.equal(q.take(100, 2).map((x) => x[0]), [1, 2]);
  q.push('c', b(3));
  assert.equal(q.take(15, 2).map((x) => x[0]), [3], 'the unsent one goes first; the rest do not fit');
  q.push('a', b(4));
  assert.is(q.size, 3, 'a newer broadcast about a replaces the older');
  const got = q.take(1000, 2).map((x) => x[0]);
  assert.equal(got.sort(), [2, 3, 4]);
  assert.is(q.size, 1, 'b and c reached their limit of 2 and retired; a was sent once');
  q.push('d', b(5));
  q.push('e', b(6));
  q.push('f', b(7));
  assert.is(q.size, 3, 'bounded');
  assert.is(q.droppedCount, 1);
});

test('broadcast queue: news pushed as already sent gets the rest of the budget, behind fresh news', () => {
  const q = new BroadcastQueue(10);
  const b = (n: number) => new Uint8Array(10).fill(n);
  q.push('second-hand', b(1), 4);
  q.push('fresh', b(2));
  assert.equal(q.take(10, 6).map((x) => x[0]), [2], 'fresh news first when only one fits');
  assert.is(q.unsent, 0, 'second-hand news does not count as unsent');
  let sends = 0;
  for (let i = 0; i < 10; i++) sends += q.take(100, 6).filter((x) => x[0] === 1).length;
  assert.is(sends, 2, 'a limit of 6 less 4 already sent');
});

test('member table: the address index follows adds, moves and removals (two members may share an address)', () => {
  const t = new MemberTable('00000000000000aa' as NodeId, new SeededRng(1));
  const at = (id: string, addr: string): Member => ({
    id: id as NodeId, name: id, addr: addr as Address, incarnation: 0, state: 'alive', stateSince: 0, lastHeardAt: undefined,
  });
  const a = at('00000000000000a1', '10.0.0.1:1');
  const b = at('00000000000000a2', '10.0.0.1:1');
  t.add(a);
  t.add(b);
  assert.ok(t.hasAddress('10.0.0.1:1' as Address));
  assert.is(t.memberAt('10.0.0.1:1' as Address), b.id, 'of two at one address, the newer');
  t.setAddress(a, '10.0.0.2:1' as Address);
  assert.ok(t.hasAddress('10.0.0.1:1' as Address), 'b is still there');
  assert.ok(t.hasAddress('10.0.0.2:1' as Address));
  assert.is(t.memberAt('10.0.0.2:1' as Address), a.id, 'a moved member is found at once at its new address');
  t.remove(b.id);
  assert.not.ok(t.hasAddress('10.0.0.1:1' as Address));
  assert.is(t.memberAt('10.0.0.1:1' as Address), undefined);
  t.setState(a, 'dead', 5);
  assert.ok(t.hasAddress('10.0.0.2:1' as Address), 'a dead member is still listed');
  t.remove(a.id);
  assert.not.ok(t.hasAddress('10.0.0.2:1' as Address));
});

test('awareness clamps and scales', () => {
  const a = new Awareness(8);
  a.apply(-1);
  assert.is(a.health, 0);
  a.apply(20);
  assert.is(a.health, 7);
  assert.is(a.scale(500), 4000);
});

test.run();
