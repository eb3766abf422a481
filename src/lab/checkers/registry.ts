import type { HistoryOp } from "../history/op.ts";
import { noDuplicate, noLostAck, noPhantom } from "./acknowledged-orders.ts";
import { type Check, notChecked } from "./check.ts";
import { type Checker, runChecker } from "./checker.ts";
import { noFalseSoldOut } from "./false-sold-out.ts";
import { conservation } from "./inventory-ledger.ts";
import { money } from "./money.ts";
import type { FinalState, Unreadable } from "./observed.ts";
import { orderCoverage } from "./order-coverage.ts";
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

export function checkerNamed(name: string): Checker | undefined {
  return CHECKERS.find((c) => c.name === name) as Checker | undefined;
}

/**
 * Runs the named checks (docs/architecture.md §Invariants) over a history and final state, each through the checker
 * protocol. Pure: the runner and `chaoscart check` (a saved run) both call it. A check whose input was
 * not observed, or whose checker threw, is "not checked": an empty observation must never pass.
 */
export function runChecks(
  names: readonly string[],
  history: readonly HistoryOp[],
  final: FinalState | Unreadable,
): Check[] {
  return names.map((name) => {
    const checker = checkerNamed(name);
    return checker ? runChecker(checker, history, final) : notChecked(name, "no checker by this name");
  });
}
