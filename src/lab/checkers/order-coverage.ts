import type { CheckResult } from "./check.ts";
import { defineChecker } from "./checker.ts";
import type { LedgerReservation } from "./observed.ts";

/**
 * Per-order coverage (docs/architecture.md §Invariants, "no oversell" per order): a CONFIRMED order has every item's
 * reservation COMMITTED with the item's quantity, and nothing else committed; a CANCELLED order has
 * nothing COMMITTED. Per-SKU totals (no-oversell, conservation) can balance while two orders are each
 * wrong; this sees them. Orders in flight are left to terminal-sagas.
 */
export function checkOrderCoverage(
  orders: readonly { id: string; state: string; items: readonly { sku: string; qty: number }[] }[],
  reservations: readonly LedgerReservation[],
): CheckResult {
  const byOrder = new Map<string, LedgerReservation[]>();
  for (const r of reservations) byOrder.set(r.orderId, [...(byOrder.get(r.orderId) ?? []), r]);
  const problems: string[] = [];
  for (const order of orders) {
    const held = byOrder.get(order.id) ?? [];
    if (order.state === "CONFIRMED") {
      for (const item of order.items) {
        const r = held.find((h) => h.sku === item.sku);
        if (!r) problems.push(`order ${order.id} is CONFIRMED but no reservation of ${item.sku} exists`);
        else if (r.state !== "COMMITTED")
          problems.push(`order ${order.id} is CONFIRMED but its ${item.sku} is ${r.state}`);
        else if (r.qty !== item.qty) {
          problems.push(
            `order ${order.id} is CONFIRMED but its ${item.sku} is COMMITTED for ${r.qty}, the order has ${item.qty}`,
          );
        }
      }
      for (const r of held) {
        if (r.state === "COMMITTED" && !order.items.some((i) => i.sku === r.sku))
          problems.push(`order ${order.id} has ${r.sku} COMMITTED, which is not one of its items`);
      }
    } else if (order.state === "CANCELLED") {
      for (const r of held)
        if (r.state === "COMMITTED")
          problems.push(`order ${order.id} is CANCELLED but its ${r.sku} is COMMITTED`);
    }
  }
  return { valid: problems.length === 0, problems };
}

export const orderCoverage = defineChecker({
  name: "order-coverage",
  holds: "CONFIRMED ⇒ every item COMMITTED; CANCELLED ⇒ none",
  needs: ["orders", "inventory"],
  check: (_history, final) => checkOrderCoverage(final.orders, final.inventory.reservations),
});
