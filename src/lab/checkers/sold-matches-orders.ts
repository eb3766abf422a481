import type { CheckResult } from "./check.ts";
import { defineChecker } from "./checker.ts";
import type { LedgerStock } from "./observed.ts";

/** docs/architecture.md §Invariants "no oversell", second half: per SKU, sold == Σ qty over CONFIRMED orders, and sold ≤ quota. */
export function checkSoldMatchesOrders(
  orders: readonly { state: string; items: readonly { sku: string; qty: number }[] }[],
  stock: readonly LedgerStock[],
): CheckResult {
  const problems: string[] = [];
  const confirmed = new Map<string, number>();
  for (const order of orders) {
    if (order.state !== "CONFIRMED") continue;
    for (const item of order.items) confirmed.set(item.sku, (confirmed.get(item.sku) ?? 0) + item.qty);
  }
  for (const s of stock) {
    const want = confirmed.get(s.sku) ?? 0;
    if (s.sold !== want) problems.push(`${s.sku}: sold ${s.sold} but CONFIRMED orders hold ${want}`);
    if (s.sold > s.quota) problems.push(`${s.sku}: sold ${s.sold} of a quota of ${s.quota} (oversell)`);
  }
  return { valid: problems.length === 0, problems };
}

export const noOversell = defineChecker({
  name: "no-oversell",
  holds: "sold ≤ stock, sold = Σ CONFIRMED",
  needs: ["orders", "inventory"],
  check: (_history, final) => checkSoldMatchesOrders(final.orders, final.inventory.stock),
});
