import type { HistoryOp } from "../history/op.ts";
import { type Check, type CheckResult, checkFrom, notChecked } from "./check.ts";
import {
  type FinalState,
  isUnreadable,
  type Observed,
  type SourceName,
  type Unreadable,
} from "./observed.ts";

/**
 * The checker protocol (Jepsen's checker role): a pure function of a run's history and final state.
 * It never reads the database or the network, so a saved run can be re-checked later
 * (`chaoscart check <run-dir>`). Adding a checker: one file exporting a `Checker`, one line in
 * registry.ts.
 */
export interface Checker<Name extends string = string, N extends SourceName = SourceName> {
  /** Stable id, e.g. "no-oversell", used in experiment files, result.json and JUnit. */
  name: Name;
  /** What holds when it passes: the one-line detail of a pass, and the report's description. */
  holds: string;
  /** The final-state sources it reads; an unreadable one makes it "not checked". */
  needs: readonly N[];
  /**
   * pass (`valid`), fail (`problems` are the examples found), or unknown: `{ notChecked: why }` when
   * what it needs to see was not observed. Unknown is never a pass.
   */
  check(history: readonly HistoryOp[], final: Observed<N>): CheckResult | { notChecked: string };
}

/** Keeps a checker's name literal, so the registry's names type the experiment schema. */
export function defineChecker<const Name extends string, N extends SourceName>(
  checker: Checker<Name, N>,
): Checker<Name, N> {
  return checker;
}

/**
 * Runs one checker and turns everything but a verdict into "not checked" with the reason: a source it
 * needs unreadable, no stock row for the SKUs the run used, or the checker throwing.
 */
export function runChecker(
  checker: Checker,
  history: readonly HistoryOp[],
  final: FinalState | Unreadable,
): Check {
  const { name } = checker;
  if (isUnreadable(final)) return notChecked(name, `final state unreadable: ${final.error}`);
  for (const source of checker.needs) {
    const value = final[source];
    if (isUnreadable(value)) return notChecked(name, `${source} unreadable: ${value.error}`);
  }
  const observed = final as Observed;
  if (checker.needs.includes("inventory")) {
    const orders = isUnreadable(final.orders) ? [] : final.orders;
    const why = stockUnobserved(final.skus, orders, observed.inventory.stock);
    if (why) return notChecked(name, why);
  }
  try {
    const result = checker.check(history, observed);
    return "notChecked" in result
      ? notChecked(name, result.notChecked)
      : checkFrom(name, result, checker.holds);
  } catch (error) {
    return notChecked(name, `the checker threw: ${(error as Error)?.message ?? String(error)}`);
  }
}

/**
 * Why the inventory was not observed, if it was not: no stock row of a SKU the experiment seeded or
 * an order holds (a wrong region or SKU names reads nothing, and nothing observed is not a pass).
 */
function stockUnobserved(
  skus: readonly string[],
  orders: readonly { items: readonly { sku: string }[] }[],
  stock: readonly { sku: string }[],
): string | undefined {
  const read = new Set(stock.map((s) => s.sku));
  const wanted = new Set([...skus, ...orders.flatMap((o) => o.items.map((i) => i.sku))]);
  const missing = [...wanted].filter((sku) => !read.has(sku));
  if (missing.length > 0) {
    const list = missing.slice(0, 5).join(", ") + (missing.length > 5 ? ", …" : "");
    return `no stock row read for ${missing.length} SKU(s) the run used (${list}): wrong region or SKU names?`;
  }
  if (read.size === 0 && orders.length > 0) return "no stock row read while the run has orders";
  return undefined;
}
