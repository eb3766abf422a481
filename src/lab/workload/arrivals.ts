import type { Rng } from "./rng.ts";

export type ArrivalProcess = "constant" | "poisson";

export interface ArrivalSchedule {
  /** Operations per second. */
  rate: number;
  arrival: ArrivalProcess;
  durationMs: number;
}

/**
 * The *intended* send times of an open-loop workload, in ms from its start, strictly before
 * `durationMs`. They depend only on the schedule and the RNG — never on how fast the system
 * answers — which is what makes the workload open-loop.
 *
 * - `constant`: one arrival every 1000/rate ms starting at 0, so exactly ⌈rate × duration⌉ arrivals.
 * - `poisson`: exponentially distributed gaps with mean 1000/rate ms (count ≈ rate × duration,
 *   standard deviation √(rate × duration)).
 */
export function* arrivalTimes(schedule: ArrivalSchedule, rng: Rng): Generator<number> {
  const { rate, arrival, durationMs } = schedule;
  if (!(rate > 0) || !Number.isFinite(rate)) throw new Error(`rate must be a positive number, got ${rate}`);
  if (!(durationMs >= 0)) throw new Error(`durationMs must be ≥ 0, got ${durationMs}`);
  const gap = 1000 / rate;
  if (arrival === "constant") {
    for (let i = 0; ; i++) {
      // Compared as i × 1000 < rate × duration (exact for whole numbers) and computed as i × 1000 / rate,
      // not a running sum: no floating-point drift, no off-by-one at the end.
      if (i * 1000 >= rate * durationMs) return;
      yield (i * 1000) / rate;
    }
  }
  let at = rng.exponential(gap);
  while (at < durationMs) {
    yield at;
    at += rng.exponential(gap);
  }
}
