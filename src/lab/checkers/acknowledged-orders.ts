import type { ClientOp, HistoryOp } from "../history/op.ts";
import type { CheckResult } from "./check.ts";
import { defineChecker } from "./checker.ts";
import type { FinalOrder } from "./observed.ts";

export type { FinalOrder } from "./observed.ts";

/**
 * Invariants that compare what clients were told with what the shop ended up with (docs/architecture.md §Invariants).
 * An order is matched by the id the client was given; the idempotency key (the one identity a client
 * and the shop share before an id exists) ties a request to every order stored for it.
 *
 * order
 * - ok      : the client learned an order id and a terminal state; that order ends in that state.
 * - info    : unknown outcome; with an order id (a 202 whose polling gave up) the order was stored
 *             before the answer was sent, so it exists, in any state. Without one, nothing is known.
 * - fail    : this request wrote nothing; the key's order may still come from another request of it.
 * order-read (of an order the client was given)
 * - ok      : the order exists; a terminal state seen is its final state (terminal states never change).
 * - fail 404: the shop denied an order it had given out.
 */

const TERMINAL = new Set(["CONFIRMED", "CANCELLED"]);

function completions(history: readonly HistoryOp[], kind: ClientOp["kind"]): ClientOp[] {
  return history.filter(
    (op): op is ClientOp => op.process === "client" && op.kind === kind && op.type !== "invoke",
  );
}

function byKey(orders: readonly FinalOrder[]): Map<string, FinalOrder[]> {
  const map = new Map<string, FinalOrder[]>();
  for (const order of orders) map.set(order.idemKey, [...(map.get(order.idemKey) ?? []), order]);
  return map;
}

/** Order reads, each with the order id its invoke asked for (a read's completion does not carry it). */
function reads(history: readonly HistoryOp[]): { orderId: string; op: ClientOp }[] {
  const asked = new Map<number, string>();
  for (const op of history) {
    if (op.process === "client" && op.kind === "order-read" && op.type === "invoke" && op.value.orderId)
      asked.set(op.id, op.value.orderId);
  }
  return completions(history, "order-read").flatMap((op) => {
    const orderId = op.value.orderId ?? asked.get(op.id);
    return orderId === undefined ? [] : [{ orderId, op }];
  });
}

/**
 * Every order a client was given exists; every terminal state a client saw (placing or reading the
 * order) is its final state; no read denies an order the client was given.
 */
export function checkNoLostAck(history: readonly HistoryOp[], orders: readonly FinalOrder[]): CheckResult {
  const problems: string[] = [];
  const final = byKey(orders);
  const byId = new Map(orders.map((o) => [o.id, o]));
  for (const op of completions(history, "order")) {
    const key = op.value.idempotencyKey;
    const seen = op.value.state;
    const orderId = op.value.orderId;
    if (orderId !== undefined && (op.type === "ok" || op.type === "info")) {
      const stored = byId.get(orderId);
      const told =
        op.type === "ok" ? `saw ${seen}` : `was given this order (${op.value.status ?? "no status"})`;
      if (!stored) {
        problems.push(`order ${orderId} (key ${key}): the client ${told}, the shop has no such order`);
      } else if (key !== undefined && stored.idemKey !== key) {
        problems.push(`order ${orderId} (key ${key}): the shop stored it under key ${stored.idemKey}`);
      } else if (op.type === "ok" && seen && TERMINAL.has(seen) && stored.state !== seen) {
        problems.push(`order ${orderId} (key ${key}): client saw ${seen}, final state is ${stored.state}`);
      }
      continue;
    }
    // An ok without an order id (not produced by the workload): judge by key.
    if (op.type !== "ok" || !key || !seen || !TERMINAL.has(seen)) continue;
    const stored = final.get(key) ?? [];
    if (stored.length === 0) {
      problems.push(`key ${key}: client saw ${seen}, the shop has no such order`);
    } else if (!stored.some((o) => o.state === seen)) {
      problems.push(`key ${key}: client saw ${seen}, final state is ${stored.map((o) => o.state).join("/")}`);
    }
  }
  for (const { orderId, op } of reads(history)) {
    const stored = byId.get(orderId);
    if (op.type === "fail" && op.value.status === 404) {
      problems.push(`order ${orderId}: a read answered 404 for an order the client was given`);
    } else if (op.type === "ok" && !stored) {
      problems.push(`order ${orderId}: a read saw it ${op.value.state ?? ""}, the shop has no such order`);
    } else if (op.type === "ok" && stored && op.value.state && TERMINAL.has(op.value.state)) {
      if (stored.state !== op.value.state)
        problems.push(`order ${orderId}: a read saw ${op.value.state}, final state is ${stored.state}`);
    }
  }
  return { valid: problems.length === 0, problems };
}

/**
 * Every order in the final state traces back to a client request, and not to a key whose every
 * request was told "it failed" (a failed request wrote nothing, but another request of the same key
 * may have created the order).
 */
export function checkNoPhantom(history: readonly HistoryOp[], orders: readonly FinalOrder[]): CheckResult {
  const problems: string[] = [];
  const tally = new Map<string, { invoked: number; failed: number; completed: number }>();
  for (const op of history) {
    if (op.process !== "client" || op.kind !== "order" || !op.value.idempotencyKey) continue;
    const t = tally.get(op.value.idempotencyKey) ?? { invoked: 0, failed: 0, completed: 0 };
    if (op.type === "invoke") t.invoked++;
    else t.completed++;
    if (op.type === "fail") t.failed++;
    tally.set(op.value.idempotencyKey, t);
  }
  for (const order of orders) {
    const t = tally.get(order.idemKey);
    if (!t || t.invoked === 0) problems.push(`order ${order.id} (key ${order.idemKey}) was never requested`);
    else if (t.failed === t.invoked && t.completed === t.invoked) {
      problems.push(
        `order ${order.id} (key ${order.idemKey}) exists but every request of its key was told it failed`,
      );
    }
  }
  return { valid: problems.length === 0, problems };
}

/**
 * At most one order per idempotency key, ever (a CANCELLED duplicate counts: its client may have been
 * told "cancelled" while the other order was charged), and one order id given out per key.
 */
export function checkNoDuplicate(history: readonly HistoryOp[], orders: readonly FinalOrder[]): CheckResult {
  const problems: string[] = [];
  for (const [key, stored] of byKey(orders)) {
    if (stored.length > 1) {
      const list = stored.map((o) => `${o.id} ${o.state}`).join(", ");
      problems.push(`key ${key}: ${stored.length} orders (${list})`);
    }
  }
  const idsSeen = new Map<string, Set<string>>();
  for (const op of completions(history, "order")) {
    if (op.type === "fail" || !op.value.idempotencyKey || !op.value.orderId) continue;
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

export const noLostAck = defineChecker({
  name: "no-lost-ack",
  holds: "every order given to a client exists; every outcome it saw is final",
  needs: ["orders"],
  check: (history, final) => checkNoLostAck(history, final.orders),
});

export const noPhantom = defineChecker({
  name: "no-phantom",
  holds: "every order traces back to a request",
  needs: ["orders"],
  check: (history, final) => checkNoPhantom(history, final.orders),
});

export const noDuplicate = defineChecker({
  name: "no-duplicate",
  holds: "one order per idempotency key, ever",
  needs: ["orders"],
  check: (history, final) => checkNoDuplicate(history, final.orders),
});
