import { checkNoDuplicate, checkNoLostAck, checkNoPhantom } from "../checkers/acknowledged-orders.ts";
import { type Check, checkFrom, notChecked } from "../checkers/check.ts";
import { checkInventoryLedger } from "../checkers/inventory-ledger.ts";
import { checkMoney } from "../checkers/money.ts";
import { checkNoLostReservation } from "../checkers/reservations-kept.ts";
import { checkSoldMatchesOrders } from "../checkers/sold-matches-orders.ts";
import { checkTerminalSagas } from "../checkers/terminal-sagas.ts";
import type { HistoryOp } from "../history/op.ts";
import type { FinalState } from "./final-state.ts";
import type { Experiment } from "./schema.ts";

/** Runs the experiment's checks (DESIGN §2) over its history and final state. */
export function runChecks(
  names: Experiment["checks"],
  history: readonly HistoryOp[],
  final: FinalState | { error: string },
): Check[] {
  return names.map((name) => {
    if ("error" in final) return notChecked(name, `final state unreadable: ${final.error}`);
    const { orders, inventory, payments } = final;
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
        return checkFrom(name, checkNoLostAck(history, orders), "every acknowledged outcome is final");
      case "no-phantom":
        return checkFrom(name, checkNoPhantom(history, orders), "every order traces back to a request");
      case "no-duplicate":
        return checkFrom(name, checkNoDuplicate(history, orders), "one order per idempotency key");
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
      case "money":
        return checkFrom(
          name,
          checkMoney(orders, payments),
          "CONFIRMED ⇒ one capture; CANCELLED ⇒ none kept",
        );
      default:
        return notChecked(name, "no checker by this name");
    }
  });
}
