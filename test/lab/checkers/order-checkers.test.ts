import { describe, expect, it } from "vitest";
import { checkMoney } from "../../../src/lab/checkers/money.ts";
import { checkOrderCoverage } from "../../../src/lab/checkers/order-coverage.ts";
import { checkNoLostReservation } from "../../../src/lab/checkers/reservations-kept.ts";
import { checkSoldMatchesOrders } from "../../../src/lab/checkers/sold-matches-orders.ts";
import { checkTerminalSagas } from "../../../src/lab/checkers/terminal-sagas.ts";

const stock = (sold: number, reserved = 0) => [
  { sku: "A", available: 10 - sold - reserved, reserved, sold, quota: 10 },
];

describe("money checker", () => {
  const orders = [
    { id: "1", state: "CONFIRMED", total: 500 },
    { id: "2", state: "CANCELLED", total: 500 },
  ];
  it("accepts one capture per confirmed order and refunded cancellations", () => {
    const payments = [
      { orderId: "1", state: "CAPTURED", captures: 1, amount: 500 },
      { orderId: "2", state: "REFUNDED", captures: 1, amount: 500 },
    ];
    expect(checkMoney(orders, payments)).toEqual({ valid: true, problems: [] });
  });
  it("catches a confirmed order without capture", () => {
    expect(checkMoney(orders, []).problems.join()).toMatch(/1 is CONFIRMED but the provider has no payment/);
  });
  it("catches a cancelled order whose capture was kept", () => {
    const payments = [
      { orderId: "1", state: "CAPTURED", captures: 1, amount: 500 },
      { orderId: "2", state: "CAPTURED", captures: 1, amount: 500 },
    ];
    expect(checkMoney(orders, payments).problems.join()).toMatch(
      /2 is CANCELLED but its capture was never refunded/,
    );
  });
  it("catches a double capture, a wrong amount and a capture for an unknown order", () => {
    const payments = [
      { orderId: "1", state: "CAPTURED", captures: 2, amount: 500 },
      { orderId: "9", state: "CAPTURED", captures: 1, amount: 1 },
    ];
    const problems = checkMoney(orders, payments).problems.join();
    expect(problems).toMatch(/captured 2 times/);
    expect(problems).toMatch(/capture for 9/);
    expect(checkMoney(orders, [{ orderId: "1", state: "CAPTURED", captures: 1, amount: 499 }]).valid).toBe(
      false,
    );
  });
});

describe("money checker: wrong verdicts of issue 9 §3 and §8", () => {
  const cancelled = [{ id: "2", state: "CANCELLED", total: 500 }];
  it("fails on an open authorization (AUTHORIZED, never voided) of a CANCELLED order", () => {
    const payments = [{ orderId: "2", state: "AUTHORIZED", captures: 0, amount: 500 }];
    expect(checkMoney(cancelled, payments).problems).toEqual([
      expect.stringMatching(/order 2 is CANCELLED but its authorization of 500 was never voided/),
    ]);
    const voided = [{ orderId: "2", state: "VOIDED", captures: 0, amount: 500 }];
    expect(checkMoney(cancelled, voided).valid).toBe(true);
  });
  it("fails on an open authorization of an order the shop does not have", () => {
    const payments = [{ orderId: "9", state: "AUTHORIZED", captures: 0, amount: 500 }];
    expect(checkMoney([], payments).problems.join()).toMatch(
      /open authorization of 500 for 9, an order the shop does not have/,
    );
  });
  it("judges every payment record of an order, not the last one listed", () => {
    const confirmed = [{ id: "1", state: "CONFIRMED", total: 500 }];
    const twice = [
      { orderId: "1", state: "CAPTURED", captures: 1, amount: 500 },
      { orderId: "1", state: "CAPTURED", captures: 1, amount: 500 },
      { orderId: "1", state: "VOIDED", captures: 0, amount: 500 },
    ];
    expect(checkMoney(confirmed, twice).problems.join()).toMatch(/order 1 was captured 2 times/);
    const keptOnCancel = [
      { orderId: "2", state: "CAPTURED", captures: 1, amount: 500 },
      { orderId: "2", state: "REFUNDED", captures: 1, amount: 500 },
    ];
    expect(checkMoney(cancelled, keptOnCancel).problems.join()).toMatch(
      /2 is CANCELLED but its capture was never refunded/,
    );
  });
});

