/**
 * How fast the simulator itself runs, measured with the toy core in 'echo'
 * mode (each node pings a random peer every 200 ms and is answered: the load
 * shape of a SWIM probe round) on 1–5 ms links with 1% loss. The two shapes
 * are the heaviest the SWIM scenarios use: 1,000 nodes for 30 virtual
 * seconds, and 100 nodes for one virtual hour. A step is one agenda entry
 * (a delivery or a timer). The goal is on wall time: the engine with a
 * trivial core should use at most a sixth of the minute a SWIM scenario of
 * that shape may take, leaving the rest to the real core.
 */
import { nodeAddress, Simulation } from '../sim/sim.ts';
import { toyFactory } from '../sim/toy-node.ts';
import type { Bench, Record } from './harness.ts';

function measure(record: Record, label: string, nodes: number, virtualMs: number, goalWallS: number): void {
  const peers = Array.from({ length: nodes }, (_, i) => nodeAddress(i));
  const sim = new Simulation({
    seed: 1,
    nodes,
    quiet: true,
    network: { lossRate: 0.01 },
    factory: toyFactory({ mode: 'echo', peers, tickMs: 200, payloadBytes: 100 }),
  });
  const started = performance.now();
  sim.runFor(virtualMs);
  const wallMs = performance.now() - started;
  const totals = sim.totals();
  record({ name: `${label}: wall time`, value: wallMs / 1000, unit: 's', goal: goalWallS });
  record({ name: `${label}: datagrams delivered`, value: totals.receivedDatagrams, unit: 'datagrams' });
  record({ name: `${label}: steps per second`, value: Math.round((totals.steps / wallMs) * 1000), unit: 'steps/s' });
  record({ name: `${label}: virtual time per wall time`, value: virtualMs / wallMs, unit: 'x' });
}

const benches: Bench[] = [
  { name: 'sim-engine 1000 nodes x 30 s', run: (record) => measure(record, '1000 nodes x 30 s', 1000, 30_000, 10) },
  { name: 'sim-engine 100 nodes x 1 h', run: (record) => measure(record, '100 nodes x 1 h', 100, 3_600_000, 10) },
];

export default benches;
