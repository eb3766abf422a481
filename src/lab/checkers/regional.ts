import { SlotTable } from "../../shop/gateway/routing.ts";
import type { HistoryOp } from "../history/op.ts";
import { type Check, checkFrom, notChecked } from "./check.ts";
import { type FinalState, isUnreadable, type Source, type Unreadable } from "./observed.ts";
import { CROSS_REGION_CHECKERS, type RegionState } from "./regions.ts";

/**
 * The final state of a run on several regions (docs/architecture.md §Regions). Each region sells its
 * own stock, keeps its own ledger and has its own payment provider, so the single-region checks are
 * judged per region on that region's part of the history (its users' operations) and final state,
 * and reported as `<region>/<check>`; the cross-region checks (regions.ts) judge all regions at once.
 */
export interface RegionalFinalState {
  /** In the order the lab launched them: users are homed by `SlotTable.even(names)`. */
  regions: { name: string; final: FinalState | Unreadable }[];
  /** Every region's orders, copies included, conflict log and provider, read once replication settled. */
  crossRegion: Source<RegionState[]>;
}

export function isRegional(final: unknown): final is RegionalFinalState {
  return typeof final === "object" && final !== null && "crossRegion" in final && "regions" in final;
}

/**
 * One region's part of a history: the operations of users homed there, with every nemesis and probe
 * op. Catalog reads belong to no region and are left out (no checker reads them).
 */
export function regionHistory(
  history: readonly HistoryOp[],
  region: string,
  regions: readonly string[],
): HistoryOp[] {
  const table = SlotTable.even(regions);
  const homes = new Map<number, string>();
  for (const op of history) {
    if (op.process !== "client" || op.type !== "invoke" || op.kind === "catalog-read") continue;
    const { userId } = op.value;
    if (userId !== undefined) homes.set(op.id, table.regionForUser(userId));
  }
  return history.filter((op) => op.process !== "client" || homes.get(op.id) === region);
}

/** A cross-region check over the regions' states, or "not checked" when they were not all read. */
export function runCrossRegionCheck(name: string, states: Source<RegionState[]>): Check {
  const checker = CROSS_REGION_CHECKERS.find((c) => c.name === name);
  if (!checker) return notChecked(name, "no checker by this name");
  if (isUnreadable(states)) return notChecked(name, `regions unreadable: ${states.error}`);
  if (states.length < 2) return notChecked(name, `${states.length} region(s) read: nothing to compare`);
  if (states.every((s) => s.orders.length === 0)) return notChecked(name, "no order in any region");
  try {
    return checkFrom(name, checker.check(states), checker.holds);
  } catch (error) {
    return notChecked(name, `the checker threw: ${(error as Error)?.message ?? String(error)}`);
  }
}
