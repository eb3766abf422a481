import { describe, expect, it } from "vitest";
import { checkMoney } from "../../src/lab/checkers/money.ts";
import { checkNoLostReservation } from "../../src/lab/checkers/reservations-kept.ts";
import { checkSoldMatchesOrders } from "../../src/lab/checkers/sold-matches-orders.ts";
import { checkTerminalSagas } from "../../src/lab/checkers/terminal-sagas.ts";

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
