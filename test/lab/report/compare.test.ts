import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareToBaseline, loadBaseline } from "../../../src/lab/report/compare.ts";
import { resultJson } from "../../../src/lab/report/write.ts";
import type { RunResult } from "../../../src/lab/run/result.ts";
import { failingRun, passingRun } from "./fixtures.ts";

/** An earlier run of the failing experiment in which everything held. */
function earlierRun(): RunResult {
  const run = failingRun();
  run.verdict = "pass";
  delete run.aborted;
  for (const check of run.checks) {
    check.status = "pass";
    check.summary = "ok";
    check.problems = [];
  }
  for (const h of run.hypotheses) h.status = "pass";
  const [baseline, fault, recovery] = run.slos;
  if (!baseline || !fault || !recovery) throw new Error("fixture");
  baseline.p99Ms = 60; // now 61.2: +2 %, fine
  fault.availability = 0.6914; // now 0.6814: exactly 1 pp down, fine
  fault.p99Ms = 1500; // now 2100: +40 %, a regression
  recovery.availability = 0.998; // now 0.931: a regression
  recovery.p99Ms = 420 / 1.15; // now 420: exactly +15 %, fine
  return run;
}

describe("compareToBaseline", () => {
  it("flags exactly what got worse", () => {
    const regressions = compareToBaseline([failingRun(), passingRun()], [earlierRun()]);
    expect(regressions.map((r) => [r.kind, r.subject])).toEqual([
      ["check", "no-lost-ack"],
      ["hypothesis", "availability (recovery) ≥ 0.99"],
      ["p99", "fault"],
      ["availability", "recovery"],
    ]);
    expect(regressions.map((r) => r.message)).toEqual([
      "inventory-crash: check no-lost-ack passed in the baseline and fails now: 3 violation(s): order o-17 was acknowledged CONFIRMED but is missing",
      "inventory-crash: hypothesis availability (recovery) ≥ 0.99 held in the baseline (observed 0.931) and fails now (observed 0.931)",
      "inventory-crash: p99 in fault rose from 1500 ms to 2100 ms (+40.0%; allowed 15%)",
      "inventory-crash: availability in recovery fell from 99.80% to 93.10% (−6.70 pp; allowed 1 pp)",
    ]);
    // The money check was not checked now: less coverage, but not a failure, so not flagged.
    expect(regressions.some((r) => r.subject === "money")).toBe(false);
  });

  it("finds nothing against itself, or for experiments missing from the baseline", () => {
    expect(compareToBaseline([failingRun()], [failingRun()])).toEqual([]);
    expect(compareToBaseline([failingRun()], [passingRun()])).toEqual([]);
  });
});

describe("loadBaseline", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "chaoscart-baseline-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const write = async (name: string, data: unknown) => {
    const path = join(dir, name);
    await writeFile(path, typeof data === "string" ? data : JSON.stringify(data));
    return path;
  };

  it("reads both result.json shapes", async () => {
    const single = await loadBaseline(await write("single.json", resultJson(failingRun())));
    expect(single.map((r) => r.experiment.name)).toEqual(["inventory-crash"]);
    const suite = await loadBaseline(await write("suite.json", resultJson([passingRun(), failingRun()])));
    expect(suite.map((r) => r.experiment.name)).toEqual(["baseline", "inventory-crash"]);
    expect(suite[1]).toEqual(failingRun());
  });

  it("names the file when it is not a ChaosCart result", async () => {
    const other = await write("package.json", { name: "x", version: "1.0.0" });
    await expect(loadBaseline(other)).rejects.toThrow(`baseline ${other} is not a ChaosCart result`);
    const broken = await write("broken.json", "{ not json");
    await expect(loadBaseline(broken)).rejects.toThrow(
      `baseline ${broken} is not a ChaosCart result: not JSON`,
    );
    const badSuite = await write("bad-suite.json", { schemaVersion: 1, experiments: [{ schemaVersion: 1 }] });
    await expect(loadBaseline(badSuite)).rejects.toThrow(
      /bad-suite\.json is not a ChaosCart result.*experiments\.0/,
    );
    const missing = join(dir, "missing.json");
    await expect(loadBaseline(missing)).rejects.toThrow(`cannot read baseline ${missing}`);
  });
});
