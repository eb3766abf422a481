import { chmodSync, mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { type Command, InvalidArgumentError, Option } from "commander";
import { checkTarget, targetSystem } from "../lab/deployment/system.ts";
import { loadTopologyFile, TopologyFileError } from "../lab/deployment/topology-file.ts";
import { failedSetup } from "../lab/experiments/assemble.ts";
import {
  LabSystems,
  type PreparedSystem,
  SINGLE_REGION,
  withCapacity,
} from "../lab/experiments/lab-systems.ts";
import { usesCapacity } from "../lab/experiments/load.ts";
import { ExperimentError, type LoadedExperiment, loadExperiment } from "../lab/experiments/loader.ts";
import { runExperiment } from "../lab/experiments/runner.ts";
import { builtInSuite, QUICK } from "../lab/experiments/suite.ts";
import type { SystemUnderTest } from "../lab/experiments/system.ts";
import {
  baseOf,
  DEFAULT_SHRINK_RUNS,
  explorations,
  reproduceFailures,
  targetsOf,
} from "../lab/explore/session.ts";
import { compareToBaseline, loadBaseline } from "../lab/report/compare.ts";
import { renderSummary } from "../lab/report/terminal.ts";
import { writeReport } from "../lab/report/write.ts";
import type { RunResult } from "../lab/run/result.ts";
import { startTopology, type Topology } from "../lab/topology/launcher.ts";
import { builtInBugFromEnv, builtInBugWarning, LAB_SERVICE_ENV } from "../lab/topology/service-env.ts";
import { randomSeed } from "../lab/workload/rng.ts";
import { BUILT_IN_BUG_NAMES, type BuiltInBug } from "../shop/built-in-bugs.ts";

export function registerVerify(program: Command) {
  program
    .command("verify")
    .description(
      "run the fault-tolerance suite against a locally launched shop (or an existing deployment) and write the report",
    )
    .option("--quick", `a representative subset (${QUICK.join(", ")})`, false)
    .option("--scenario <name...>", "run only these experiments (built-in names)")
    .option("--experiment <file...>", "run these experiment files instead of the built-in suite")
    .option("--baseline <result.json>", "flag regressions against an earlier run")
    .option("--out <dir>", "report directory (default .chaoscart/reports/<timestamp>)")
    .option(
      "--target <topology-file>",
      "verify an existing deployment described by a topology file (or a `lab up` directory, which has one) " +
        "instead of launching a lab; experiments with faults need the file's lab control API",
    )
    .addOption(
      new Option(
        "--shop-bug <name>",
        "launch the shop with this deliberate bug switched on, to prove the suite catches it " +
          "(the lab's regression guard; the report says so on every page)",
      )
        .choices(BUILT_IN_BUG_NAMES)
        .conflicts("target"),
    )
    .addOption(
      new Option(
        "--explore <n>",
        "run n experiments with random fault schedules on the baseline workload (instead of the suite, or " +
          "after the experiments --quick, --scenario or --experiment chose, on the same lab); " +
          "a failing schedule is shrunk and written next to the report as <name>-repro.yaml",
      )
        .argParser((value) => {
          const n = wholeNumber(value);
          if (n < 1) throw new InvalidArgumentError("expected at least 1");
          return n;
        })
        .conflicts("target"),
    )
    .option("--seed <s>", "with --explore: the first schedule's seed (default: from the clock)", wholeNumber)
    .option(
      "--shrink-runs <n>",
      `with --explore: re-runs spent shrinking each failing schedule (default ${DEFAULT_SHRINK_RUNS})`,
      wholeNumber,
    )
    .option("--keep", "keep the lab work directory (PostgreSQL data, service logs)", false)
    .action(async (opts) => {
      // Asked for by the option, or by CHAOSCART_BUILT_IN_BUG in this shell (never silently inherited).
      const shellBug = builtInBugFromEnv(process.env);
      const bug = opts.target ? undefined : ((opts.shopBug as BuiltInBug | undefined) ?? shellBug);
      const exploreOnly = opts.explore && !opts.quick && !opts.scenario && !opts.experiment;
      const experiments = exploreOnly ? [] : select(opts);
      const baseline = opts.baseline ? await loadBaseline(opts.baseline) : undefined;
      const target = opts.target ? await loadTarget(opts.target) : undefined; // before anything is written
      const stamp = new Date().toISOString().replace(/[:.]/g, "-");
      const out = path.resolve(opts.out ?? path.join(".chaoscart", "reports", stamp));
      const workDir = path.resolve(".chaoscart", "verify", stamp);
      mkdirSync(workDir, { recursive: true });
      chmodSync(workDir, 0o755);
      const log = (line: string) => console.log(`[verify] ${line}`);
      const controller = new AbortController();
      let interrupted = false;
      const onSignal = () => {
        if (interrupted) return;
        interrupted = true;
        log("interrupted: healing faults and tearing down");
        controller.abort();
      };
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);

      const started = Date.now();
      if (opts.target && shellBug) {
        log(`CHAOSCART_BUILT_IN_BUG in this shell is ignored: --target verifies the deployment as it runs`);
      }
      const launchedBug = bug ?? (target?.settings.builtInBug as BuiltInBug | undefined);
      if (launchedBug) log(builtInBugWarning(launchedBug));
      if (experiments.length > 0)
        log(`${experiments.length} experiment(s): ${experiments.map((e) => e.experiment.name).join(", ")}`);
      // A lab per set of regions, launched when an experiment first needs it (lab-systems.ts).
      const labs = target
        ? undefined
        : new LabSystems({
            log,
            launch: (regions) =>
              startTopology({
                regions,
                replication: "sync",
                workDir: path.join(workDir, `lab-${regions.join("-")}`),
                keep: opts.keep,
                serviceEnv: { ...LAB_SERVICE_ENV, CHAOSCART_LOG_LEVEL: "warn" },
                ...(bug ? { builtInBug: bug } : {}),
                log: (line) => log(`lab: ${line}`),
                onServiceExit: (name, code, signal) => log(`${name} exited (${signal ?? `code ${code}`})`),
              }),
          });
      /** The target and, once an experiment's rate is relative to it, its capacity (orders/s). */
      let onTarget: PreparedSystem | undefined;
      if (target) {
        onTarget = { system: target };
        log(`target: ${target.gatewayUrl}`);
        if (!target.faults) log(`${target.noFaultsReason}: experiments with faults are reported as not run`);
      }
      const results: RunResult[] = [];
      const run = async (loaded: LoadedExperiment, later: readonly LoadedExperiment[] = []) => {
        let prepared: PreparedSystem;
        if (onTarget) {
          if (loaded.experiment.topology.regions.length > 1) return notOnTarget(loaded, onTarget.system, log);
          if (usesCapacity(loaded.experiment) && onTarget.capacity === undefined)
            onTarget = await withCapacity(onTarget.system, log);
          prepared = onTarget;
        } else {
          const lab = await labs?.forExperiment(loaded, later);
          if (!lab) throw new Error("neither a target nor a lab to run on");
          await restartStoppedServices(lab.topology, log);
          prepared = lab;
        }
        const { system, capacity } = prepared;
        const result = await runExperiment(loaded, {
          system,
          // The raw history goes with the report it backs: <out>/<experiment>/history.jsonl.
          runDir: path.join(out, loaded.experiment.name),
          log: (line) => log(`  ${line}`),
          progress: (line) => log(`  ${line}`),
          signal: controller.signal,
          ...(capacity === undefined ? {} : { capacity }),
        });
        log(`  ${result.verdict.toUpperCase()} in ${(result.durationMs / 1000).toFixed(0)} s`);
        if (result.aborted?.atMs === 0) log(`  ${result.aborted.reason}`);
        return result;
      };
      let reproducers: string[] = [];
      const total = experiments.length + (opts.explore ?? 0);
      const runAll = async (list: readonly LoadedExperiment[], done: number) => {
        for (const [i, loaded] of list.entries()) {
          if (controller.signal.aborted) break;
          log(`(${done + i + 1}/${total}) ${loaded.experiment.name}: ${loaded.experiment.description}`);
          results.push(await run(loaded, list.slice(i + 1)));
        }
      };
      try {
        await runAll(experiments, 0);
        if (opts.explore && !controller.signal.aborted) {
          // Schedules aim at what this lab launched, so they are drawn once it is up (the lab the
          // chosen experiments ran on, when they ran on one region: its capacity is measured already).
          const seed = opts.seed ?? randomSeed();
          const baseline = builtInSuite().find((e) => e.experiment.name === "baseline");
          const topology = (await labs?.launch(SINGLE_REGION))?.topology;
          if (!topology || !baseline)
            throw new Error("--explore needs a launched lab and the baseline experiment");
          const dir = path.join(out, "explore");
          const explored = explorations(opts.explore, seed, targetsOf(topology), baseOf(baseline), dir);
          log(`exploring ${opts.explore} random fault schedule(s) from seed ${seed} (files in ${dir})`);
          await runAll(explored, experiments.length);
          if (!controller.signal.aborted) {
            const budget = opts.shrinkRuns ?? DEFAULT_SHRINK_RUNS;
            reproducers = await reproduceFailures(explored, results, { run, out, budget, log });
          }
        }
      } finally {
        await labs?.stopAll();
        if (!opts.keep) rmSync(workDir, { recursive: true, force: true });
      }
      if (results.length === 0) throw new Error("no experiment completed");
      const paths = await writeReport(out, results);
      console.log("");
      console.log(renderSummary(results, { color: process.stdout.isTTY === true }));
      if (baseline) {
        const regressions = compareToBaseline(results, baseline);
        console.log(
          regressions.length === 0
            ? "no regression against the baseline"
            : "regressions against the baseline:",
        );
        for (const r of regressions) console.log(`  ${r.message}`);
        if (regressions.length > 0) process.exitCode = 1;
      }
      console.log(`report: ${paths.html}\nresult: ${paths.json}\njunit:  ${paths.junit}`);
      console.log(`runs:   ${path.join(out, "<experiment>")} (re-check with chaoscart check <run-dir>)`);
      for (const file of reproducers) console.log(`failing schedule: ${file} (run it with --experiment)`);
      console.log(`total ${((Date.now() - started) / 1000).toFixed(0)} s`);
      // Anything but pass is non-zero: an incomplete run did not check what it was asked to.
      if (results.some((r) => r.verdict !== "pass") || interrupted) process.exitCode = 1;
    });
}

