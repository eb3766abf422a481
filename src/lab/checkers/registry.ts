import { noDuplicate, noLostAck, noPhantom } from "./acknowledged-orders.ts";
import type { Checker } from "./checker.ts";
import { conservation } from "./inventory-ledger.ts";
import { money } from "./money.ts";
import { orderCoverage } from "./order-coverage.ts";
import { noLostReservation } from "./reservations-kept.ts";
import { noOversell } from "./sold-matches-orders.ts";
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
] as const;

export type CheckName = (typeof CHECKERS)[number]["name"];

export const CHECK_NAMES = CHECKERS.map((c) => c.name) as [CheckName, ...CheckName[]];

export function checkerNamed(name: string): Checker | undefined {
  return CHECKERS.find((c) => c.name === name) as Checker | undefined;
}
