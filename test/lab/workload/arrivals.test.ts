import { describe, expect, it } from "vitest";
import { arrivalTimes } from "../../../src/lab/workload/arrivals.ts";
import { KnownOrders, OperationPlanner } from "../../../src/lab/workload/operations.ts";
import { Rng } from "../../../src/lab/workload/rng.ts";

describe("arrival schedules", () => {
  it("constant: exactly rate × duration arrivals, evenly spaced from 0", () => {
    const times = [...arrivalTimes({ rate: 400, arrival: "constant", durationMs: 40_000 }, new Rng(1))];
    expect(times).toHaveLength(16_000);
    expect(times[0]).toBe(0);
    expect(times[1]).toBe(2.5);
    expect(times.at(-1)).toBe(39_997.5);
    expect([...arrivalTimes({ rate: 7, arrival: "constant", durationMs: 1000 }, new Rng(1))]).toHaveLength(7);
    expect([...arrivalTimes({ rate: 3, arrival: "constant", durationMs: 10_000 }, new Rng(1))]).toHaveLength(
      30,
    );
  });

  it("poisson: count within 4σ of rate × duration, exponential gaps, same seed same schedule", () => {
    const schedule = { rate: 1000, arrival: "poisson" as const, durationMs: 60_000 };
    const times = [...arrivalTimes(schedule, new Rng(12345))];
    expect(Math.abs(times.length - 60_000)).toBeLessThan(4 * Math.sqrt(60_000));
    const gaps = times.slice(1).map((t, i) => t - (times[i] ?? 0));
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    expect(mean).toBeCloseTo(1, 1);
    // Exponential: P(gap > mean) = e^-1 ≈ 0.368.
    expect(gaps.filter((g) => g > 1).length / gaps.length).toBeCloseTo(Math.exp(-1), 1);
    expect(times.every((t, i) => i === 0 || t >= (times[i - 1] ?? 0))).toBe(true);
    expect([...arrivalTimes(schedule, new Rng(12345))]).toEqual(times);
    expect([...arrivalTimes(schedule, new Rng(54321))]).not.toEqual(times);
  });

  it("rejects a rate that is not positive", () => {
    expect(() => [...arrivalTimes({ rate: 0, arrival: "constant", durationMs: 1000 }, new Rng(1))]).toThrow(
      /rate/,
    );
  });
});

describe("operation mix", () => {
  it("follows the weights, sends most orders to hot SKUs, and reads only orders it knows", () => {
    const planner = new OperationPlanner(
      { users: 100, hotSkus: ["HOT-1", "HOT-2"], coldSkus: ["COLD-1", "COLD-2", "COLD-3"] },
      { order: 6, "order-read": 2, "catalog-read": 2 },
      new Rng(99),
      "test",
    );
    const known = new KnownOrders(100);
    const plans = Array.from({ length: 20_000 }, (_, i) => {
      const plan = planner.plan(i, known);
      if (plan.kind === "order") known.add(`o-${i}`, plan.userId);
      return plan;
    });
    const share = (kind: string) => plans.filter((plan) => plan.kind === kind).length / plans.length;
    expect(share("order")).toBeCloseTo(0.6, 1);
    expect(share("order-read")).toBeCloseTo(0.2, 1);
    expect(share("catalog-read")).toBeCloseTo(0.2, 1);
    const orders = plans.flatMap((plan) => (plan.kind === "order" ? [plan] : []));
    const items = orders.flatMap((plan) => plan.items);
    expect(items.filter((item) => item.sku.startsWith("HOT")).length / items.length).toBeCloseTo(0.9, 1);
    expect(items.every((item) => item.qty === 1)).toBe(true);
    const twoItems = orders.filter((plan) => plan.items.length === 2);
    expect(twoItems.length / orders.length).toBeGreaterThan(0.03);
    expect(twoItems.length / orders.length).toBeLessThan(0.15);
    expect(twoItems.every((plan) => plan.items[0]?.sku !== plan.items[1]?.sku)).toBe(true);
    expect(new Set(orders.map((plan) => plan.userId)).size).toBe(100);
    expect(new Set(orders.map((plan) => plan.idempotencyKey)).size).toBe(orders.length);
    for (const plan of orders) expect(plan.idempotencyKey).toMatch(/^[A-Za-z0-9_.:-]{8,128}$/);
    const reads = plans.flatMap((plan) => (plan.kind === "catalog-read" ? [plan] : []));
    const missing = reads.filter((plan) => !plan.exists);
    expect(missing.length / reads.length).toBeGreaterThan(0.02);
    expect(missing.length / reads.length).toBeLessThan(0.1);
    for (const plan of missing) expect(plan.sku).toMatch(/^[A-Z0-9][A-Z0-9_-]{0,63}$/);
  });

  it("turns an order read into a catalog read while no order is known", () => {
    const planner = new OperationPlanner(
      { users: 1, hotSkus: ["A"], coldSkus: [] },
      { order: 0, "order-read": 1, "catalog-read": 0 },
      new Rng(3),
      "test",
    );
    expect(planner.plan(1, new KnownOrders()).kind).toBe("catalog-read");
    const known = new KnownOrders();
    known.add("42", "u-0");
    expect(planner.plan(2, known)).toEqual({ kind: "order-read", orderId: "42", userId: "u-0" });
  });

  it("rejects an empty catalogue and a mix without weight", () => {
    expect(() => new OperationPlanner({ users: 1, hotSkus: [], coldSkus: [] }, {}, new Rng(1), "t")).toThrow(
      /SKU/,
    );
    expect(
      () =>
        new OperationPlanner(
          { users: 1, hotSkus: ["A"], coldSkus: [] },
          { order: 0, "order-read": 0, "catalog-read": 0 },
          new Rng(1),
          "t",
        ),
    ).toThrow(/mix/);
  });
});
