import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  type ContactId, type ContactState, emptyState, fromWire, isForgettable, join, NO_STABLE, toWire, version,
} from '../../protocol/crdt/contact-state.ts';
import { applyWrite, type FieldPatch, type WriteOp } from '../../protocol/crdt/ops.ts';
import { view } from '../../protocol/crdt/view.ts';
import { DotCloud } from '../../protocol/crdt/dots.ts';
import { HlcClock } from '../../protocol/crdt/hlc.ts';
import type { NodeId } from '../../protocol/types.ts';

const LISTS = new Set(['phones', 'emails']);
const ID = '01HZZZZZZZZZZZZZZZZZZZZZZZ' as ContactId;

/** A replica of one contact: its state, write counter and clock. */
class Replica {
  state: ContactState = emptyState(ID);
  private seq = 0;
  private readonly clock = new HlcClock();
  constructor(readonly origin: NodeId) {}
  write(op: WriteOp, nowMs: number): ContactState {
    const r = applyWrite(ID, this.state, op, { origin: this.origin, nextSeq: () => ++this.seq, hlc: this.clock.tick(nowMs) });
    this.state = r.state;
    return r.delta;
  }
  receive(s: ContactState): void {
    for (const e of s.entries) this.clock.observe(e.hlc);
    this.state = join(this.state, s, NO_STABLE, NO_STABLE);
  }
}

const origins = ['000000000000000a', '000000000000000b', '000000000000000c'] as NodeId[];
const canon = (s: ContactState) => JSON.stringify(toWire(s, NO_STABLE));

const arbPatch: fc.Arbitrary<FieldPatch> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), key: fc.constantFrom('name', 'org'), value: fc.string({ maxLength: 3 }) }, { noNullPrototype: true }),
  fc.record({ op: fc.constant('clear' as const), key: fc.constantFrom('name', 'org') }, { noNullPrototype: true }),
  fc.record({ op: fc.constant('add' as const), key: fc.constantFrom('phones', 'emails'), uid: fc.constantFrom('u1', 'u2', 'u3'), value: fc.string({ maxLength: 3 }) }, { noNullPrototype: true }),
  fc.record({ op: fc.constant('replace' as const), key: fc.constantFrom('phones', 'emails'), uid: fc.constantFrom('u1', 'u2'), value: fc.string({ maxLength: 3 }) }, { noNullPrototype: true }),
  fc.record({ op: fc.constant('remove' as const), key: fc.constantFrom('phones', 'emails'), uid: fc.constantFrom('u1', 'u2') }, { noNullPrototype: true }),
);
const arbOp: fc.Arbitrary<WriteOp> = fc.oneof(
  { weight: 5, arbitrary: fc.array(arbPatch, { minLength: 1, maxLength: 3 }).map((patches) => ({ kind: 'upsert' as const, patches })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'delete' as const }) },
);
/** A step: replica r writes op, or replica r receives pending delta k (mod pending count). */
const arbStep = fc.oneof(
  fc.record({ kind: fc.constant('write' as const), r: fc.nat(2), op: arbOp }, { noNullPrototype: true }),
  fc.record({ kind: fc.constant('deliver' as const), r: fc.nat(2), k: fc.nat(1000) }, { noNullPrototype: true }),
);

/** Runs a random history; returns the replicas and every delta ever made. */
function run(steps: fc.Arbitrary<unknown>[] | unknown[]): { replicas: Replica[]; deltas: ContactState[] } {
  const replicas = origins.map((o) => new Replica(o));
  const deltas: ContactState[] = [];
  let now = 1000;
  for (const s of steps as ({ kind: 'write'; r: number; op: WriteOp } | { kind: 'deliver'; r: number; k: number })[]) {
    now += 7;
    if (s.kind === 'write') deltas.push(replicas[s.r]!.write(s.op, now));
    else if (deltas.length > 0) replicas[s.r]!.receive(deltas[s.k % deltas.length]!);
  }
  return { replicas, deltas };
}

