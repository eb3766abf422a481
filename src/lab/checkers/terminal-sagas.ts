import type { CheckResult } from "./check.ts";
import { defineChecker } from "./checker.ts";
import type { LedgerStock } from "./observed.ts";

/** docs/architecture.md §Invariants "terminal sagas": after the settle window no order is in flight and nothing stays reserved. */
export function checkTerminalSagas(
  orders: readonly { id: string; state: string }[],
  stock: readonly LedgerStock[],
): CheckResult {
  const problems: string[] = [];
  const stuck = orders.filter((o) => o.state !== "CONFIRMED" && o.state !== "CANCELLED");
  if (stuck.length > 0) {
    problems.push(
      `${stuck.length} order(s) not terminal: ${stuck
        .slice(0, 5)
        .map((o) => `${o.id} ${o.state}`)
        .join(", ")}`,
    );
  }
  for (const s of stock)
    if (s.reserved !== 0) problems.push(`${s.sku}: ${s.reserved} unit(s) still reserved`);
  return { valid: problems.length === 0, problems };
}

export const terminalSagas = defineChecker({
  name: "terminal-sagas",
  holds: "every saga terminal, nothing reserved",
  needs: ["orders", "inventory"],
  check: (_history, final) => checkTerminalSagas(final.orders, final.inventory.stock),
});
