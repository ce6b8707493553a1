/**
 * Digest repair at 100,000 items per side: bytes and round trips of the
 * rateless-IBLT session against Negentropy (nostr-tools nip77, 32-byte ids,
 * 4096-byte frames, measured in the same run) and the naive (id, version)
 * list, plus build and decode times.
 *
 * Sets: a shared base, and d differing items split evenly between the sides
 * (so the count gap says nothing). "scattered": differing items are random
 * 64-bit values with random timestamps; "clustered": consecutive integers
 * (structured keys for our hashing) with the newest timestamps (adjacent in
 * Negentropy's order, its best case). Our bytes are cbor-x sizes of every
 * message both ways; Negentropy's are its binary frames both ways.
 */
import { createHash } from 'node:crypto';
import { encode } from 'cbor-x';
import { nip77 } from 'nostr-tools';
import type { Bench, Record } from './harness.ts';
import { ItemSet } from '../../protocol/reconcile/item-set.ts';
import { ReconcileInitiator } from '../../protocol/reconcile/initiator.ts';
import { ReconcileResponder } from '../../protocol/reconcile/responder.ts';
import { runLoopback } from '../../protocol/reconcile/loopback.ts';
import { SymbolArray, encoderOf } from '../../protocol/reconcile/symbols.ts';
import { SeededRng } from '../../protocol/rng.ts';

const N = 100_000;
const NAIVE_PAIR_BYTES = 16; // 8-byte contact id hash + 8-byte version
const T0 = 1_700_000_000;

interface Side {
  items: bigint[];
  stamps: number[];
}

function makeSides(seed: number, d: number, clustered: boolean): [Side, Side] {
  const rng = new SeededRng(seed, d, clustered ? 1 : 0);
  const r64 = () => (BigInt(rng.nextU32()) << 32n) | BigInt(rng.nextU32());
  const common = N - Math.ceil(d / 2);
  const a: Side = { items: [], stamps: [] };
  const b: Side = { items: [], stamps: [] };
  for (let i = 0; i < common; i++) {
    const x = r64();
    a.items.push(x);
    b.items.push(x);
    a.stamps.push(T0 + i);
    b.stamps.push(T0 + i);
  }
  const start = r64() & ~0xffffffn;
  for (let j = 0; j < d; j++) {
    const side = j % 2 === 0 ? b : a;
    side.items.push(clustered ? start + BigInt(j) : r64());
    side.stamps.push(clustered ? T0 + N + j : T0 + rng.int(N));
  }
  return [a, b];
}

/** Our session: bytes both ways, round trips, and the initiator's CPU time. */
function ours(a: Side, b: Side, sid: number): { bytes: number; roundTrips: number; largest: number; initiatorMs: number; found: number } {
  const ini = new ReconcileInitiator(ItemSet.from(a.items), { sid });
  const res = new ReconcileResponder(ItemSet.from(b.items));
  let bytes = 0;
  let largest = 0;
  let initiatorMs = 0;
  const handle = ini.handle.bind(ini);
  ini.handle = (m) => {
    const t = performance.now();
    const out = handle(m);
    initiatorMs += performance.now() - t;
    return out;
  };
  const stats = runLoopback(ini, res, (m) => {
    const size = encode(m).length;
    bytes += size;
    largest = Math.max(largest, size);
  });
  if (ini.phase !== 'done') throw new Error(`session ended ${ini.phase}`);
  const found = ini.result!.localOnly.length + ini.result!.remoteOnly.length;
  return { bytes, roundTrips: stats.roundTrips, largest, initiatorMs, found };
}

/** Negentropy between the same sets: frames both ways, round trips, ids found by either side. */
function negentropy(a: Side, b: Side): { bytes: number; roundTrips: number; found: number } {
  const storage = (s: Side) => {
    const st = new nip77.NegentropyStorageVector();
    for (let i = 0; i < s.items.length; i++) {
      st.insert(s.stamps[i]!, createHash('sha256').update(s.items[i]!.toString(16)).digest('hex'));
    }
    st.seal();
    return st;
  };
  const client = new nip77.Negentropy(storage(a), 4096);
  const server = new nip77.Negentropy(storage(b), 4096);
  const found = new Set<string>();
  const note = (id: string) => found.add(id);
  let msg: string | null = client.initiate();
  let bytes = msg.length / 2;
  let roundTrips = 0;
  while (msg !== null) {
    const reply = server.reconcile(msg, note, note);
    roundTrips++;
    if (reply === null) {
      bytes += 1; // an empty reply still costs its version byte on a real link
      break;
    }
    bytes += reply.length / 2;
    msg = client.reconcile(reply, note, note);
    if (msg !== null) bytes += msg.length / 2;
  }
  return { bytes, roundTrips, found: found.size };
}

