import type { HistoryOp } from "../history/op.ts";
import { noDuplicate, noLostAck, noPhantom } from "./acknowledged-orders.ts";
import { type Check, notChecked } from "./check.ts";
import { type Checker, runChecker } from "./checker.ts";
import { noFalseSoldOut } from "./false-sold-out.ts";
import { conservation } from "./inventory-ledger.ts";
import { money } from "./money.ts";
import type { FinalState, Unreadable } from "./observed.ts";
import { orderCoverage } from "./order-coverage.ts";
import { isRegional, type RegionalFinalState, regionHistory, runCrossRegionCheck } from "./regional.ts";
import { CROSS_REGION_CHECKERS } from "./regions.ts";
import { noLostReservation } from "./reservations-kept.ts";
import { noOversell } from "./sold-matches-orders.ts";
import { noStrandedStock } from "./stranded-stock.ts";
import { terminalSagas } from "./terminal-sagas.ts";

/**
 * Every checker, in report order: the experiment schema (CHECK_NAMES), runChecks and the report read
 * this list. A new checker is one file and one line here.
 */
export const CHECKERS = [
  noOversell,
  conservation,
  noLostAck,
  noPhantom,
  noDuplicate,
  terminalSagas,
  money,
  noLostReservation,
  orderCoverage,
  noStrandedStock,
  noFalseSoldOut,
] as const;

export type CheckName = (typeof CHECKERS)[number]["name"];

export const CHECK_NAMES = CHECKERS.map((c) => c.name) as [CheckName, ...CheckName[]];

/** Checks of a run on several regions that judge all regions at once (regions.ts). */
export const CROSS_REGION_CHECK_NAMES = CROSS_REGION_CHECKERS.map((c) => c.name);

export function checkerNamed(name: string): Checker | undefined {
  return CHECKERS.find((c) => c.name === name) as Checker | undefined;
}

/**
 * Runs the named checks (docs/architecture.md §Invariants) over a history and final state, each through the checker
 * protocol. Pure: the runner and `chaoscart check` (a saved run) both call it. A check whose input was
 * not observed, or whose checker threw, is "not checked": an empty observation must never pass.
 * On several regions each single-region check runs once per region, named `<region>/<check>`
 * (regional.ts), and each cross-region check once.
 */
export function runChecks(
  names: readonly string[],
  history: readonly HistoryOp[],
  final: FinalState | RegionalFinalState | Unreadable,
): Check[] {
  if (isRegional(final)) return runRegionalChecks(names, history, final);
  return names.map((name) => {
    const checker = checkerNamed(name);
    if (checker) return runChecker(checker, history, final);
    if ((CROSS_REGION_CHECK_NAMES as readonly string[]).includes(name))
      return notChecked(name, "a single-region run: no other region to compare with");
    return notChecked(name, "no checker by this name");
  });
}

/** What holds when the named check passes (a per-region result `<region>/<check>` included). */
export function holdsOf(name: string): string | undefined {
  const bare = name.slice(name.indexOf("/") + 1);
  return checkerNamed(bare)?.holds ?? CROSS_REGION_CHECKERS.find((c) => c.name === bare)?.holds;
}

function runRegionalChecks(
  names: readonly string[],
  history: readonly HistoryOp[],
  final: RegionalFinalState,
): Check[] {
  const regionNames = final.regions.map((r) => r.name);
  const histories = new Map(regionNames.map((r) => [r, regionHistory(history, r, regionNames)]));
  return names.flatMap((name) => {
    const checker = checkerNamed(name);
    if (!checker) return [runCrossRegionCheck(name, final.crossRegion)];
    return final.regions.map((region) => ({
      ...runChecker(checker, histories.get(region.name) ?? [], region.final),
      name: `${region.name}/${name}`,
    }));
  });
}
