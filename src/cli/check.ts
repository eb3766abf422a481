import path from "node:path";
import type { Command } from "commander";
import { CHECK_NAMES } from "../lab/checkers/registry.ts";
import { statusText } from "../lab/report/format.ts";
import { loadSavedRun, recheck } from "../lab/run/saved.ts";
import { formatTable } from "./table.ts";

export function registerCheck(program: Command) {
  program
    .command("check")
    .description(
      "re-run the checkers on a saved run (a run directory: history.jsonl, final-state.json, run.json) " +
        "and print their verdicts; the exit code is non-zero unless every check passes",
    )
    .argument("<run-dir>", "a run directory, e.g. .chaoscart/reports/<timestamp>/<experiment>")
    .option("--checks <name...>", `run only these checks (${CHECK_NAMES.join(", ")})`)
    .action(async (runDir: string, opts: { checks?: string[] }) => {
      const run = await loadSavedRun(path.resolve(runDir));
      const { checks, verdict } = recheck(run, opts.checks);
      console.log(
        `${run.record.experiment.name} (started ${run.record.startedAt}), ${run.history.length} ops`,
      );
      console.log(
        formatTable(
          ["check", "status", "detail"],
          checks.map((c) => [c.name, c.status === "fail" ? "FAIL" : statusText(c.status), c.summary]),
        ),
      );
      for (const check of checks.filter((c) => c.status === "fail")) {
        console.log(`\n${check.name}:`);
        for (const problem of check.problems) console.log(`  ${problem}`);
      }
      console.log(`\nverdict: ${verdict.toUpperCase()}`);
      if (verdict !== "pass") process.exitCode = 1;
    });
}
