import type { CheckResult } from "./check.ts";
import { defineChecker } from "./checker.ts";
import type { FinalOrder, LedgerReservation, LedgerStock } from "./observed.ts";

const TERMINAL = new Set(["CONFIRMED", "CANCELLED"]);

/**
 * docs/architecture.md §Invariants "no stranded stock": once the sale has settled, every unit is sold or
 * on sale again. Per SKU nothing is reserved and `available` is all that was not sold (quota − sold);
 * no reservation is still HELD for a terminal order or for an order the shop does not have, and the
 * HELD reservations add up to the `reserved` counter. Narrower than terminal-sagas (which also judges
 * the orders): a unit a finished order still holds is stock nobody can ever buy.
 */
export function checkNoStrandedStock(
  orders: readonly Pick<FinalOrder, "id" | "state">[],
  stock: readonly LedgerStock[],
  reservations: readonly LedgerReservation[],
): CheckResult {
  const problems: string[] = [];
  const heldBySku = new Map<string, number>();
  for (const r of reservations) {
    if (r.state === "HELD") heldBySku.set(r.sku, (heldBySku.get(r.sku) ?? 0) + r.qty);
  }
  for (const s of stock) {
    if (s.reserved !== 0) problems.push(`${s.sku}: ${s.reserved} unit(s) still reserved`);
    if (s.available !== s.quota - s.sold) {
      problems.push(
        `${s.sku}: available ${s.available}, expected quota ${s.quota} − sold ${s.sold} = ${s.quota - s.sold}`,
      );
    }
    const held = heldBySku.get(s.sku) ?? 0;
    if (held !== s.reserved)
      problems.push(`${s.sku}: HELD reservations hold ${held}, reserved says ${s.reserved}`);
  }
  const stateOf = new Map(orders.map((o) => [o.id, o.state]));
  for (const r of reservations) {
    if (r.state !== "HELD") continue;
    const state = stateOf.get(r.orderId);
    if (state === undefined) {
      problems.push(`${r.qty} × ${r.sku} HELD for order ${r.orderId}, which the shop does not have`);
    } else if (TERMINAL.has(state)) {
      problems.push(`${r.qty} × ${r.sku} HELD for order ${r.orderId}, which is ${state}`);
    }
  }
  return { valid: problems.length === 0, problems };
}

export const noStrandedStock = defineChecker({
  name: "no-stranded-stock",
  holds: "every unit sold or on sale again, none held by a finished order",
  needs: ["orders", "inventory"],
  check: (_history, final) =>
    checkNoStrandedStock(final.orders, final.inventory.stock, final.inventory.reservations),
});
