/**
 * Greedy shrinking of a failing fault schedule (`verify --explore`): drop one fault at a time, re-run,
 * keep the smaller schedule when it still fails. Each re-run is a whole experiment (about 40 s), so the
 * number of re-runs is bounded by a budget; what is left when it runs out is the smallest schedule seen
 * to fail.
 */

/** The schedules `faults` minus one fault each, in order: the candidates of one shrinking step. */
export function dropOne<T>(faults: readonly T[]): T[][] {
  return faults.map((_, i) => faults.filter((_, j) => j !== i));
}

export interface Shrunk<T> {
  faults: T[];
  /** Re-runs spent. */
  runs: number;
  /** Whether every candidate of `faults` was tried (a local minimum) or the budget ran out first. */
  minimal: boolean;
}

/**
 * Tries the candidates of the current schedule in order; the first that still fails becomes the
 * current schedule and shrinking starts again from it. Stops at a schedule none of whose candidates
 * fails, or when `budget` re-runs are spent.
 */
export async function shrinkSchedule<T>(
  faults: readonly T[],
  stillFails: (candidate: T[]) => Promise<boolean>,
  budget: number,
): Promise<Shrunk<T>> {
  let current = [...faults];
  let runs = 0;
  let next = 0; // candidates before `next` of the current schedule were tried and passed
  while (next < current.length) {
    if (runs >= budget) return { faults: current, runs, minimal: false };
    const candidate = dropOne(current)[next] as T[];
    runs++;
    if (await stillFails(candidate)) {
      current = candidate;
      // Earlier candidates passed with this fault in; without it they are new schedules: retry all.
      next = 0;
    } else {
      next++;
    }
  }
  return { faults: current, runs, minimal: true };
}