test('join is commutative, associative and idempotent on states from random histories', () => {
  fc.assert(
    fc.property(fc.array(arbStep, { maxLength: 40 }), (steps) => {
      const [a, b, c] = run(steps).replicas.map((r) => r.state) as [ContactState, ContactState, ContactState];
      const j = (x: ContactState, y: ContactState) => join(x, y, NO_STABLE, NO_STABLE);
      assert.is(canon(j(a, b)), canon(j(b, a)), 'commutative');
      assert.is(canon(j(j(a, b), c)), canon(j(a, j(b, c))), 'associative');
      assert.is(canon(j(a, a)), canon(a), 'idempotent');
    }),
    { numRuns: 300 },
  );
});

test('replicas that receive every delta, in any order and with duplicates, converge to one state, view and version', () => {
  fc.assert(
    fc.property(fc.array(arbStep, { maxLength: 40 }), fc.array(fc.nat(), { minLength: 1, maxLength: 60 }), (steps, order) => {
      const { replicas, deltas } = run(steps);
      for (const r of replicas) {
        // Every delta once more, in a replica-specific shuffled order, some twice.
        const idx = deltas.map((_, i) => i);
        for (let i = 0; i < idx.length; i++) {
          const j = (order[(i + r.origin.charCodeAt(15)) % order.length]! + i) % idx.length;
          [idx[i], idx[j]] = [idx[j]!, idx[i]!];
        }
        for (const i of idx) r.receive(deltas[i]!);
        if (deltas.length > 0) r.receive(deltas[0]!);
      }
      const views = replicas.map((r) => JSON.stringify({ ...view(r.state, LISTS), observed: undefined }));
      assert.is(views[0], views[1]);
      assert.is(views[1], views[2]);
      assert.is(version(replicas[0]!.state), version(replicas[2]!.state));
      assert.is(canon(replicas[0]!.state), canon(replicas[1]!.state));
    }),
    { numRuns: 300 },
  );
});

const set = (key: string, value: unknown): WriteOp => ({ kind: 'upsert', patches: [{ op: 'set', key, value }] });

test('concurrent edits of different fields merge without conflict', () => {
  const [a, b] = [new Replica(origins[0]!), new Replica(origins[1]!)];
  b.receive(a.write({ kind: 'upsert', patches: [{ op: 'set', key: 'name', value: 'Ana' }, { op: 'add', key: 'phones', uid: 'p1', value: '111' }] }, 1));
  const da = a.write({ kind: 'upsert', patches: [{ op: 'replace', key: 'phones', uid: 'p1', value: '222' }] }, 2);
  const db = b.write({ kind: 'upsert', patches: [{ op: 'add', key: 'emails', uid: 'e1', value: 'ana@x' }] }, 2);
  a.receive(db);
  b.receive(da);
  const v = view(a.state, LISTS);
  assert.equal(v.lists['phones'], [{ uid: 'p1', value: '222' }]);
  assert.equal(v.lists['emails'], [{ uid: 'e1', value: 'ana@x' }]);
  assert.equal(v.conflicts, []);
  assert.is(canon(a.state), canon(b.state));
});

test('concurrent edits of one field: same winner everywhere, both values reported, resolve clears it', () => {
  const [a, b] = [new Replica(origins[0]!), new Replica(origins[1]!)];
  b.receive(a.write(set('name', 'Ana'), 1));
  const da = a.write(set('name', 'Ana Maria'), 5);
  const db = b.write(set('name', 'Anna'), 6);
  a.receive(db);
  b.receive(da);
  const va = view(a.state, LISTS);
  const vb = view(b.state, LISTS);
  assert.is(va.fields['name'], 'Anna', 'later hlc wins');
  assert.is(vb.fields['name'], 'Anna');
  assert.equal(va.conflicts.map((c) => c.values.map((v) => v.value)), [['Anna', 'Ana Maria']]);
  b.receive(a.write({ kind: 'upsert', patches: [{ op: 'set', key: 'name', value: 'Ana Maria' }], observed: va.observed }, 9));
  assert.equal(view(b.state, LISTS).conflicts, []);
  assert.is(view(b.state, LISTS).fields['name'], 'Ana Maria');
});

