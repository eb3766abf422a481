import { expect, it } from "vitest";
import { BENCH_SERVICE_ENV, LAB_SERVICE_ENV } from "../../../src/lab/topology/service-env.ts";

it("the bench measures the shop's own settings: none of the lab's experiment settings, limits out of the way", () => {
  const labOnly = Object.keys(LAB_SERVICE_ENV).filter((key) => !key.includes("RATE_LIMIT"));
  expect(labOnly.length).toBeGreaterThan(0);
  for (const key of labOnly) expect(BENCH_SERVICE_ENV).not.toHaveProperty(key);
  for (const [key, value] of Object.entries(BENCH_SERVICE_ENV)) {
    if (key.includes("RATE_LIMIT")) expect(Number(value)).toBeGreaterThanOrEqual(1_000_000);
  }
});
