import { checkNoDuplicate, checkNoLostAck, checkNoPhantom } from "../checkers/acknowledged-orders.ts";
import { type Check, checkFrom, notChecked } from "../checkers/check.ts";
import { checkInventoryLedger } from "../checkers/inventory-ledger.ts";
import { checkMoney } from "../checkers/money.ts";
import { checkOrderCoverage } from "../checkers/order-coverage.ts";
import { checkNoLostReservation } from "../checkers/reservations-kept.ts";
import { checkSoldMatchesOrders } from "../checkers/sold-matches-orders.ts";
import { checkTerminalSagas } from "../checkers/terminal-sagas.ts";
import type { HistoryOp } from "../history/op.ts";
import { type FinalState, isUnreadable, type Unreadable } from "./final-state.ts";
import type { Experiment } from "./schema.ts";

type Name = Experiment["checks"][number];
type SourceName = "orders" | "inventory" | "payments";

/** The final-state sources each check reads; an unreadable one makes only its checks "not checked". */
const NEEDS: Record<Name, readonly SourceName[]> = {
  "no-oversell": ["orders", "inventory"],
  conservation: ["inventory"],
  "no-lost-ack": ["orders"],
  "no-phantom": ["orders"],
  "no-duplicate": ["orders"],
  "terminal-sagas": ["orders", "inventory"],
  money: ["orders", "payments"],
  "no-lost-reservation": ["orders", "inventory"],
  "order-coverage": ["orders", "inventory"],
};

/**
 * Runs the experiment's checks (DESIGN §2) over its history and final state. Pure. A check whose
 * input was not observed (a source unreadable, or no stock row for SKUs the run used) is
 * "not checked": an empty observation must never pass.
 */
export function runChecks(
  names: Experiment["checks"],
  history: readonly HistoryOp[],
  final: FinalState | Unreadable,
): Check[] {
  return names.map((name) => {
    if (isUnreadable(final)) return notChecked(name, `final state unreadable: ${final.error}`);
    const needs = NEEDS[name];
    if (!needs) return notChecked(name, "no checker by this name");
    for (const source of needs) {
      const value = final[source];
      if (isUnreadable(value)) return notChecked(name, `${source} unreadable: ${value.error}`);
    }
    const { orders, inventory, payments } = final as {
      [K in SourceName]: Exclude<FinalState[K], Unreadable>;
    };
    if (needs.includes("inventory")) {
      const why = stockUnobserved(final.skus, orders, inventory.stock);
      if (why) return notChecked(name, why);
    }
    switch (name) {
      case "no-oversell":
        return checkFrom(
          name,
          checkSoldMatchesOrders(orders, inventory.stock),
          "sold ≤ stock, sold = Σ CONFIRMED",
        );
      case "conservation":
        return checkFrom(
          name,
          checkInventoryLedger(inventory),
          "available + reserved + sold = quota; ledger agrees",
        );
      case "no-lost-ack":
        return checkFrom(
          name,
          checkNoLostAck(history, orders),
          "every order given to a client exists; every outcome it saw is final",
        );
      case "no-phantom":
        return checkFrom(name, checkNoPhantom(history, orders), "every order traces back to a request");
      case "no-duplicate":
        return checkFrom(name, checkNoDuplicate(history, orders), "one order per idempotency key, ever");
      case "terminal-sagas":
        return checkFrom(
          name,
          checkTerminalSagas(orders, inventory.stock),
          "every saga terminal, nothing reserved",
        );
      case "no-lost-reservation":
        return checkFrom(
          name,
          checkNoLostReservation(orders, inventory.reservations),
          "every acknowledged reservation is stored",
        );
      case "order-coverage":
        return checkFrom(
          name,
          checkOrderCoverage(orders, inventory.reservations),
          "CONFIRMED ⇒ every item COMMITTED; CANCELLED ⇒ none",
        );
      case "money":
        return checkFrom(
          name,
          checkMoney(orders, payments),
          "CONFIRMED ⇒ one capture; CANCELLED ⇒ none kept, no open hold",
        );
      default:
        return notChecked(name, "no checker by this name");
    }
  });
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
