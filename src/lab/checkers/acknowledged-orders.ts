import type { ClientOp, HistoryOp } from "../history/op.ts";
import type { CheckResult } from "./inventory-ledger.ts";

/**
 * Invariants that compare what clients were told with what the shop ended up with (DESIGN §2).
 * Orders are matched by idempotency key, the one identity a client and the shop share.
 *
 * - ok      : the client learned a terminal state; the final state must be that state.
 * - fail    : the order definitely does not exist; the final state must not have it.
 * - info    : unknown; the order may or may not exist, in any state. Never a violation by itself.
 */

export interface FinalOrder {
  id: string;
  idemKey: string;
  state: string;
  region?: string;
}

function completions(history: readonly HistoryOp[]): ClientOp[] {
  return history.filter(
    (op): op is ClientOp => op.process === "client" && op.kind === "order" && op.type !== "invoke",
  );
}

function byKey(orders: readonly FinalOrder[]): Map<string, FinalOrder[]> {
  const map = new Map<string, FinalOrder[]>();
  for (const order of orders) map.set(order.idemKey, [...(map.get(order.idemKey) ?? []), order]);
  return map;
}

/** Every order a client saw CONFIRMED (or CANCELLED) ends in that state. */
export function checkNoLostAck(history: readonly HistoryOp[], orders: readonly FinalOrder[]): CheckResult {
  const problems: string[] = [];
  const final = byKey(orders);
  for (const op of completions(history)) {
    if (op.type !== "ok" || !op.value.idempotencyKey || !op.value.state) continue;
    const stored = final.get(op.value.idempotencyKey) ?? [];
    const seen = op.value.state;
    if (seen !== "CONFIRMED" && seen !== "CANCELLED") continue;
    if (stored.length === 0) {
      problems.push(`key ${op.value.idempotencyKey}: client saw ${seen}, the shop has no such order`);
    } else if (!stored.some((o) => o.state === seen)) {
      problems.push(
        `key ${op.value.idempotencyKey}: client saw ${seen}, final state is ${stored.map((o) => o.state).join("/")}`,
      );
    }
  }
  return { valid: problems.length === 0, problems };
}

/** Every order in the final state traces back to a client request that was not told "it failed". */
export function checkNoPhantom(history: readonly HistoryOp[], orders: readonly FinalOrder[]): CheckResult {
  const problems: string[] = [];
  const invoked = new Set<string>();
  const failed = new Set<string>();
  for (const op of history) {
    if (op.process !== "client" || op.kind !== "order" || !op.value.idempotencyKey) continue;
    if (op.type === "invoke") invoked.add(op.value.idempotencyKey);
    if (op.type === "fail") failed.add(op.value.idempotencyKey);
  }
  for (const order of orders) {
    if (!invoked.has(order.idemKey))
      problems.push(`order ${order.id} (key ${order.idemKey}) was never requested`);
    else if (failed.has(order.idemKey)) {
      problems.push(
        `order ${order.id} (key ${order.idemKey}) exists but its client was told the request failed`,
      );
    }
  }
  return { valid: problems.length === 0, problems };
}

/** At most one non-cancelled order per idempotency key (across regions), and one order id per key. */
export function checkNoDuplicate(history: readonly HistoryOp[], orders: readonly FinalOrder[]): CheckResult {
  const problems: string[] = [];
  for (const [key, stored] of byKey(orders)) {
    const live = stored.filter((o) => o.state !== "CANCELLED");
    if (live.length > 1)
      problems.push(`key ${key}: ${live.length} live orders (${live.map((o) => o.id).join(", ")})`);
  }
  const idsSeen = new Map<string, Set<string>>();
  for (const op of completions(history)) {
    if (op.type !== "ok" || !op.value.idempotencyKey || !op.value.orderId) continue;
    const ids = idsSeen.get(op.value.idempotencyKey) ?? new Set();
    ids.add(op.value.orderId);
    idsSeen.set(op.value.idempotencyKey, ids);
  }
  for (const [key, ids] of idsSeen) {
    if (ids.size > 1)
      problems.push(`key ${key}: clients were given ${ids.size} different orders (${[...ids].join(", ")})`);
  }
  return { valid: problems.length === 0, problems };
}