describe("order coverage checker (issue 9 §8)", () => {
  const row = (orderId: string, sku: string, state: "HELD" | "COMMITTED" | "RELEASED", qty = 1) => ({
    orderId,
    sku,
    qty,
    state,
  });
  const orders = [
    {
      id: "1",
      state: "CONFIRMED",
      items: [
        { sku: "A", qty: 1 },
        { sku: "B", qty: 2 },
      ],
    },
    { id: "2", state: "CANCELLED", items: [{ sku: "A", qty: 1 }] },
  ];
  it("passes when a CONFIRMED order has every item COMMITTED and a CANCELLED one none", () => {
    const reservations = [
      row("1", "A", "COMMITTED"),
      row("1", "B", "COMMITTED", 2),
      row("2", "A", "RELEASED"),
    ];
    expect(checkOrderCoverage(orders, reservations)).toEqual({ valid: true, problems: [] });
  });
  it("catches two wrong orders whose per-SKU totals still balance", () => {
    // A's one committed unit belongs to the cancelled order 2, not to the confirmed order 1.
    const reservations = [
      row("1", "A", "RELEASED"),
      row("1", "B", "COMMITTED", 2),
      row("2", "A", "COMMITTED"),
    ];
    const problems = checkOrderCoverage(orders, reservations).problems.join("\n");
    expect(problems).toMatch(/order 1 is CONFIRMED but its A is RELEASED/);
    expect(problems).toMatch(/order 2 is CANCELLED but its A is COMMITTED/);
  });
  it("catches a missing item and a committed quantity that differs", () => {
    const reservations = [row("1", "A", "COMMITTED", 2)];
    const problems = checkOrderCoverage(orders, reservations).problems.join("\n");
    expect(problems).toMatch(/order 1 is CONFIRMED but its A is COMMITTED for 2, the order has 1/);
    expect(problems).toMatch(/order 1 is CONFIRMED but no reservation of B exists/);
  });
});

describe("terminal sagas checker", () => {
  it("passes when every order is terminal and nothing is reserved", () => {
    expect(checkTerminalSagas([{ id: "1", state: "CONFIRMED" }], stock(1)).valid).toBe(true);
  });
  it("catches an order left in flight and stock left reserved", () => {
    const result = checkTerminalSagas([{ id: "1", state: "PAID" }], stock(0, 1));
    expect(result.problems.join()).toMatch(/1 PAID/);
    expect(result.problems.join()).toMatch(/still reserved/);
  });
});

describe("sold matches orders checker", () => {
  const orders = [
    { state: "CONFIRMED", items: [{ sku: "A", qty: 2 }] },
    { state: "CANCELLED", items: [{ sku: "A", qty: 1 }] },
  ];
  it("passes when sold equals the confirmed quantity", () => {
    expect(checkSoldMatchesOrders(orders, stock(2)).valid).toBe(true);
  });
  it("catches stock sold for a cancelled order", () => {
    expect(checkSoldMatchesOrders(orders, stock(3)).problems.join()).toMatch(
      /sold 3 but CONFIRMED orders hold 2/,
    );
  });
});

describe("no lost reservation checker", () => {
  const reserved = (id: string, items = [{ sku: "A", qty: 1 }]) => ({ id, stockReserved: true, items });
  const row = (orderId: string, state: "HELD" | "COMMITTED" | "RELEASED", qty = 1) => ({
    orderId,
    sku: "A",
    qty,
    state,
  });
  it("passes when every order recorded as reserved has its reservations, in any state", () => {
    const orders = [
      reserved("1"),
      reserved("2"),
      { id: "3", stockReserved: false, items: [{ sku: "A", qty: 1 }] },
    ];
    const result = checkNoLostReservation(orders, [row("1", "COMMITTED"), row("2", "RELEASED")]);
    expect(result).toEqual({ valid: true, problems: [] });
  });
  it("catches an acknowledged reservation that was never stored", () => {
    const result = checkNoLostReservation([reserved("1"), reserved("2")], [row("1", "COMMITTED")]);
    expect(result.valid).toBe(false);
    expect(result.problems).toEqual([
      expect.stringMatching(/order 2: A was acknowledged as reserved .* no reservation/),
    ]);
  });
  it("catches a reservation of another quantity", () => {
    const result = checkNoLostReservation([reserved("1", [{ sku: "A", qty: 2 }])], [row("1", "HELD", 1)]);
    expect(result.problems.join()).toMatch(/reserved for 2 but the reservation holds 1/);
  });
});