function select(opts: { quick: boolean; scenario?: string[]; experiment?: string[] }): LoadedExperiment[] {
  try {
    if (opts.experiment) return opts.experiment.map((file) => loadExperiment(file));
    const suite = builtInSuite();
    const names = opts.scenario ?? (opts.quick ? QUICK : undefined);
    if (!names) return suite;
    const unknown = names.filter((n) => !suite.some((e) => e.experiment.name === n));
    if (unknown.length > 0) {
      throw new Error(
        `unknown scenario(s) ${unknown.join(", ")}; built-in: ${suite.map((e) => e.experiment.name).join(", ")}`,
      );
    }
    return suite.filter((e) => names.includes(e.experiment.name));
  } catch (error) {
    if (error instanceof ExperimentError) throw new Error(`invalid experiment:\n${error.message}`);
    throw error;
  }
}

function wholeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected a whole number");
  return n;
}

/** The deployment of `--target`: the topology file, validated, and every endpoint in it answering. */
async function loadTarget(where: string): Promise<SystemUnderTest> {
  try {
    const { file, topology } = loadTopologyFile(where);
    await checkTarget(topology, file);
    return targetSystem(topology, file);
  } catch (error) {
    if (error instanceof TopologyFileError) throw new Error(`invalid --target:\n${error.message}`);
    throw error;
  }
}

/**
 * A topology file describes one region (deployment/topology-file.ts), so an experiment on several
 * regions cannot run on a target: reported as not run, every check "not checked", never a pass.
 */
function notOnTarget(loaded: LoadedExperiment, system: SystemUnderTest, log: (l: string) => void): RunResult {
  const regions = loaded.experiment.topology.regions.join(", ");
  const why = `it needs ${regions} run as one system, and --target describes a single region`;
  log(`  not run: ${why}`);
  return failedSetup(loaded, system, new Date(), `not run: ${why}`, why);
}

/** A previous experiment may have left a service down (e.g. a restart that failed); start it again, loudly. */
async function restartStoppedServices(topology: Topology, log: (l: string) => void) {
  for (const [name, service] of topology.services()) {
    if (service.pid) continue;
    log(`restarting ${name}, left stopped by the previous experiment`);
    await service.restart();
  }
}
