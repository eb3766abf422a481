// The figures of a run on two regions that need no lab: how the stock is split between the regions,
// and when a series of digest comparisons says the regions converged.
import { describe, expect, it } from "vitest";
import { convergenceOf } from "../../../src/lab/experiments/convergence.ts";
import { splitStock } from "../../../src/lab/experiments/seeding.ts";

describe("two regions", () => {
  it("split the stock of each hot SKU between the regions, every unit once", () => {
    expect(splitStock(351, 2)).toEqual([176, 175]);
    expect(splitStock(1, 2)).toEqual([1, 0]);
    expect(splitStock(300, 1)).toEqual([300]);
  });

  it("converged at the first equal look after the last unequal one", () => {
    const looks = [
      { at: 0, differing: 3 },
      { at: 500, differing: 0 },
      { at: 1000, differing: 2 },
      { at: 1500, differing: 0 },
      { at: 2000, differing: 0 },
    ];
    expect(convergenceOf(looks, 10_000)).toEqual({
      convergedAfterMs: 1500,
      differingRows: 0,
      looks: 5,
      unequalLooks: 2,
      boundMs: 10_000,
    });
  });

  it("never converged when the last look still differs: Infinity, with the rows that differ", () => {
    const record = convergenceOf(
      [
        { at: 0, differing: 0 },
        { at: 500, differing: 4 },
      ],
      10_000,
    );
    expect(record.convergedAfterMs).toBe(Number.POSITIVE_INFINITY);
    expect(record.differingRows).toBe(4);
  });
});
