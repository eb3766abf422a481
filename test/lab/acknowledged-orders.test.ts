import { describe, expect, it } from "vitest";
import {
  checkNoDuplicate,
  checkNoLostAck,
  checkNoPhantom,
} from "../../src/lab/checkers/acknowledged-orders.ts";
import type { ClientOp, HistoryOp } from "../../src/lab/history/op.ts";

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
      /k1: client saw CONFIRMED, the shop has no such order/,
    );
    const flipped = [{ ...final[0], state: "CANCELLED" }, ...final.slice(1)] as typeof final;
    expect(checkNoLostAck(history, flipped).problems.join()).toMatch(
      /k1: client saw CONFIRMED, final state is CANCELLED/,
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
    expect(problems).toMatch(/order 4 \(key k4\) exists but its client was told the request failed/);
  });

  it("no-duplicate catches two live orders for one key and two ids given out for one key", () => {
    const dup = [...final, { id: "5", idemKey: "k1", state: "CONFIRMED" }];
    expect(checkNoDuplicate(history, dup).problems.join()).toMatch(/k1: 2 live orders/);
    const twice = [...history, op("ok", "k1", { state: "CONFIRMED", orderId: "7" })];
    expect(checkNoDuplicate(twice, final).problems.join()).toMatch(
      /k1: clients were given 2 different orders/,
    );
  });
});
