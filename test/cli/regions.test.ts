import { describe, expect, it } from "vitest";
import { parseSlots } from "../../src/cli/regions.ts";

describe("regions move-slots --slots", () => {
  it("reads slots and ranges, sorted and without repeats", () => {
    expect(parseSlots("3,0-2,2")).toEqual([0, 1, 2, 3]);
    expect(parseSlots("1023")).toEqual([1023]);
  });
  it("names what is wrong", () => {
    expect(() => parseSlots("5-1")).toThrow(/a range goes up/);
    expect(() => parseSlots("0-1024")).toThrow(/slots are 0\.\.1023/);
    expect(() => parseSlots("east")).toThrow(/expected a slot or a range/);
  });
});
