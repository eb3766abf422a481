// The negative proof of `verify --explore` (issue 11 item 7): on a shop launched with a built-in bug,
// a random schedule that happens to fail payments fails a check; shrinking drops the fault that does
// not matter, and the reproducing file it writes is the very schedule that failed last while shrinking
// (the same workload and faults: running it again would only repeat that run). Real PostgreSQL and
// real service processes behind fault links, as `verify` launches them.
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type LoadedExperiment, loadExperiment } from "../../../src/lab/experiments/loader.ts";
import { runExperiment } from "../../../src/lab/experiments/runner.ts";
import { builtInSuite } from "../../../src/lab/experiments/suite.ts";
import { baseOf, explorations, reproduceFailures, targetsOf } from "../../../src/lab/explore/session.ts";
import type { RunResult } from "../../../src/lab/run/result.ts";
import type { Topology } from "../../../src/lab/topology/launcher.ts";
import { launchTestLab, type TestLab } from "../../support/lab.ts";

// Seed 58 draws two faults on the launched lab: a 1.8 s partition of gateway->order, then payment
// errors (90 %) for 5.6 s. Without compensation, the orders whose payment failed keep their stock.
const SEED = 58;

let lab: TestLab;
let dir: string;
let topology: Topology;
beforeAll(async () => {
  lab = await launchTestLab("explore", { builtInBug: "no-compensation" });
  ({ dir, topology } = lab);
}, 120_000);
afterAll(() => lab?.stop(), 60_000);

it("finds a failing schedule on a shop without compensation, shrinks it, and its file fails again", async () => {
  const log: string[] = [];
  const ran: { loaded: LoadedExperiment; result: RunResult }[] = [];
  const run = async (loaded: LoadedExperiment): Promise<RunResult> => {
    const result = await runExperiment(loaded, {
      topology,
      runDir: path.join(dir, "runs", loaded.experiment.name),
      log: (line) => log.push(line),
      // The broken shop's stranded stock never settles: no need to wait the default for it.
      settleLimits: { floorMs: 8_000, stallMs: 5_000 },
      // A stated capacity instead of a ramp: the baseline's 40 % is then 16 orders/s, the load this
      // test's seed was chosen at.
      capacity: 40,
    });
    ran.push({ loaded, result });
    return result;
  };
  const failed = (r: RunResult) => r.checks.filter((c) => c.status === "fail").map((c) => c.name);
  const baseline = builtInSuite().find((e) => e.experiment.name === "baseline");
  if (!baseline) throw new Error("no baseline experiment");

  const explored = explorations(1, SEED, targetsOf(topology), baseOf(baseline), path.join(dir, "explore"));
  expect(explored[0]?.experiment.faults.map((f) => f.action)).toEqual(["partition", "payment"]);
  const result = await run(explored[0] as LoadedExperiment);
  expect(failed(result), log.join("\n")).toContain("terminal-sagas");

  const files = await reproduceFailures(explored, [result], {
    run,
    out: dir,
    budget: 2,
    log: (line) => log.push(line),
  });
  expect(files).toEqual([path.join(dir, `explore-${SEED}-repro.yaml`)]);
  const repro = loadExperiment(files[0] as string);
  // The partition did not matter; the payment errors did (the run without them passed).
  expect(
    repro.experiment.faults.map((f) => f.action),
    log.join("\n"),
  ).toEqual(["payment"]);
  expect(readFileSync(repro.file, "utf8")).toContain("no single fault can be dropped");

  // The file is what failed: the last shrinking candidate that failed ran exactly its experiment.
  const failing = ran.filter(({ result }) => failed(result).includes("terminal-sagas")).at(-1);
  expect(failing?.loaded.file, log.join("\n")).toMatch(/-shrink-\d+\.yaml$/);
  const runnable = ({ name, description, ...rest }: LoadedExperiment["experiment"]) => rest;
  expect(runnable(repro.experiment)).toEqual(runnable((failing as (typeof ran)[number]).loaded.experiment));
}, 300_000);
