/**
 * Key rotation under faults on the simulator, on top of the replication
 * scenario (replication-scenarios.ts: random writes, loss, duplication,
 * partitions, crashes, restarts; then heal and check every write).
 *
 * How this works: every node starts with key K1 in its key file (and keeps
 * it there, as a deployment would). A minute in, an operator rotates to K2
 * as Serf does, through the commands at whichever node is up, retrying
 * every 2 s while the command is refused: install K2, use K2 (refused until
 * every member not dead or left holds it), remove K1 (refused until every
 * such member seals with K2). On top of the scenario's random faults, one
 * node crashes just before the install and stays down past the removal,
 * and another is cut off alone for a minute from the moment of the
 * install. Nodes that were dead through the removal and never got K2 are
 * locked out, and must be told why: the operator, reading the key-alert, gives
 * such a node K2 (its key file) and restarts it 10 s later. After the heal,
 * the replication checks run, and every node must hold K2 only.
 */
import type { ClusterNode } from '../../protocol/node.ts';
import type { KeyId } from '../../protocol/security/envelope.ts';
import { keyIdOf } from '../../protocol/security/keyring.ts';
import { replicationUnderFaults, sameEverywhere } from './replication-scenarios.ts';
import { simCrypto } from './sim-crypto.ts';
import { range } from './membership-harness.ts';
import type { Simulation } from './sim.ts';

export const K1 = new Uint8Array(32).fill(0x11);
export const K2 = new Uint8Array(32).fill(0x22);

export interface RotationRun {
  seed: number;
  writes: number;
  convergedAfterHealMs: number | undefined;
  failures: string[];
  /** Virtual ms from the install to the removal of K1. */
  rotationMs: number | undefined;
  /** Commands refused (not-confirmed) before they went through. */
  refusals: number;
  /** Nodes locked out by the rotation (re-keyed by the operator after the heal). */
  lockedOut: number[];
}

export function rotationUnderFaults(seed: number, minutes = 6): RotationRun {
  const n = 7;
  const keyFile = new Map<number, Uint8Array>(range(n).map((i) => [i, K1]));
  const alerts = new Map<number, number>();
  const k1 = keyIdOf(simCrypto, K1);
  const k2 = keyIdOf(simCrypto, K2);
  let step: 'install' | 'use' | 'remove' | 'done' = 'install';
  let installedAt = 0;
  let removedAt: number | undefined;
  let refusals = 0;
  const lockedOut: number[] = [];

  /** One attempt at the current step, at a random running node; again in 2 s unless done. */
  const attempt = (sim: Simulation<ClusterNode>, k: number): void => {
    const up = sim.liveIndices().filter((i) => !sim.isPaused(i));
    if (up.length > 0 && step !== 'done') {
      sim.poke(up[k % up.length]!, (core) => {
        const security = core.security!;
        const r = step === 'install' ? security.installKey(K2) : step === 'use' ? security.useKey(k2) : security.removeKey(k1);
        if (r.ok || (step === 'install' && r.code === 'exists')) {
          if (step === 'install') installedAt = sim.now;
          if (step === 'remove') removedAt = sim.now;
          step = step === 'install' ? 'use' : step === 'use' ? 'remove' : 'done';
        } else if (r.code === 'not-confirmed' || r.code === 'is-primary' || (step === 'use' && r.code === 'not-installed')) {
          refusals++; // not everyone there yet, or the last command has not reached this node: retry, as an operator would
        } else throw new Error(`${step} refused: ${r.code}: ${r.message}`);
      });
    }
    if ((step as string) !== 'done') sim.after(2_000, () => attempt(sim, k + 1));
  };

  const run = replicationUnderFaults({
    seed,
    minutes,
    security: (ctx) => ({ crypto: simCrypto, keyFileKey: keyFile.get(ctx.index)! }),
    script: (sim, start, end) => {
      sim.onEvent((e, i) => {
        if (e.type !== 'key-alert') return;
        alerts.set(i, (alerts.get(i) ?? 0) + 1);
        // Locked out: it cannot read the cluster's primary. The operator hands it the current key.
        if ((step as string) === 'done' && e.keyId === k2 && keyFile.get(i) !== K2) {
          keyFile.set(i, K2);
          lockedOut.push(i);
          sim.after(10_000, () => {
            // Down by then (a fault)? Its next start, whoever makes it, reads the new key file.
            if (!sim.isAlive(i)) return;
            sim.crash(i);
            sim.restart(i);
          });
        }
      });
      const crashed = 1 + (seed % (n - 1));
      const cut = 1 + ((seed + 3) % (n - 1));
      let crashedByUs = false;
      sim.at(start + 50_000, () => {
        if (sim.isAlive(crashed)) (sim.crash(crashed), (crashedByUs = true));
      });
      sim.at(end - 60_000, () => {
        if (crashedByUs && !sim.isAlive(crashed)) sim.restart(crashed);
      });
      if (cut !== crashed) {
        sim.at(start + 60_000, () => sim.network.partition([[cut], range(n).filter((i) => i !== cut)]));
        sim.at(start + 120_000, () => sim.network.heal());
      }
      sim.at(start + 60_000, () => attempt(sim, 0));
    },
    afterHeal: (sim) => {
      // The rotation finishes once everyone is back, if faults held it up.
      sim.runUntilCondition(() => step === 'done', 120_000, 500);
      // Members that hold K2 catch up by themselves; the rest are told why they cannot (and re-keyed above).
      sim.runFor(30_000);
      for (const i of range(n)) {
        if (!sim.core(i)!.security!.keyring.key(k2)) throw new Error(`node ${i} cannot rejoin and was never told why (no key-alert)`);
      }
    },
    convergeWithinMs: 120_000,
  });

  const failures = [...run.failures];
  if (process.env.DEBUGROT) for (const i of range(n)) { const c = run.sim.core(i)!; console.log(i, c.replication.digestItems().length, JSON.stringify(c.membership.members().map((m) => m.state[0])), c.security!.keyring.ids(), c.security!.keyring.primary()!.id, JSON.stringify(c.stats.dropped), c.security!.packets.epoch, JSON.stringify(c.replication.stats)); }
  if ((step as string) !== 'done') failures.push(`the rotation did not finish (stuck at ${step})`);
  for (const i of range(n)) {
    const ring = run.sim.core(i)?.security?.keyring;
    if (!ring) continue;
    const ids = ring.ids();
    if (ring.primary()?.id !== k2 || ids.length !== 1 || ids[0] !== (k2 as KeyId)) failures.push(`node ${i} holds ${ids.join(',')} sealing with ${ring.primary()?.id}, not K2 alone`);
    if (!ring.isRemoved(k1)) failures.push(`node ${i} does not know K1 was removed`);
  }
  return {
    seed, writes: run.writes, convergedAfterHealMs: run.convergedAfterHealMs, failures,
    rotationMs: removedAt === undefined ? undefined : removedAt - installedAt, refusals, lockedOut,
  };
}
