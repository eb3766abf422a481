import { describe, expect, it } from "vitest";
import {
  checkNoDuplicate,
  checkNoLostAck,
  checkNoPhantom,
} from "../../../src/lab/checkers/acknowledged-orders.ts";
import type { ClientOp, HistoryOp } from "../../../src/lab/history/op.ts";

let next = 0;
function op(type: ClientOp["type"], key: string, extra: Partial<ClientOp["value"]> = {}): ClientOp {
  return {
    type,
    id: next++,
    process: "client",
    kind: "order",
    time: next,
    wall: next,
    value: { idempotencyKey: key, ...extra },
  };
}

const history: HistoryOp[] = [
  op("invoke", "k1"),
  op("ok", "k1", { state: "CONFIRMED", orderId: "1" }),
  op("invoke", "k2"),
  op("ok", "k2", { state: "CANCELLED", orderId: "2" }),
  op("invoke", "k3"),
  op("info", "k3", { error: "timeout" }),
  op("invoke", "k4"),
  op("fail", "k4", { status: 429 }),
];
const final = [
  { id: "1", idemKey: "k1", state: "CONFIRMED" },
  { id: "2", idemKey: "k2", state: "CANCELLED" },
  { id: "3", idemKey: "k3", state: "CONFIRMED" }, // info: may exist
];

describe("acknowledged-order checkers", () => {
  it("accept a history consistent with the final state, whatever happened to info ops", () => {
    expect(checkNoLostAck(history, final).valid).toBe(true);
    expect(checkNoPhantom(history, final).valid).toBe(true);
    expect(checkNoDuplicate(history, final).valid).toBe(true);
    expect(checkNoPhantom(history, final.slice(0, 2)).valid).toBe(true); // the info op may also not exist
  });

  it("no-lost-ack catches a confirmed order that vanished or changed", () => {
    expect(checkNoLostAck(history, final.slice(1)).problems.join()).toMatch(
      /order 1 \(key k1\): the client saw CONFIRMED, the shop has no such order/,
    );
    const flipped = [{ ...final[0], state: "CANCELLED" }, ...final.slice(1)] as typeof final;
    expect(checkNoLostAck(history, flipped).problems.join()).toMatch(
      /order 1 \(key k1\): client saw CONFIRMED, final state is CANCELLED/,
    );
  });

  it("no-phantom catches an order nobody asked for and one whose client was told it failed", () => {
    const extra = [
      ...final,
      { id: "9", idemKey: "k9", state: "CONFIRMED" },
      { id: "4", idemKey: "k4", state: "CONFIRMED" },
    ];
    const problems = checkNoPhantom(history, extra).problems.join();
    expect(problems).toMatch(/order 9 \(key k9\) was never requested/);
    expect(problems).toMatch(/order 4 \(key k4\) exists but every request of its key was told it failed/);
  });

  it("no-duplicate catches two live orders for one key and two ids given out for one key", () => {
    const dup = [...final, { id: "5", idemKey: "k1", state: "CONFIRMED" }];
    expect(checkNoDuplicate(history, dup).problems.join()).toMatch(/k1: 2 orders/);
    const twice = [...history, op("ok", "k1", { state: "CONFIRMED", orderId: "7" })];
    expect(checkNoDuplicate(twice, final).problems.join()).toMatch(
      /k1: clients were given 2 different orders/,
    );
  });
});

function read(orderId: string, outcome: ClientOp["type"], value: Partial<ClientOp["value"]>): ClientOp[] {
  const id = next++;
  const base = { id, process: "client" as const, kind: "order-read" as const, time: next, wall: next };
  return [
    { ...base, type: "invoke", value: { orderId, userId: "u-1" } },
    { ...base, type: outcome, value },
  ];
}

