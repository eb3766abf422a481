/**
 * Group commit in the order path, on and off, side by side in one run (issue "flash-sale speed" §3):
 * the e2e orders bench (bench/orders.ts) with one group-commit setting of the order service at 0
 * and at the shop's default (or --on), in the order off, on, on, off so that drift on a shared
 * machine falls on both alike. The setting (--setting): the saga's placements and forward steps
 * (CHAOSCART_ORDER_GROUP_COMMIT_IN_FLIGHT, the default), the batched reserves or the batched
 * commits of reservations (CHAOSCART_INVENTORY_RESERVE_BATCH_IN_FLIGHT, …_COMMIT_BATCH_IN_FLIGHT). Per concurrency: confirmed orders/s, p99, database
 * commits and CPU per confirmed order, and the ratio on / off. Every run's invariants must hold.
 *
 *   npm run bench:group-commit [-- --concurrency 16,64 --duration 5s --setting CHAOSCART_INVENTORY_COMMIT_BATCH_IN_FLIGHT]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Command, Option } from "commander";
import { parseConcurrency, parseDuration, progress } from "./common.ts";
import { runE2e } from "./orders.ts";
import type { E2eCell, E2eReport } from "./report.ts";

type Variant = "off" | "on";
const ORDER: Variant[] = ["off", "on", "on", "off"];
const SETTINGS = {
  CHAOSCART_ORDER_GROUP_COMMIT_IN_FLIGHT: "placements and forward steps",
  CHAOSCART_INVENTORY_RESERVE_BATCH_IN_FLIGHT: "reserves (batched calls to the inventory)",
  CHAOSCART_INVENTORY_COMMIT_BATCH_IN_FLIGHT: "commits of reservations (batched calls)",
} as const;
type Setting = keyof typeof SETTINGS;

interface CellFigures {
  ordersPerSecond: number;
  p99Ms: number;
  commitsPerOrder: number | undefined;
  cpuMsPerOrder: number | undefined;
}

function figures(cell: E2eCell): CellFigures {
  const d = cell.diagnostics;
  return {
    ordersPerSecond: cell.ordersPerSecond,
    p99Ms: cell.latencyMs.p99,
    commitsPerOrder: d?.dbCommitsPerOrder,
    cpuMsPerOrder: d
      ? Object.entries(d.cpuMsPerOrder)
          .filter(([process]) => process !== "bench")
          .reduce((sum, [, ms]) => sum + ms, 0)
      : undefined,
  };
}

const mean = (values: (number | undefined)[]) => {
  const known = values.filter((v): v is number => v !== undefined);
  return known.length ? known.reduce((a, b) => a + b, 0) / known.length : undefined;
};
const fixed = (value: number | undefined, digits: number) =>
  value === undefined ? "—" : value.toFixed(digits);

async function main(): Promise<number> {
  const o = new Command("bench-group-commit")
    .option("--concurrency <list>", "client counts, comma-separated", parseConcurrency, [16, 64])
    .option("--duration <time>", "timed window per cell", parseDuration, 5_000)
    .addOption(
      new Option("--setting <name>", "the order service's setting turned off (0) and on")
        .choices(Object.keys(SETTINGS))
        .default("CHAOSCART_ORDER_GROUP_COMMIT_IN_FLIGHT"),
    )
    .option("--on <n>", "the setting's value in the 'on' runs (default: the shop's)")
    .option("--out <path>", "JSON results file", "bench/results/group-commit.json")
    .parse(process.argv)
    .opts();
  const setting = o.setting as Setting;
  const log = progress();
  const runs: { variant: Variant; report: E2eReport }[] = [];
  for (const variant of ORDER) {
    log.say(`${setting} ${variant}: e2e at ${o.concurrency.join(",")} clients`);
    const value: string | undefined = variant === "off" ? "0" : o.on;
    const report = await runE2e({
      replication: "sync",
      concurrency: o.concurrency,
      durationMs: o.duration,
      warmupMs: 1_000,
      keepLogs: false,
      ...(value === undefined ? {} : { serviceEnv: { order: { [setting]: value } } }),
      signal: new AbortController().signal,
      progress: log,
    });
    runs.push({ variant, report });
  }

  const rows = (o.concurrency as number[]).map((concurrency) => {
    const of = (variant: Variant) =>
      runs
        .filter((r) => r.variant === variant)
        .map((r) => r.report.cells.find((c) => c.concurrency === concurrency))
        .filter((c): c is E2eCell => c !== undefined)
        .map(figures);
    const summary = (cells: CellFigures[]) => ({
      runs: cells.map((c) => Math.round(c.ordersPerSecond)),
      p99MsRuns: cells.map((c) => Math.round(c.p99Ms)),
      ordersPerSecond: mean(cells.map((c) => c.ordersPerSecond)) ?? 0,
      p99Ms: mean(cells.map((c) => c.p99Ms)),
      commitsPerOrder: mean(cells.map((c) => c.commitsPerOrder)),
      cpuMsPerOrder: mean(cells.map((c) => c.cpuMsPerOrder)),
    });
    const off = summary(of("off"));
    const on = summary(of("on"));
    return {
      concurrency,
      off,
      on,
      ratio: off.ordersPerSecond ? on.ordersPerSecond / off.ordersPerSecond : 0,
    };
  });

  console.log(
    `\nGroup commit of ${SETTINGS[setting]} (${setting}): e2e, sync replica, fsync on; runs off, on, on, off`,
  );
  console.log("clients | mode | orders/s (runs)      |    p99 ms (runs) | commits/order | CPU ms/order");
  for (const row of rows) {
    for (const mode of ["off", "on"] as const) {
      const s = row[mode];
      console.log(
        `${String(row.concurrency).padStart(7)} | ${mode.padEnd(4)} | ${`${Math.round(s.ordersPerSecond)} (${s.runs.join(", ")})`.padEnd(20)} | ${`${fixed(s.p99Ms, 0)} (${s.p99MsRuns.join(", ")})`.padStart(16)} | ${fixed(s.commitsPerOrder, 2).padStart(13)} | ${fixed(s.cpuMsPerOrder, 2).padStart(12)}`,
      );
    }
    console.log(`${" ".repeat(7)} | on / off orders/s: ${row.ratio.toFixed(2)}×`);
  }
  const broken = runs.flatMap((r) =>
    r.report.invariants.filter((i) => !i.held).map((i) => `${r.variant}: ${i.name}: ${i.detail}`),
  );
  console.log(
    broken.length ? `\nINVARIANTS BROKEN:\n  ${broken.join("\n  ")}` : "\nEvery invariant held in every run.",
  );
  const out = path.resolve(o.out);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify({ benchmark: "group-commit", setting, finishedAt: new Date().toISOString(), rows, broken }, null, 2)}\n`,
  );
  console.log(`JSON written to ${path.relative(process.cwd(), out)}`);
  return broken.length ? 1 : 0;
}

process.exit(await main());
