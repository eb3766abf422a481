import { describe, expect, it } from "vitest";
import { checkInventoryLedger, type LedgerState } from "../../../src/lab/checkers/inventory-ledger.ts";

function validState(): LedgerState {
  return {
    stock: [{ sku: "A", available: 7, reserved: 1, sold: 2, quota: 10 }],
    reservations: [
      { orderId: "o1", sku: "A", qty: 2, state: "COMMITTED" },
      { orderId: "o2", sku: "A", qty: 1, state: "HELD" },
      { orderId: "o3", sku: "A", qty: 1, state: "RELEASED" },
    ],
    movements: [
      { orderId: null, sku: "A", kind: "seed", qty: 10 },
      { orderId: "o1", sku: "A", kind: "reserve", qty: 2 },
      { orderId: "o2", sku: "A", kind: "reserve", qty: 1 },
      { orderId: "o3", sku: "A", kind: "reserve", qty: 1 },
      { orderId: "o1", sku: "A", kind: "commit", qty: 2 },
      { orderId: "o3", sku: "A", kind: "release", qty: 1 },
    ],
  };
}

describe("inventory ledger checker", () => {
  it("accepts a consistent state", () => {
    expect(checkInventoryLedger(validState())).toEqual({ valid: true, problems: [] });
  });

  it("catches unbalanced stock counters (oversell)", () => {
    const state = validState();
    state.stock[0] = { sku: "A", available: 8, reserved: 1, sold: 2, quota: 10 };
    const result = checkInventoryLedger(state);
    expect(result.valid).toBe(false);
    expect(result.problems.join()).toMatch(/!= quota 10/);
  });

  it("catches a reservation without its stock movement", () => {
    const state = validState();
    state.movements = state.movements.filter((m) => !(m.orderId === "o2" && m.kind === "reserve"));
    expect(checkInventoryLedger(state).problems.join()).toMatch(/o2\/A is HELD but its movements are \[\]/);
  });

  it("catches a movement without its reservation", () => {
    const state = validState();
    state.reservations = state.reservations.filter((r) => r.orderId !== "o3");
    expect(checkInventoryLedger(state).problems.join()).toMatch(/movements for o3\/A have no reservation/);
  });

  it("catches stock returned twice", () => {
    const state = validState();
    state.movements.push({ orderId: "o3", sku: "A", kind: "release", qty: 1 });
    state.stock[0] = { sku: "A", available: 8, reserved: 0, sold: 2, quota: 10 };
    expect(checkInventoryLedger(state).valid).toBe(false);
  });

  it("catches counters that disagree with the ledger even when they balance", () => {
    const state = validState();
    state.stock[0] = { sku: "A", available: 5, reserved: 2, sold: 3, quota: 10 };
    const problems = checkInventoryLedger(state).problems.join();
    expect(problems).toMatch(/ledger commits 2 but sold is 3/);
    expect(problems).toMatch(/ledger holds 1 but reserved is 2/);
  });
});
