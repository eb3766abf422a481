import { describe, expect, it } from "vitest";
import { type CostCell, pairedRatios, verdict } from "../../bench/regions-figures.ts";

const on = (ordersPerSecond: number): CostCell => ({ replication: "on", ordersPerSecond });
const off = (ordersPerSecond: number): CostCell => ({ replication: "off", ordersPerSecond });

describe("bench:regions figures", () => {
  it("divides each pair of neighbouring cells on by off, whichever of the two ran first", () => {
    expect(pairedRatios([on(90), off(100), off(200), on(150), on(80), off(100), off(50), on(50)])).toEqual([
      0.9, 0.75, 0.8, 1,
    ]);
  });

  it("gives no ratio for a pair without both sides, or with an off cell that confirmed nothing", () => {
    expect(pairedRatios([on(90), off(0), off(100), off(100), on(10)])).toEqual([]);
  });

  it("says a target is met or missed only when every pair agrees", () => {
    expect(verdict([0.9, 0.86], 0.85)).toBe("met");
    expect(verdict([0.8, 0.84], 0.85)).toBe("missed");
    expect(verdict([0.8, 0.9], 0.85)).toBe("undecided");
    expect(verdict([], 0.85)).toBe("none");
  });
});