describe("acknowledged-order checkers: wrong verdicts of issue 9 §8", () => {
  it("no-lost-ack matches the order id the client was told, not only its key", () => {
    // Told order 1 CONFIRMED; the shop cancelled order 1 and confirmed another order of the same key.
    const told = [op("invoke", "k1"), op("ok", "k1", { state: "CONFIRMED", orderId: "1" })];
    const stored = [
      { id: "1", idemKey: "k1", state: "CANCELLED" },
      { id: "2", idemKey: "k1", state: "CONFIRMED" },
    ];
    expect(checkNoLostAck(told, stored).problems.join()).toMatch(
      /order 1 \(key k1\): client saw CONFIRMED, final state is CANCELLED/,
    );
  });

  it("no-duplicate counts a CANCELLED order too: at most one order per key, ever", () => {
    // Told "201 CANCELLED" for order 2 while order 1 of the same key is CONFIRMED (and charged).
    const told = [op("invoke", "k1"), op("ok", "k1", { state: "CANCELLED", orderId: "2", status: 201 })];
    const stored = [
      { id: "1", idemKey: "k1", state: "CONFIRMED" },
      { id: "2", idemKey: "k1", state: "CANCELLED" },
    ];
    expect(checkNoDuplicate(told, stored).problems.join()).toMatch(
      /key k1: 2 orders \(1 CONFIRMED, 2 CANCELLED\)/,
    );
  });

  it("no-lost-ack checks that an order given in a 202 exists, even if polling gave up", () => {
    const told = [
      op("invoke", "k1"),
      op("info", "k1", { orderId: "1", status: 202, state: "PENDING", error: "202: order not terminal" }),
    ];
    expect(checkNoLostAck(told, []).problems.join()).toMatch(
      /order 1 \(key k1\): the client was given this order \(202\), the shop has no such order/,
    );
    expect(checkNoLostAck(told, [{ id: "1", idemKey: "k1", state: "CANCELLED" }]).valid).toBe(true);
  });

  it("no-duplicate counts an order id given in a 202 as given to the client", () => {
    const told = [
      op("invoke", "k1"),
      op("info", "k1", { orderId: "1", status: 202, error: "202: order not terminal" }),
      op("invoke", "k1"),
      op("ok", "k1", { orderId: "2", state: "CONFIRMED" }),
    ];
    expect(checkNoDuplicate(told, [{ id: "2", idemKey: "k1", state: "CONFIRMED" }]).problems.join()).toMatch(
      /k1: clients were given 2 different orders/,
    );
  });

  it("no-lost-ack checks order reads: a terminal state seen must be final, and a given order is never 404", () => {
    const placed = [op("invoke", "k1"), op("ok", "k1", { state: "CONFIRMED", orderId: "1" })];
    const stored = [{ id: "1", idemKey: "k1", state: "CANCELLED" }];
    // The order's own op saw nothing terminal (202 gave up), a read saw CONFIRMED, the end is CANCELLED.
    const gaveUp = [op("invoke", "k1"), op("info", "k1", { orderId: "1", status: 202, error: "gave up" })];
    const sawConfirmed = [...gaveUp, ...read("1", "ok", { state: "CONFIRMED", status: 200 })];
    expect(checkNoLostAck(sawConfirmed, stored).problems.join()).toMatch(
      /order 1: a read saw CONFIRMED, final state is CANCELLED/,
    );
    const notFound = [...placed, ...read("1", "fail", { status: 404, error: "not_found" })];
    expect(
      checkNoLostAck(notFound, [{ id: "1", idemKey: "k1", state: "CONFIRMED" }]).problems.join(),
    ).toMatch(/order 1: a read answered 404 for an order the client was given/);
    const fine = [...placed, ...read("1", "ok", { state: "CONFIRMED", status: 200 })];
    expect(checkNoLostAck(fine, [{ id: "1", idemKey: "k1", state: "CONFIRMED" }]).valid).toBe(true);
  });

  it("no-phantom: one failed attempt of a key does not make the key's order a phantom", () => {
    const mixed = [
      op("invoke", "k1"),
      op("fail", "k1", { status: 429 }),
      op("invoke", "k1"),
      op("ok", "k1", { state: "CONFIRMED", orderId: "1" }),
    ];
    expect(checkNoPhantom(mixed, [{ id: "1", idemKey: "k1", state: "CONFIRMED" }])).toEqual({
      valid: true,
      problems: [],
    });
  });
});
