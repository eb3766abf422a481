import type { CheckResult } from "./check.ts";
import { defineChecker } from "./checker.ts";
import type { LedgerReservation } from "./observed.ts";

export interface ReservedOrder {
  id: string;
  /** The shop recorded a StockReserved event for the order: the inventory granted every item. */
  stockReserved: boolean;
  items: readonly { sku: string; qty: number }[];
}

/**
 * No lost acknowledged reservation: the order service records StockReserved only after the inventory
 * answered "granted" for every item, and the inventory may answer that only once the reservation is
 * stored. Reservations are never deleted (they end COMMITTED or RELEASED), so in the final state every
 * such order has a reservation of each of its items, in some state, of the same quantity. A missing
 * one is a grant the inventory acknowledged and never kept. Orders without the event claim nothing.
 */
export function checkNoLostReservation(
  orders: readonly ReservedOrder[],
  reservations: readonly LedgerReservation[],
): CheckResult {
  const stored = new Map(reservations.map((r) => [`${r.orderId}/${r.sku}`, r]));
  const problems: string[] = [];
  for (const order of orders) {
    if (!order.stockReserved) continue;
    for (const item of order.items) {
      const reservation = stored.get(`${order.id}/${item.sku}`);
      if (!reservation) {
        problems.push(
          `order ${order.id}: ${item.sku} was acknowledged as reserved (StockReserved) but no reservation of it exists`,
        );
      } else if (reservation.qty !== item.qty) {
        problems.push(
          `order ${order.id}: ${item.sku} was reserved for ${item.qty} but the reservation holds ${reservation.qty}`,
        );
      }
    }
  }
  return { valid: problems.length === 0, problems };
}

export const noLostReservation = defineChecker({
  name: "no-lost-reservation",
  holds: "every acknowledged reservation is stored",
  needs: ["orders", "inventory"],
  check: (_history, final) => checkNoLostReservation(final.orders, final.inventory.reservations),
});
