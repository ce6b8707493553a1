/**
 * Property tests of the contact CRDT (protocol/contacts) over random
 * histories: 3 to 5 replicas write to two contacts (creates, field sets,
 * list puts and removes, deletes, resolves, blind writes), messages (write
 * deltas and full states) are delivered in random order with duplicates,
 * and some replicas compact and collect tombstones under the stable vector
 * as they go. Checked: join is commutative, associative and idempotent;
 * replicas that received the same messages in any order show the same
 * contacts with the same versions; compaction and tombstone collection
 * change nothing a reader sees; a delta stream and a full state agree.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { collectTombstones, commitWrite, receiveState, stateForPeer } from '../../protocol/contacts/book.ts';
import { cloudMax, cloudTop, EMPTY_CLOUD, vvMax, vvMeet, type VersionVector } from '../../protocol/contacts/dots.ts';
import { contactId, entryUid, opId, type ContactId } from '../../protocol/contacts/ids.ts';
import { MemoryStore } from '../../protocol/contacts/memory-store.ts';
import type { FieldOp, Patch, WriteRequest } from '../../protocol/contacts/patch.ts';
import { compact, emptyState, join, type ContactState } from '../../protocol/contacts/state.ts';
import { version, view } from '../../protocol/contacts/view.ts';
import { SeededRng, shuffle } from '../../protocol/rng.ts';
import { nodeId, type NodeId } from '../../protocol/types.ts';

const IDS = [contactId('01J0000000000000000000000A'), contactId('01J0000000000000000000000B')];
const NODES = ['a', 'b', 'c', 'd', 'e'].map((c) => nodeId(c.repeat(16)));

type Op = { kind: 'set'; op: FieldOp } | { kind: 'delete' } | { kind: 'resolve' };
type Step =
  | { kind: 'write'; r: number; c: number; op: Op; blind: boolean }
  | { kind: 'deliver'; r: number; k: number }
  | { kind: 'snapshot'; from: number; to: number; c: number }
  | { kind: 'gc'; r: number };

const rec = <T>(shape: { [K in keyof T]: fc.Arbitrary<T[K]> }) => fc.record(shape, { noNullPrototype: true });
const phone = (v: string) => ({ value: v, types: ['cell'], pref: false });

const arbFieldOp: fc.Arbitrary<FieldOp> = fc.oneof(
  fc.constantFrom('Ann', 'Bob', 'Cy').map((v): FieldOp => ({ op: 'set', field: 'formattedName', value: v })),
  fc.constantFrom('CEO', 'CTO', null).map((v): FieldOp => ({ op: 'set', field: 'title', value: v })),
  fc.tuple(fc.constantFrom('u1', 'u2', 'u3'), fc.constantFrom('+1 11', '+1 22')).map(
    ([u, v]): FieldOp => ({ op: 'put', field: 'phones', uid: entryUid(u), value: phone(v) }),
  ),
  fc.constantFrom('u1', 'u2', 'u3').map((u): FieldOp => ({ op: 'remove', field: 'phones', uid: entryUid(u) })),
  fc.constantFrom('a@x.io', 'b@x.io').map((v): FieldOp => ({ op: 'put', field: 'emails', uid: entryUid('e1'), value: { value: v, types: [], pref: true } })),
  fc.constantFrom<string[] | null>(['1'], null).map((v): FieldOp => ({ op: 'setExtra', name: 'X-TAG', values: v })),
);
const arbOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: arbFieldOp.map((op): Op => ({ kind: 'set', op })) },
  { weight: 2, arbitrary: fc.constant<Op>({ kind: 'delete' }) },
  { weight: 1, arbitrary: fc.constant<Op>({ kind: 'resolve' }) },
);
const arbStep = (n: number): fc.Arbitrary<Step> =>
  fc.oneof(
    { weight: 4, arbitrary: rec({ kind: fc.constant('write' as const), r: fc.nat(n - 1), c: fc.nat(1), op: arbOp, blind: fc.boolean() }) },
    { weight: 6, arbitrary: rec({ kind: fc.constant('deliver' as const), r: fc.nat(n - 1), k: fc.nat(10_000) }) },
    { weight: 1, arbitrary: rec({ kind: fc.constant('snapshot' as const), from: fc.nat(n - 1), to: fc.nat(n - 1), c: fc.nat(1) }) },
    { weight: 1, arbitrary: rec({ kind: fc.constant('gc' as const), r: fc.nat(n - 1) }) },
  );
const arbHistory = fc.integer({ min: 3, max: 5 }).chain((n) =>
  rec({ n: fc.constant(n), steps: fc.array(arbStep(n), { maxLength: 60 }), seed: fc.nat() }),
);

function patchFor(op: Op, id: ContactId, s: ContactState | undefined): Patch {
  if (op.kind === 'delete') return { kind: 'delete', id };
  if (op.kind === 'set') return { kind: 'update', id, ops: [op.op] };
  // Resolve the name to what this replica shows (its read covers every value it holds).
  const name = (s && view(s)?.formattedName) || 'Ann';
  return { kind: 'resolve', id, op: { op: 'set', field: 'formattedName', value: name } };
}

/** A run: replicas (stores), the message pool, and whether GC and compaction were on. */
class Run {
  readonly stores: MemoryStore[];
  readonly pool: ContactState[] = [];
  private ops = 0;
  private nowMs = 1_000;

