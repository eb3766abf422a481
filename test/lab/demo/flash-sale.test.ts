import { expect, it } from "vitest";
import { runFlashSale } from "../../../src/lab/demo/flash-sale.ts";

it("the main job sells exactly the stock and reports every invariant held", async () => {
  const lines: string[] = [];
  const result = await runFlashSale({
    replication: "async",
    skus: 2,
    stockPerSku: 40,
    buyers: 400,
    concurrency: 32,
    keep: false,
    log: (line) => lines.push(line),
  });
  expect(result.granted).toBe(80);
  expect(result.rejected).toBe(320);
  expect(result.invariants.map((i) => [i.name, i.status])).toEqual(
    result.invariants.map((i) => [i.name, "held"]),
  );
  expect(result.invariants.length).toBeGreaterThanOrEqual(6);
  expect(lines.join("\n")).toMatch(/inventory service ready/);
});
