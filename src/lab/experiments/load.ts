import type { Experiment } from "./schema.ts";

/**
 * Real load (docs/architecture.md §Scenarios): an experiment's rate may be a share of the capacity
 * `verify` measured (`rate: 40%` = orders at 40 % of the orders/s the shop confirmed at its knee), and
 * its stock a share of the demand its hot SKUs will see (`stockPerSku: 50%` = half of what the run
 * orders of each hot SKU), so every run sells out at the same point of its schedule on any machine.
 */

/** A rate or stock as written: absolute, or a share (0.4 for `40%`). */
export type Amount = number | { share: number };

/** The workload with its rate (arrivals/s) and stock (units per hot SKU) resolved to numbers. */
export interface ResolvedLoad {
  /** Arrivals per second, all kinds. */
  rate: number;
  stockPerSku: number;
  /** The measured capacity a share was taken of, orders/s; undefined when every figure was absolute. */
  capacity?: number;
  /** Expected units ordered of each hot SKU over the whole run (overload bursts included, retries not). */
  hotDemandPerSku: number;
}

/** Share of SKU picks that go to a hot SKU: the workload planner's default (workload/operations.ts). */
export const HOT_SHARE = 0.9;

export function usesCapacity(experiment: Experiment): boolean {
  return typeof experiment.workload.rate !== "number";
}

/** Orders among all arrivals, from the mix weights. */
export function orderShare(workload: Experiment["workload"]): number {
  const { order, orderRead, catalogRead } = workload.mix;
  const total = order + orderRead + catalogRead;
  return total === 0 ? 0 : order / total;
}

/**
 * Units of one hot SKU an order carries on average: its first item is hot with HOT_SHARE, and a
 * two-item order's second (a distinct SKU) is hot with about the same chance.
 */
export function hotUnitsPerOrder(workload: Experiment["workload"]): number {
  return (HOT_SHARE * (1 + workload.multiItemShare)) / workload.hotSkus;
}

export function resolveLoad(experiment: Experiment, capacity: number | undefined): ResolvedLoad {
  const { workload } = experiment;
  const orders = orderShare(workload);
  let rate: number;
  if (typeof workload.rate === "number") rate = workload.rate;
  else {
    if (capacity === undefined || !(capacity > 0)) {
      throw new Error(`${experiment.name}: its rate is a share of the capacity, which was not measured`);
    }
    if (orders === 0)
      throw new Error(`${experiment.name}: a rate relative to capacity needs orders in the mix`);
    rate = (workload.rate.share * capacity) / orders;
  }
  const hotDemandPerSku = ((rate * demandMs(experiment)) / 1000) * orders * hotUnitsPerOrder(workload);
  const stockPerSku =
    typeof workload.stockPerSku === "number"
      ? workload.stockPerSku
      : Math.max(1, Math.round(workload.stockPerSku.share * hotDemandPerSku));
  return {
    rate: Math.round(rate * 10) / 10,
    stockPerSku,
    hotDemandPerSku,
    ...(typeof workload.rate === "number" ? {} : { capacity }),
  };
}

/** The run's length in milliseconds at its steady rate, plus what its overload bursts add. */
function demandMs(experiment: Experiment): number {
  let ms = experiment.workload.duration;
  for (const fault of experiment.faults) {
    const factor = (fault as { factor?: unknown }).factor;
    if (fault.action === "overload" && typeof factor === "number" && fault.duration !== undefined) {
      ms += (factor - 1) * fault.duration;
    }
  }
  return ms;
}
