// cross-region-money can fail through the runner (issue 12, "active-active, part 1"): an order
// service whose recovery loop claims other regions' copies (built-in bug "recover-copies") drives
// east's slow orders a second time in west (and west's stuck copies in east), charging them at both
// regions' providers; the per-region checks see more damage besides, which this test leaves open.
// Real PostgreSQL and processes, two regions, as `chaoscart verify` launches them.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadExperiment } from "../../../src/lab/experiments/loader.ts";
import { runExperiment } from "../../../src/lab/experiments/runner.ts";
import { launchTestLab, type TestLab } from "../../support/lab.ts";

const FIXTURE = fileURLToPath(
  new URL("../../fixtures/built-in-bugs/slow-home-inventory.yaml", import.meta.url),
);
let lab: TestLab;

beforeAll(async () => {
  lab = await launchTestLab("two-regions-copies", {
    regions: ["east", "west"],
    builtInBug: "recover-copies",
  });
}, 120_000);

afterAll(async () => {
  await lab?.stop();
}, 60_000);

describe("two regions, order services built with recover-copies", () => {
  it("fail cross-region-money: orders charged by both regions' providers", async () => {
    const result = await runExperiment(loadExperiment(FIXTURE), {
      topology: lab.topology,
      runDir: path.join(lab.dir, "run"),
      log: () => {},
    });
    const failed = result.checks.filter((c) => c.status !== "pass").map((c) => c.name);
    expect(failed).toContain("cross-region-money");
    const money = result.checks.find((c) => c.name === "cross-region-money");
    expect(money?.problems[0]).toMatch(
      /^order \d+ \((CONFIRMED|CANCELLED) in (east|west)\): providers keep \d+, expected \d+/,
    );
    expect(result.verdict).toBe("fail");
  }, 120_000);
});
