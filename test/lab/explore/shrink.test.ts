import { describe, expect, it } from "vitest";
import { dropOne, shrinkSchedule } from "../../../src/lab/explore/shrink.ts";

const isSubset = (small: readonly string[], big: readonly string[]) => small.every((x) => big.includes(x));

describe("shrinking a failing schedule", () => {
  it("proposes each schedule without one fault, in order", () => {
    expect(dropOne(["a", "b", "c"])).toEqual([
      ["b", "c"],
      ["a", "c"],
      ["a", "b"],
    ]);
    expect(dropOne([])).toEqual([]);
    for (const candidate of dropOne(["a", "b", "c", "d"])) {
      expect(candidate).toHaveLength(3);
      expect(isSubset(candidate, ["a", "b", "c", "d"])).toBe(true);
    }
  });

  it("keeps dropping faults while the schedule still fails, down to the ones that matter", async () => {
    const tried: string[][] = [];
    // Fails when b and d both run (an interaction of two faults).
    const stillFails = async (faults: string[]) => {
      tried.push(faults);
      return faults.includes("b") && faults.includes("d");
    };
    const shrunk = await shrinkSchedule(["a", "b", "c", "d", "e"], stillFails, 100);
    expect(shrunk.faults).toEqual(["b", "d"]);
    expect(shrunk.minimal).toBe(true);
    expect(shrunk.runs).toBe(tried.length);
    for (const candidate of tried) expect(isSubset(candidate, ["a", "b", "c", "d", "e"])).toBe(true);
  });

  it("shrinks to no fault at all when the schedule fails without any", async () => {
    const shrunk = await shrinkSchedule(["a", "b"], async () => true, 10);
    expect(shrunk).toEqual({ faults: [], runs: 2, minimal: true });
  });

  it("stops at the re-run budget with the smallest schedule seen to fail", async () => {
    let runs = 0;
    const shrunk = await shrinkSchedule(
      ["a", "b", "c", "d"],
      async (faults) => {
        runs++;
        return faults.includes("d");
      },
      2,
    );
    expect(runs).toBe(2);
    expect(shrunk).toEqual({ faults: ["c", "d"], runs: 2, minimal: false });
  });

  it("leaves a schedule none of whose faults can be dropped as it is", async () => {
    const shrunk = await shrinkSchedule(["a", "b"], async () => false, 10);
    expect(shrunk).toEqual({ faults: ["a", "b"], runs: 2, minimal: true });
  });
});
