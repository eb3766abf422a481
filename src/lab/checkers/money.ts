import type { CheckResult } from "./check.ts";
import { defineChecker } from "./checker.ts";
import type { ProviderPayment } from "./observed.ts";

export type { ProviderPayment } from "./observed.ts";

/**
 * docs/architecture.md §Invariants "money", judged against the provider's own records (not the shop's copy), every record
 * of an order counted (a provider may list several per order):
 * - a CONFIRMED order was captured exactly once, for its total, and holds no other open authorization;
 * - a CANCELLED order keeps no money: no capture that was not refunded, no authorization never voided
 *   (an open hold blocks the customer's funds);
 * - the provider holds no capture and no open authorization for an order the shop does not have.
 * The caller must pass the provider's view unfiltered by the shop's orders, or the last rule sees nothing.
 */

export interface MoneyOrder {
  id: string;
  state: string;
  total: number;
}

export function checkMoney(orders: readonly MoneyOrder[], payments: readonly ProviderPayment[]): CheckResult {
  const problems: string[] = [];
  const byOrder = new Map<string, ProviderPayment[]>();
  for (const p of payments) byOrder.set(p.orderId, [...(byOrder.get(p.orderId) ?? []), p]);
  for (const order of orders) {
    const records = byOrder.get(order.id) ?? [];
    const captures = records.reduce((sum, p) => sum + p.captures, 0);
    const open = records.filter((p) => p.state === "AUTHORIZED");
    if (captures > 1) problems.push(`order ${order.id} was captured ${captures} times`);
    if (order.state === "CONFIRMED") {
      const captured = records.filter((p) => p.state === "CAPTURED");
      if (records.length === 0)
        problems.push(`order ${order.id} is CONFIRMED but the provider has no payment`);
      else if (captured.length === 0 || captures === 0) {
        const states = records.map((p) => `${p.state} with ${p.captures} capture(s)`).join(", ");
        problems.push(`order ${order.id} is CONFIRMED but its payment is ${states}`);
      } else if (captured.length === 1 && captured[0]?.amount !== order.total) {
        problems.push(`order ${order.id} totals ${order.total} but ${captured[0]?.amount} was captured`);
      }
      for (const p of open)
        problems.push(`order ${order.id} is CONFIRMED but holds another open authorization of ${p.amount}`);
    } else if (order.state === "CANCELLED") {
      if (records.some((p) => p.state === "CAPTURED"))
        problems.push(`order ${order.id} is CANCELLED but its capture was never refunded`);
      for (const p of open)
        problems.push(`order ${order.id} is CANCELLED but its authorization of ${p.amount} was never voided`);
    }
  }
  const known = new Set(orders.map((o) => o.id));
  for (const payment of payments) {
    if (known.has(payment.orderId)) continue;
    if (payment.state === "CAPTURED")
      problems.push(`capture for ${payment.orderId}, an order the shop does not have`);
    if (payment.state === "AUTHORIZED") {
      problems.push(
        `open authorization of ${payment.amount} for ${payment.orderId}, an order the shop does not have`,
      );
    }
  }
  return { valid: problems.length === 0, problems };
}

export const money = defineChecker({
  name: "money",
  holds: "CONFIRMED ⇒ one capture; CANCELLED ⇒ none kept, no open hold",
  needs: ["orders", "payments"],
  check: (_history, final) => checkMoney(final.orders, final.payments),
});