  constructor(readonly n: number, private readonly gc: boolean) {
    this.stores = NODES.slice(0, n).map(() => new MemoryStore());
    // Both contacts start at replica 0 and reach everyone before the history.
    for (const id of IDS) this.write(0, { kind: 'create', contact: { id, formattedName: 'Ann', phones: [{ uid: entryUid('u1'), ...phone('+1 00') }] } }, false);
    for (const s of this.stores) for (const m of this.pool) receiveState(s, m, this.stable());
  }

  /** W: pointwise min of the replicas' version vectors (what the replication layer would supply). */
  stable(): VersionVector {
    return this.gc ? vvMeet(this.stores.map((s) => cloudTop(s.applied()))) : {};
  }

  /** K: pointwise max of the same version vectors. */
  frontier(): VersionVector {
    return this.stores.map((s) => cloudMax(s.applied())).reduce(vvMax, {});
  }

  write(r: number, patch: Patch, blind: boolean): void {
    const req: WriteRequest = { opId: opId(`op${this.ops++}`), patch, ...(blind ? { read: EMPTY_CLOUD } : {}) };
    const out = commitWrite(this.stores[r]!, NODES[r]!, req, (this.nowMs += 3), this.gc ? this.stable() : undefined);
    if (out.kind === 'applied') this.pool.push(out.delta);
  }

  deliver(r: number, m: ContactState): void {
    const got = receiveState(this.stores[r]!, m, this.stable());
    // A replica told it is stale gets the receiver's state back, as replication would send it.
    if (got.senderStale) this.pool.push(stateForPeer(this.stores[r]!, m.id, this.stable()));
  }

  step(s: Step): void {
    if (s.kind === 'write') this.write(s.r, patchFor(s.op, IDS[s.c]!, this.stores[s.r]!.get(IDS[s.c]!)), s.blind);
    else if (s.kind === 'deliver' && this.pool.length > 0) this.deliver(s.r, this.pool[s.k % this.pool.length]!);
    else if (s.kind === 'snapshot') this.deliver(s.to, stateForPeer(this.stores[s.from]!, IDS[s.c]!, this.stable()));
    else if (s.kind === 'gc' && this.gc) collectTombstones(this.stores[s.r]!, { stable: this.stable(), frontier: this.frontier() });
  }

  /** Every message to every replica, each in its own random order, some twice. */
  flush(seed: number): void {
    const rng = new SeededRng(seed);
    const all = [...this.pool];
    for (let r = 0; r < this.n; r++) {
      const order = shuffle([...all.keys(), ...all.keys()].filter(() => rng.next() < 0.7).concat([...all.keys()]), rng);
      for (const k of order) this.deliver(r, all[k]!);
    }
  }

