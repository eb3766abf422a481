import type { CheckResult } from "./inventory-ledger.ts";

/**
 * DESIGN §2 "money": a CONFIRMED order was captured exactly once; a CANCELLED order holds no
 * capture that was not refunded. Judged against the provider's own records, not the shop's copy.
 */

export interface MoneyOrder {
  id: string;
  state: string;
  total: number;
}

export interface ProviderPayment {
  orderId: string;
  state: string;
  captures: number;
  amount: number;
}

export function checkMoney(orders: readonly MoneyOrder[], payments: readonly ProviderPayment[]): CheckResult {
  const problems: string[] = [];
  const byOrder = new Map(payments.map((p) => [p.orderId, p]));
  for (const order of orders) {
    const payment = byOrder.get(order.id);
    if (order.state === "CONFIRMED") {
      if (!payment) problems.push(`order ${order.id} is CONFIRMED but the provider has no payment`);
      else if (payment.captures !== 1 || payment.state !== "CAPTURED") {
        problems.push(
          `order ${order.id} is CONFIRMED but its payment is ${payment.state} with ${payment.captures} capture(s)`,
        );
      } else if (payment.amount !== order.total) {
        problems.push(`order ${order.id} totals ${order.total} but ${payment.amount} was captured`);
      }
    } else if (order.state === "CANCELLED" && payment?.state === "CAPTURED") {
      problems.push(`order ${order.id} is CANCELLED but its capture was never refunded`);
    }
    if (payment && payment.captures > 1)
      problems.push(`order ${order.id} was captured ${payment.captures} times`);
  }
  const known = new Set(orders.map((o) => o.id));
  for (const payment of payments) {
    if (payment.state === "CAPTURED" && !known.has(payment.orderId)) {
      problems.push(`capture for ${payment.orderId}, an order the shop does not have`);
    }
  }
  return { valid: problems.length === 0, problems };
}
