import { describe, expect, it } from "vitest";
import {
  availabilityTimelines,
  COMMIT_MARGIN_MS,
  checkNoFalseSoldOut,
  SOLD_OUT_STALENESS_BOUND_MS,
} from "../../../src/lab/checkers/false-sold-out.ts";
import type { LedgerMovement } from "../../../src/lab/checkers/observed.ts";
import { checkNoStrandedStock } from "../../../src/lab/checkers/stranded-stock.ts";
import type { ClientOp } from "../../../src/lab/history/op.ts";
import { LAB_SERVICE_ENV } from "../../../src/lab/topology/service-env.ts";

describe("no-stranded-stock checker", () => {
  const sold = [{ sku: "A", available: 7, reserved: 0, sold: 3, quota: 10 }];
  const orders = [
    { id: "1", state: "CONFIRMED" },
    { id: "2", state: "CANCELLED" },
  ];
  it("passes when every unit is sold or available again", () => {
    const reservations = [
      { orderId: "1", sku: "A", qty: 3, state: "COMMITTED" as const },
      { orderId: "2", sku: "A", qty: 1, state: "RELEASED" as const },
    ];
    expect(checkNoStrandedStock(orders, sold, reservations)).toEqual({ valid: true, problems: [] });
  });
  it("fails on a unit held by a cancelled order", () => {
    const stock = [{ sku: "A", available: 6, reserved: 1, sold: 3, quota: 10 }];
    const reservations = [
      { orderId: "1", sku: "A", qty: 3, state: "COMMITTED" as const },
      { orderId: "2", sku: "A", qty: 1, state: "HELD" as const },
    ];
    const problems = checkNoStrandedStock(orders, stock, reservations).problems.join("\n");
    expect(problems).toMatch(/A: 1 unit\(s\) still reserved/);
    expect(problems).toMatch(/available 6, expected quota 10 − sold 3 = 7/);
    expect(problems).toMatch(/1 × A HELD for order 2, which is CANCELLED/);
  });
  it("fails on a HELD reservation the counters do not show, and on one of an unknown order", () => {
    const reservations = [{ orderId: "9", sku: "A", qty: 1, state: "HELD" as const }];
    const problems = checkNoStrandedStock(orders, sold, reservations).problems.join("\n");
    expect(problems).toMatch(/HELD reservations hold 1, reserved says 0/);
    expect(problems).toMatch(/order 9, which the shop does not have/);
  });
});

