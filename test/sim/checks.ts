/**
 * What failure looks like in the simulator: checks registered for the end
 * of a scenario, and the two error types.
 *
 * How this works: a scenario registers named checks (`add`) as it sets up
 * (say "every live node sees every other as alive" or "no acknowledged write
 * is missing"). `run` calls every one of them, collects every failure rather
 * than stopping at the first (a whole-cluster picture is what debugging
 * wants), and throws one SimCheckError whose message starts with the seed,
 * the virtual time, and the names and messages of the failed checks. A check
 * fails by throwing, or by returning `false` or a string (the message).
 */

/** Misuse of the simulator by a test: a configuration that cannot mean anything, an impossible fault. */
export class SimUsageError extends Error {
  override name = 'SimUsageError';
}

/** A scenario's checks or invariants failed; `seed` replays the run. */
export class SimCheckError extends Error {
  override name = 'SimCheckError';
  constructor(
    readonly seed: number,
    readonly nowMs: number,
    readonly failures: readonly string[],
  ) {
    super(`seed=${seed} t=${nowMs}ms: ${failures.length} check(s) failed:\n  ${failures.join('\n  ')}`);
  }
}

/** A check: throw, return false, or return a message to fail; anything else passes. */
export type Check = () => unknown;

/** Named end-of-scenario checks; see the file comment. */
export class Checks {
  private readonly checks: { name: string; check: Check }[] = [];

  /** `where()` gives the seed and virtual time to report. */
  constructor(private readonly where: () => { seed: number; nowMs: number }) {}

  /** Registers `check` under `name`, to run at `run()`. */
  add(name: string, check: Check): void {
    this.checks.push({ name, check });
  }

  /** Number of registered checks. */
  get size(): number {
    return this.checks.length;
  }

  /** Runs every check; throws one SimCheckError listing all that failed. */
  run(): void {
    const failures: string[] = [];
    for (const { name, check } of this.checks) {
      const message = outcome(check);
      if (message !== undefined) failures.push(`${name}: ${message}`);
    }
    if (failures.length > 0) this.fail(failures);
  }

  /** Throws a SimCheckError for `failures` at the current seed and time. */
  fail(failures: readonly string[]): never {
    const { seed, nowMs } = this.where();
    throw new SimCheckError(seed, nowMs, failures);
  }
}

function outcome(check: Check): string | undefined {
  try {
    const result = check();
    if (result === false) return 'returned false';
    if (typeof result === 'string') return result;
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