/** The targets: digest bytes both ways and round trips, where stated. */
const goals = new Map<number, { bytes?: number; roundTrips?: number }>([
  [0, { bytes: 128, roundTrips: 1 }],
  [1, { bytes: 200 }],
  [10, { bytes: 1_000, roundTrips: 2 }],
  [100, {}],
  [1_000, { bytes: 40_000, roundTrips: 3 }],
]);

function compare(clustered: boolean): Bench {
  const kind = clustered ? 'clustered' : 'scattered';
  return {
    name: `reconcile: 100k items, ${kind}`,
    run(record: Record) {
      for (const [d, goal] of goals) {
        const [a, b] = makeSides(1, d, clustered);
        const neg = negentropy(a, b);
        const me = ours(a, b, 0x5eed0000 + d);
        if (me.found !== d || neg.found !== d) throw new Error(`d ${d}: found ${me.found} (ours), ${neg.found} (negentropy)`);
        record({ name: `d=${d} ${kind}: digest bytes, both ways`, value: me.bytes, unit: 'B', baseline: neg.bytes, goal: goal.bytes });
        record({ name: `d=${d} ${kind}: round trips`, value: me.roundTrips, unit: 'RT', baseline: neg.roundTrips, goal: goal.roundTrips });
        if (d === 0) record({ name: `d=0 ${kind}: largest message`, value: me.largest, unit: 'B', goal: 64 });
      }
      record({ name: `naive (id, version) list, one way`, value: N * NAIVE_PAIR_BYTES, unit: 'B' });
    },
  };
}

/** Worst case over many seeds, where a single run could be lucky. */
const tails: Bench = {
  name: 'reconcile: tails over 20 seeds, scattered',
  run(record) {
    for (const [d, goal] of [[10, goals.get(10)!], [1_000, goals.get(1_000)!]] as const) {
      let maxBytes = 0;
      let maxRoundTrips = 0;
      for (let seed = 100; seed < 120; seed++) {
        const [a, b] = makeSides(seed, d, false);
        const me = ours(a, b, seed);
        maxBytes = Math.max(maxBytes, me.bytes);
        maxRoundTrips = Math.max(maxRoundTrips, me.roundTrips);
      }
      record({ name: `d=${d}: worst bytes of 20 seeds`, value: maxBytes, unit: 'B', goal: goal.bytes });
      record({ name: `d=${d}: worst round trips of 20 seeds`, value: maxRoundTrips, unit: 'RT', goal: goal.roundTrips });
    }
  },
};

const large: Bench = {
  name: 'reconcile: large differences (fallback)',
  run(record) {
    const cases: [string, Side, Side][] = [];
    const [a, b] = makeSides(2, 50_000, false);
    cases.push(['d=50,000', a, b]);
    cases.push(['initiator empty', { items: [], stamps: [] }, b]);
    cases.push(['responder empty', b, { items: [], stamps: [] }]);
    for (const [label, x, y] of cases) {
      const me = ours(x, y, 0xbeef);
      const naive = NAIVE_PAIR_BYTES * Math.max(x.items.length, y.items.length);
      record({ name: `${label}: digest bytes, both ways (baseline: naive list)`, value: me.bytes, unit: 'B', baseline: naive });
      record({ name: `${label}: round trips (32 datagrams per flight)`, value: me.roundTrips, unit: 'RT' });
      record({ name: `${label}: largest message`, value: me.largest, unit: 'B', goal: 1400 });
    }
  },
};

function medianMs(f: () => void, runs = 5): number {
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    f();
    xs.push(performance.now() - t);
  }
  return xs.sort((p, q) => p - q)[runs >> 1]!;
}

const timing: Bench = {
  name: 'reconcile: build and decode time',
  run(record) {
    const [a, b] = makeSides(3, 1_000, false);
    const items = BigUint64Array.from(a.items);
    record({ name: 'ItemSet.from 100,000 items (sort, digest)', value: medianMs(() => ItemSet.from(items)), unit: 'ms' });
    const set = ItemSet.from(items);
    record({ name: 'symbol source for 100,000 items (per-session salt)', value: medianMs(() => encoderOf(set, 1)), unit: 'ms' });
    record({ name: 'first 4 symbols of 100,000 items', value: medianMs(() => encoderOf(set, 1).extend(4, new SymbolArray())), unit: 'ms' });
    record({ name: 'first 1,500 symbols of 100,000 items', value: medianMs(() => encoderOf(set, 1).extend(1_500, new SymbolArray())), unit: 'ms' });
    const runs = [1, 2, 3, 4, 5].map((sid) => ours(a, b, sid).initiatorMs);
    record({ name: 'decode 1,000 differences: initiator CPU per session', value: runs.sort((p, q) => p - q)[2]!, unit: 'ms' });
  },
};

export default [compare(false), compare(true), tails, large, timing] satisfies Bench[];