describe("no-false-sold-out checker", () => {
  const T = 1_700_000_000_000;
  // A: 2 units seeded at T; both reserved by T+100; one released at T+1000.
  const movements: LedgerMovement[] = [
    { orderId: null, sku: "A", kind: "seed", qty: 2, at: T },
    { orderId: "1", sku: "A", kind: "reserve", qty: 1, at: T + 50 },
    { orderId: "2", sku: "A", kind: "reserve", qty: 1, at: T + 100 },
    { orderId: "2", sku: "A", kind: "release", qty: 1, at: T + 1_000 },
    { orderId: null, sku: "B", kind: "seed", qty: 5, at: T },
  ];
  const refused = (id: number, sentAt: number, answeredAt: number, skus = ["A"]): ClientOp[] => [
    {
      type: "invoke",
      id,
      process: "client",
      kind: "order",
      time: sentAt - T,
      wall: sentAt,
      value: { idempotencyKey: `k${id}`, items: skus.map((sku) => ({ sku, qty: 1 })) },
    },
    {
      type: "ok",
      id,
      process: "client",
      kind: "order",
      time: answeredAt - T,
      wall: answeredAt,
      value: { orderId: `o${id}`, state: "CANCELLED", cancelReason: "sold_out" },
    },
  ];

  it("builds each SKU's availability from the ledger", () => {
    expect(
      availabilityTimelines(movements)
        ?.get("A")
        ?.map((p) => p.available),
    ).toEqual([2, 1, 0, 1]);
  });
  it("accepts a refusal while the SKU was empty, and one within the staleness bound after restock", () => {
    const history = [
      ...refused(1, T + 200, T + 300),
      ...refused(
        2,
        T + 1_000 + SOLD_OUT_STALENESS_BOUND_MS - 10,
        T + 1_000 + SOLD_OUT_STALENESS_BOUND_MS + 50,
      ),
      // A two-item order: B was in stock, A was not when it was answered.
      ...refused(3, T + 150, T + 400, ["B", "A"]),
    ];
    expect(checkNoFalseSoldOut(history, movements)).toEqual({ valid: true, problems: [] });
  });
  it("fails on a refusal while every item was in stock beyond the bound, showing the longest window", () => {
    const history = [...refused(1, T + 4_000, T + 4_100), ...refused(2, T + 6_000, T + 6_050, ["B"])];
    const result = checkNoFalseSoldOut(history, movements);
    expect(result).toMatchObject({ valid: false });
    const problems = (result as { problems: string[] }).problems;
    expect(problems[0]).toBe("2 of 2 sold_out refusal(s) while in stock; longest window 6000 ms");
    expect(problems[1]).toMatch(/order o2 \(1 × B\) refused sold_out although in stock for ≥ 6000 ms/);
    expect(problems[2]).toMatch(/order o1 \(1 × A\) .* ≥ 3000 ms/);
  });
  /** The sold-out gate's refusal: no order, `409 sold_out` (fail, or info after an unanswered attempt). */
  const gated = (
    id: number,
    sentAt: number,
    answeredAt: number,
    type: "fail" | "info" = "fail",
  ): ClientOp[] => [
    {
      type: "invoke",
      id,
      process: "client",
      kind: "order",
      time: sentAt - T,
      wall: sentAt,
      value: { idempotencyKey: `k${id}`, items: [{ sku: "A", qty: 1 }] },
    },
    {
      type,
      id,
      process: "client",
      kind: "order",
      time: answeredAt - T,
      wall: answeredAt,
      value: { status: 409, error: "sold_out", attempts: 1 },
    },
  ];

  it("bounds staleness by the inventory's sold-out TTL plus the order service's gate TTL, plus the commit margin", () => {
    expect(SOLD_OUT_STALENESS_BOUND_MS).toBe(
      Number(LAB_SERVICE_ENV.CHAOSCART_SOLD_OUT_TTL_MS) +
        Number(LAB_SERVICE_ENV.CHAOSCART_SOLD_OUT_GATE_TTL_MS) +
        COMMIT_MARGIN_MS,
    );
    expect(Number(LAB_SERVICE_ENV.CHAOSCART_SOLD_OUT_GATE_TTL_MS)).toBeGreaterThan(0);
  });

  it("judges the sold-out gate's 409 refusals as refusals: within the bound fine, beyond it a violation", () => {
    const within = gated(
      1,
      T + 1_000 + SOLD_OUT_STALENESS_BOUND_MS - 10,
      T + 1_000 + SOLD_OUT_STALENESS_BOUND_MS,
    );
    expect(checkNoFalseSoldOut([...gated(2, T + 200, T + 210), ...within], movements)).toEqual({
      valid: true,
      problems: [],
    });
    const stale = [...gated(3, T + 5_000, T + 5_005), ...gated(4, T + 6_000, T + 6_002, "info")];
    const result = checkNoFalseSoldOut(stale, movements);
    expect(result).toMatchObject({ valid: false });
    const problems = (result as { problems: string[] }).problems;
    expect(problems[0]).toBe("2 of 2 sold_out refusal(s) while in stock; longest window 5000 ms");
    expect(problems[1]).toMatch(/op 4 \(1 × A\) refused sold_out although in stock for ≥ 5000 ms/);
  });

  it("is not checked without a sell-out or without ledger timestamps", () => {
    expect(checkNoFalseSoldOut([], movements)).toEqual({
      notChecked: "no order was refused sold_out: the run never sold out",
    });
    const untimed = movements.map(({ at: _at, ...m }) => m);
    expect(checkNoFalseSoldOut(refused(1, T + 4_000, T + 4_100), untimed)).toEqual({
      notChecked: "the ledger read has no timestamps",
    });
  });
});
