import { describe, expect, it } from "vitest";
import { FaultPlanner, faultKnobsPatchSchema, seededRandom } from "../../../src/shop/payments/faults.ts";

function draws(planner: FaultPlanner, n: number) {
  return Array.from({ length: n }, () => planner.draw());
}

describe("fault knobs", () => {
  it("inject nothing by default", () => {
    const planner = new FaultPlanner({}, seededRandom(1));
    expect(draws(planner, 100).every((plan) => plan.delayMs === 0 && !plan.error)).toBe(true);
    expect(Array.from({ length: 100 }, () => planner.decline()).some(Boolean)).toBe(false);
  });

  it("are deterministic for a seed", () => {
    const knobs = { latencyMs: 50, jitterMs: 20, errorRate: 0.3, errorMode: "mixed" as const };
    const a = draws(new FaultPlanner(knobs, seededRandom(42)), 200);
    const b = draws(new FaultPlanner(knobs, seededRandom(42)), 200);
    const c = draws(new FaultPlanner(knobs, seededRandom(43)), 200);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it("keep latency within latency ± jitter, never negative", () => {
    const planner = new FaultPlanner({ latencyMs: 10, jitterMs: 30 }, seededRandom(7));
    const delays = draws(planner, 2000).map((plan) => plan.delayMs);
    expect(Math.min(...delays)).toBe(0);
    expect(Math.max(...delays)).toBeLessThanOrEqual(40);
    expect(Math.max(...delays)).toBeGreaterThan(30);
  });

  it("inject errors at the configured rate, with the configured status and mode", () => {
    const planner = new FaultPlanner(
      { errorRate: 0.2, errorStatus: 500, errorMode: "mixed" },
      seededRandom(3),
    );
    const errors = draws(planner, 10_000).flatMap((plan) => (plan.error ? [plan.error] : []));
    expect(errors.length).toBeGreaterThan(1800);
    expect(errors.length).toBeLessThan(2200);
    expect(errors.every((error) => error.status === 500)).toBe(true);
    const after = errors.filter((error) => error.when === "after").length;
    expect(after / errors.length).toBeGreaterThan(0.4);
    expect(after / errors.length).toBeLessThan(0.6);

    planner.update({ errorRate: 1, errorMode: "after", errorStatus: 503 });
    expect(
      draws(planner, 50).every((plan) => plan.error?.when === "after" && plan.error.status === 503),
    ).toBe(true);
  });

  it("decline at the configured rate", () => {
    const planner = new FaultPlanner({ declineRate: 0.1 }, seededRandom(5));
    const declined = Array.from({ length: 10_000 }, () => planner.decline()).filter(Boolean).length;
    expect(declined).toBeGreaterThan(850);
    expect(declined).toBeLessThan(1150);
  });

  it("accept partial updates and refuse bad or unknown knobs", () => {
    const planner = new FaultPlanner();
    expect(planner.update({ latencyMs: 3000 })).toMatchObject({ latencyMs: 3000, errorRate: 0 });
    expect(faultKnobsPatchSchema.safeParse({ errorRate: 1.5 }).success).toBe(false);
    expect(faultKnobsPatchSchema.safeParse({ errorStatus: 502 }).success).toBe(false);
    expect(faultKnobsPatchSchema.safeParse({ errorMode: "sometimes" }).success).toBe(false);
    expect(faultKnobsPatchSchema.safeParse({ latency: 5 }).success).toBe(false);
    expect(() => new FaultPlanner({ errorRate: -1 })).toThrow();
  });
});