test('two phones added concurrently both stay', () => {
  const [a, b] = [new Replica(origins[0]!), new Replica(origins[1]!)];
  const da = a.write({ kind: 'upsert', patches: [{ op: 'add', key: 'phones', uid: 'pa', value: '1' }] }, 1);
  const db = b.write({ kind: 'upsert', patches: [{ op: 'add', key: 'phones', uid: 'pb', value: '2' }] }, 1);
  a.receive(db);
  b.receive(da);
  assert.equal(view(a.state, LISTS).lists['phones']!.map((p) => p.value).sort(), ['1', '2']);
});

test('a delete concurrent with an edit loses: the contact stays whole, flagged revived', () => {
  const [a, b] = [new Replica(origins[0]!), new Replica(origins[1]!)];
  b.receive(a.write({ kind: 'upsert', patches: [{ op: 'set', key: 'name', value: 'Ana' }, { op: 'set', key: 'org', value: 'ACME' }] }, 1));
  const del = a.write({ kind: 'delete' }, 2);
  const edit = b.write(set('org', 'ACME Corp'), 3);
  a.receive(edit);
  b.receive(del);
  for (const r of [a, b]) {
    const v = view(r.state, LISTS);
    assert.not.ok(v.deleted);
    assert.ok(v.revived);
    assert.is(v.fields['name'], 'Ana', 'the fields the delete saw are still there');
    assert.is(v.fields['org'], 'ACME Corp');
  }
});

test('a delete that follows every edit is final, even against an old replica before and after tombstone GC', () => {
  const [a, b, old] = origins.map((o) => new Replica(o)) as [Replica, Replica, Replica];
  const d1 = a.write(set('name', 'Ana'), 1);
  b.receive(d1);
  old.receive(d1);
  const del = b.write({ kind: 'delete' }, 2);
  a.receive(del);
  assert.ok(view(a.state, LISTS).deleted);
  // The old replica, away during the delete, sends its old state back.
  a.receive(old.state);
  assert.ok(view(a.state, LISTS).deleted, 'resurrected before GC');
  // Everyone (a and b) has applied every dot: the tombstone is stable and forgotten.
  const stable = new Map([[origins[0]!, 2], [origins[1]!, 1], [origins[2]!, 0]]); // a wrote name (a:1) and live (a:2); b's delete is b:1
  assert.ok(isForgettable(a.state, stable));
  const fresh = emptyState(ID);
  const back = join(fresh, old.state, stable, NO_STABLE);
  assert.ok(view(back, LISTS).deleted, 'resurrected after GC by the old replica');
  // And the old replica learns it is deleted from anyone's compacted state.
  const fromA = fromWire(toWire(a.state, stable));
  old.state = join(old.state, fromA.state, NO_STABLE, fromA.stable);
  assert.ok(view(old.state, LISTS).deleted);
});

test('dot cloud: contiguous prefix plus exceptions, compacts as gaps fill', () => {
  const c = new DotCloud();
  const o = origins[0]!;
  c.add(o, 1);
  c.add(o, 3);
  c.add(o, 5);
  assert.is(c.contiguous(o), 1);
  assert.equal(c.exceptions(o), [3, 5]);
  c.add(o, 2);
  assert.is(c.contiguous(o), 3);
  c.add(o, 4);
  assert.is(c.contiguous(o), 5);
  assert.equal(c.exceptions(o), []);
  assert.ok(DotCloud.fromWire(c.toWire()).equals(c));
  c.dropBelow(new Map([[o, 5]]));
  assert.ok(c.isEmpty);
});

test('hlc never goes backwards and exceeds what it observed', () => {
  const h = new HlcClock();
  const t1 = h.tick(100);
  const t2 = h.tick(50);
  assert.ok(t2.t > t1.t || (t2.t === t1.t && t2.c > t1.c));
  h.observe({ t: 500, c: 3 });
  const t3 = h.tick(100);
  assert.ok(t3.t === 500 && t3.c === 4);
});

test.run();