  /**
   * With GC on: every replica collects twice (W and K now cover everything,
   * so the fence is taken and then passed), then every old message arrives
   * once more, as from replicas that were away: nothing may come back.
   */
  settle(seed: number): void {
    if (!this.gc) return;
    for (let pass = 0; pass < 2; pass++) for (const s of this.stores) collectTombstones(s, { stable: this.stable(), frontier: this.frontier() });
    const old = [...this.pool];
    shuffle(old, new SeededRng(seed, 1));
    for (let r = 0; r < this.n; r++) for (const m of old) this.deliver(r, m);
  }

  views(id: ContactId): unknown[] {
    return this.stores.map((s) => {
      const st = s.get(id);
      const v = st && view(st);
      return v && { ...v, seen: undefined };
    });
  }
}

function runHistory(h: { n: number; steps: Step[]; seed: number }, gc: boolean): Run {
  const run = new Run(h.n, gc);
  for (const s of h.steps) run.step(s);
  run.flush(h.seed);
  run.settle(h.seed);
  return run;
}

test('join is commutative, associative and idempotent on states from random histories', () => {
  fc.assert(
    fc.property(arbHistory, (h) => {
      const run = new Run(h.n, true);
      h.steps.forEach((s) => run.step(s));
      const [a, b, c] = run.stores.slice(0, 3).map((s) => s.get(IDS[0]!) ?? emptyState(IDS[0]!)) as [ContactState, ContactState, ContactState];
      assert.equal(join(a, b), join(b, a), 'commutative');
      assert.equal(join(join(a, b), c), join(a, join(b, c)), 'associative');
      assert.equal(join(a, a), a, 'idempotent');
      assert.equal(join(join(a, b), b), join(a, b), 'absorbs a repeat');
    }),
    { numRuns: 200 },
  );
});

test('replicas that received the same messages in any order show the same contacts and versions', () => {
  fc.assert(
    fc.property(arbHistory, (h) => {
      const run = runHistory(h, false);
      for (const id of IDS) {
        const views = run.views(id);
        for (const v of views.slice(1)) assert.equal(v, views[0]);
        const versions = run.stores.map((s) => version(s.get(id)!));
        for (const v of versions.slice(1)) assert.is(v, versions[0]);
      }
    }),
    { numRuns: 200 },
  );
});

test('compaction and tombstone collection under the stable vector change nothing a reader sees', () => {
  fc.assert(
    fc.property(arbHistory, (h) => {
      const plain = runHistory(h, false);
      const collected = runHistory(h, true);
      for (const id of IDS) {
        const want = plain.views(id)[0];
        for (const v of collected.views(id)) assert.equal(v, want);
      }
    }),
    { numRuns: 200 },
  );
});

test('joining every delta equals joining the replicas full states', () => {
  fc.assert(
    fc.property(arbHistory, (h) => {
      const run = new Run(h.n, false);
      h.steps.forEach((s) => run.step(s));
      for (const id of IDS) {
        const fromDeltas = run.pool.filter((m) => m.id === id).reduce(join, emptyState(id));
        const fromStates = run.stores.map((s) => s.get(id) ?? emptyState(id)).reduce(join, emptyState(id));
        assert.equal(view(fromStates), view(fromDeltas));
        assert.is(version(fromStates), version(fromDeltas));
      }
    }),
    { numRuns: 200 },
  );
});

test('compaction is a valid inflation: same view and version, and it joins to the same view', () => {
  fc.assert(
    fc.property(arbHistory, (h) => {
      const run = runHistory(h, false);
      const w = vvMeet(run.stores.map((s) => cloudTop(s.applied())));
      for (const id of IDS) {
        const s = run.stores[0]!.get(id)!;
        assert.equal(view(compact(s, w)), view(s));
        assert.is(version(compact(s, w)), version(s), 'versions ignore compaction timing');
        for (const other of run.stores) assert.equal(view(join(compact(s, w), other.get(id)!)), view(s));
      }
    }),
    { numRuns: 100 },
  );
});

test.run();
