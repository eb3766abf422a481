/**
 * `npm run bench:flash-sale`: a flash sale as it happens (issue 13 §1): far more buyers than units,
 * arriving faster than the shop can confirm, open loop through the gateway (rate limits lifted, the
 * order service's own admission control as deployed), at a few hot SKUs with a fixed quota each plus a
 * trickle of orders for cold SKUs. Side by side in one run, on the same gateway and with the same
 * generator and client: the gateway's no-op order route (`/bench/noop-order`: parsing, limits and the
 * routing decision, no upstream), the ceiling the sale's answer rate is reported against.
 *
 * Reports, per class of answer (confirmed, sold out, 429, other): answers/s and p50/p99/p99.9 latency
 * from each buyer's *intended* send time; the time each hot SKU took to sell out, units sold against
 * the quota, false sold-outs (refused while stock was available, the lab's checker), CPU per answer
 * across every process, and every lab invariant over the run's history and final state. A buyer is
 * one attempt: no retry after a 429 (the next buyer is the retry). Durability as deployed: fsync and
 * synchronous_commit on, a synchronous standby. A warm-up burst on SKUs of its own comes before the
 * sale (`--warmup`), settles and is checked, and is not counted. Writes bench/results/flash-sale.json.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Command } from "commander";
import postgres from "postgres";
import { availabilityTimelines } from "../src/lab/checkers/false-sold-out.ts";
import { CHECK_NAMES, runChecks } from "../src/lab/checkers/registry.ts";
import { isUnreadable, namedInHistory, readFinalState } from "../src/lab/experiments/final-state.ts";
import { settle } from "../src/lab/experiments/settle.ts";
import type { HistoryOp } from "../src/lab/history/op.ts";
import { type ServiceRole, startTopology, type Topology } from "../src/lab/topology/launcher.ts";
import { BENCH_SERVICE_ENV } from "../src/lab/topology/service-env.ts";
import { runWorkload } from "../src/lab/workload/index.ts";
import { seedSkus } from "./api.ts";
import { parseDuration, parseWarmup, progress } from "./common.ts";
import { cpuBetween, cpuSnapshot } from "./cpu.ts";
import { cpuProfileEnv } from "./cpu-profile-env.ts";
import { classFigures, classify, refusals } from "./flash-sale-figures.ts";

interface Options {
  rate: number;
  duration: number;
  hotSkus: number;
  units: number;
  coldShare: number;
  connections: number;
  timeout: number;
  warmup: number;
  warmupRate: number;
  gate: boolean;
  out: string;
  keep: boolean;
  cpuProf?: string;
}

const HOT_PRICE = 1_000;
const COLD_STOCK = 10_000_000;
const COLD_SKUS = 20;
/** The warm-up's own SKU on sale: it sells out within the warm-up, so the gate's path warms up too. */
const WARMUP_UNITS = 300;

/** Host busy (all cores) from which a burst's figures are flagged as bound by the machine. */
const SATURATED_PERCENT = 95;

async function main(options: Options): Promise<number> {
  const { say, status } = progress();
  const dir = mkdtempSync(path.join(os.tmpdir(), "chaoscart-bench-flash-sale-"));
  chmodSync(dir, 0o755);
  let topology: Topology | undefined;
  try {
    say("launching the shop (primary + synchronous standby, fsync on), rate limits lifted");
    topology = await startTopology({
      regions: ["east"],
      replication: "sync",
      links: false,
      workDir: path.join(dir, "lab"),
      keep: options.keep,
      serviceEnv: {
        ...BENCH_SERVICE_ENV,
        CHAOSCART_BENCH_ENDPOINTS: "1",
        ...(options.gate ? {} : { CHAOSCART_SOLD_OUT_GATE_TTL_MS: "0" }),
      },
      ...(options.cpuProf ? { roleEnv: profiledRoles(options.cpuProf) } : {}),
      log: (line) => say(`lab: ${line}`),
    });
    const region = topology.regions[0];
    if (!region) throw new Error("the topology has no region");
    const tag = Date.now().toString(36).toUpperCase();
    const hot = Array.from({ length: options.hotSkus }, (_, i) => `FLASH-${tag}-HOT-${i + 1}`);
    const cold = Array.from({ length: COLD_SKUS }, (_, i) => `FLASH-${tag}-COLD-${i + 1}`);
    // The warm-up sells SKUs of its own, so the sale's checkers see the sale alone.
    const warmHot = [`FLASH-${tag}-WARM-HOT`];
    const warmCold = [`FLASH-${tag}-WARM-COLD`];
    await seedSkus(region.services.inventory.url, topology.token, [
      ...hot.map((id) => ({ id, stock: options.units, price: HOT_PRICE })),
      ...cold.map((id) => ({ id, stock: COLD_STOCK, price: HOT_PRICE })),
      ...warmHot.map((id) => ({ id, stock: WARMUP_UNITS, price: HOT_PRICE })),
      ...warmCold.map((id) => ({ id, stock: COLD_STOCK, price: HOT_PRICE })),
    ]);
    const roots = {
      gateway: topology.gateway.pid,
      order: region.services.order.pid,
      inventory: region.services.inventory.pid,
      payment: region.services["payment-sim"].pid,
      "pg-primary": region.cluster.primary.pid,
      "pg-replica": region.cluster.replica?.pid,
    };
    const gatewayUrl = topology.gateway.url;
    const burst = async (
      label: string,
      orderPath: string,
      skus = { hot, cold },
      load = { rate: options.rate, durationMs: options.duration },
    ) => {
      const ops: HistoryOp[] = [];
      const before = cpuSnapshot(roots);
      const startedAt = performance.now();
      const result = await runWorkload({
        gatewayUrl,
        rate: load.rate,
        arrival: "poisson",
        durationMs: load.durationMs,
        users: 10_000_000,
        hotSkus: skus.hot,
        coldSkus: skus.cold,
        mix: { order: 1, "order-read": 0, "catalog-read": 0 },
        shape: { hotShare: 1 - options.coldShare, multiItemShare: 0, missingSkuShare: 0 },
        keyPrefix: `flash-${tag}-${label}`,
        // Every arrival is sent, however many are outstanding: their wait counts in their latency.
        maxOutstanding: 1_000_000,
        timeoutMs: options.timeout,
        client: { maxRetries: 0, connections: options.connections, orderPath },
        history: { append: (op) => ops.push(op) },
        onProgress: (p) =>
          status(
            `${label}: ${(p.elapsedMs / 1000).toFixed(0)} s, ${p.arrivals} sent, ${p.completed} answered`,
          ),
      });
      const cpu = cpuBetween(before, cpuSnapshot(roots));
      const wallMs = performance.now() - startedAt;
      const figures = classFigures(ops);
      const otherKinds = new Map<string, number>();
      for (const op of ops)
        if (
          op.process === "client" &&
          op.type !== "invoke" &&
          ["other", "no_answer"].includes(classify(op))
        ) {
          const kind =
            `${op.type} ${op.value.status ?? ""} ${op.value.state ?? ""} ${op.value.cancelReason ?? op.value.error ?? ""}`.slice(
              0,
              80,
            );
          otherKinds.set(kind, (otherKinds.get(kind) ?? 0) + 1);
        }
      for (const [kind, n] of [...otherKinds].sort((a, b) => b[1] - a[1]).slice(0, 4))
        say(`  other: ${n} × ${kind}`);
      // Buyers who heard something; those who heard nothing within their timeout are not answers.
      const answers = Object.entries(figures.classes)
        .filter(([name]) => name !== "no_answer")
        .reduce((sum, [, c]) => sum + c.answers, 0);
      const shopCores = Object.entries(cpu.percent)
        .filter(([name]) => name !== "bench" && name !== "other")
        .reduce((sum, [, percent]) => sum + percent / 100, 0);
      // The CPU of the whole burst (its wait for the last timeouts included), not of its span alone.
      const cpuMsPerAnswer = answers > 0 ? (shopCores * wallMs) / answers : null;
      say(
        `${label}: ${answers} answers in ${(figures.spanMs / 1000).toFixed(1)} s (${((answers / figures.spanMs) * 1000).toFixed(0)}/s); ` +
          `offered ${result.progress.arrivals} at ${load.rate}/s`,
      );
      return { ops, figures, answers, cpu, cpuMsPerAnswer, sent: result.progress.arrivals };
    };

    say(
      `(1) ceiling: the gateway's no-op order route, ${options.rate} buyers/s for ${options.duration / 1000} s`,
    );
    const ceiling = await burst("ceiling", "/bench/noop-order");
    const databaseUrl = region.cluster.primary.url;
    const token = topology.token;
    /** Every saga since `since` settled, then the final state of `skus` and every checker over `ops`. */
    const check = async (ops: HistoryOp[], skus: string[], since: Date) => {
      await settle(databaseUrl, 0, since, { floorMs: 10_000, stallMs: 10_000 });
      const final = await readFinalState({
        databaseUrl,
        region: region.name,
        skus,
        since,
        ...namedInHistory(ops),
        paymentUrl: region.services["payment-sim"].url,
        token,
      });
      return { final, checks: runChecks(CHECK_NAMES, ops, final) };
    };
    // The first seconds of a sale on fresh services pay for their warm-up (compiling the order
    // path, PostgreSQL's caches): bench:orders' first cell cost 1.5 times the CPU per order of the
    // next. A warm-up burst on SKUs of its own comes first, settles and is checked, not counted;
    // then ANALYZE, as autovacuum does within a minute in a shop in service.
    let warmupChecks: Awaited<ReturnType<typeof check>>["checks"] = [];
    if (options.warmup > 0) {
      say(
        `warm-up: ${options.warmupRate} buyers/s for ${options.warmup / 1000} s at a SKU of ${WARMUP_UNITS} units (not counted)`,
      );
      const warmSince = new Date();
      const warm = await burst(
        "warm-up",
        "/orders",
        { hot: warmHot, cold: warmCold },
        {
          rate: options.warmupRate,
          durationMs: options.warmup,
        },
      );
      ({ checks: warmupChecks } = await check(warm.ops, [...warmHot, ...warmCold], warmSince));
      const failed = warmupChecks.filter((c) => c.status === "fail").map((c) => c.name);
      say(
        `warm-up checks: ${failed.length === 0 ? "no failure" : `FAILED ${failed.join(", ")}`}; then ANALYZE`,
      );
      const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
      try {
        await sql`ANALYZE`;
      } finally {
        await sql.end();
      }
    }
    say(
      `(2) the sale: ${options.rate} buyers/s for ${options.duration / 1000} s at ${hot.length} hot SKUs × ${options.units} units` +
        ` (${Math.round((1 - options.coldShare) * 100)} %), the rest at ${cold.length} cold SKUs`,
    );
    if (options.cpuProf) {
      // The profiles cover the sale alone: start-up and the ceiling's burst are dropped.
      for (const pid of [roots.gateway, roots.order, roots.inventory, roots.payment])
        if (pid) process.kill(pid, "SIGUSR2");
    }
    const since = new Date();
    const saleStartedAt = Date.now();
    const sale = await burst("sale", "/orders");

    say("settling: waiting for every saga, then reading the final state and running every checker");
    const { final, checks } = await check(sale.ops, [...hot, ...cold], since);
    const inventory = isUnreadable(final.inventory) ? undefined : final.inventory;
    const timelines = inventory ? availabilityTimelines(inventory.movements) : undefined;
    const hotSkus = hot.map((sku) => {
      const stock = inventory?.stock.find((s) => s.sku === sku);
      const soldOutAt = timelines
        ?.get(sku)
        ?.find((point) => point.at >= saleStartedAt && point.available === 0)?.at;
      return {
        sku,
        quota: options.units,
        sold: stock?.sold ?? null,
        reserved: stock?.reserved ?? null,
        soldOutAfterMs: soldOutAt === undefined ? null : soldOutAt - saleStartedAt,
      };
    });
    const falseSoldOut = checks.find((c) => c.name === "no-false-sold-out");
    const figures = {
      benchmark: "flash-sale",
      startedAt: new Date(saleStartedAt).toISOString(),
      settings: {
        rate: options.rate,
        durationMs: options.duration,
        hotSkus: options.hotSkus,
        unitsPerHotSku: options.units,
        coldShare: options.coldShare,
        connections: options.connections,
        buyerTimeoutMs: options.timeout,
        warmup:
          options.warmup > 0
            ? `${options.warmupRate} buyers/s for ${options.warmup} ms at ${WARMUP_UNITS} units of its own SKU, checked, not counted; then ANALYZE`
            : "none",
        soldOutGate: options.gate ? "on (the shop's defaults)" : "off",
        cores: os.availableParallelism(),
        durability: "fsync on, synchronous_commit on, synchronous standby",
      },
      ceiling: {
        ...ceiling.figures,
        answers: ceiling.answers,
        sent: ceiling.sent,
        cpuMsPerAnswer: ceiling.cpuMsPerAnswer,
      },
      sale: {
        ...sale.figures,
        answers: sale.answers,
        sent: sale.sent,
        cpuMsPerAnswer: sale.cpuMsPerAnswer,
        cpu: sale.cpu,
        refusals: refusals(sale.ops),
      },
      answerRateToCeiling:
        ceiling.answers > 0
          ? sale.answers / sale.figures.spanMs / (ceiling.answers / ceiling.figures.spanMs)
          : null,
      hotSkus,
      falseSoldOuts: falseSoldOut?.status === "fail" ? falseSoldOut.problems.length : falseSoldOut?.status,
      checks: checks.map((c) => ({ name: c.name, status: c.status, problems: c.problems.slice(0, 5) })),
      warmupChecks: warmupChecks.map((c) => ({
        name: c.name,
        status: c.status,
        problems: c.problems.slice(0, 5),
      })),
    };
    say("");
    say(`class          answers    /s     p50 ms   p99 ms   p99.9 ms`);
    for (const [name, c] of Object.entries(sale.figures.classes))
      say(
        `${name.padEnd(13)} ${String(c.answers).padStart(8)} ${c.perSecond.toFixed(0).padStart(6)} ${fmt(c.p50Ms)} ${fmt(c.p99Ms)} ${fmt(c.p999Ms)}`,
      );
    const refused = figures.sale.refusals;
    say(
      `429 from the gateway ${refused.gateway}, from the order service's admission control ${refused.orderService}` +
        (refused.unknown > 0 ? `, other ${refused.unknown}` : ""),
    );
    say(
      `answers/s: sale ${((sale.answers / sale.figures.spanMs) * 1000).toFixed(0)} vs no-op ceiling ` +
        `${((ceiling.answers / ceiling.figures.spanMs) * 1000).toFixed(0)} = ${figures.answerRateToCeiling?.toFixed(3)}×`,
    );
    for (const h of hotSkus)
      say(
        `${h.sku}: sold ${h.sold}/${h.quota}` +
          (h.soldOutAfterMs === null
            ? ", never sold out"
            : `, sold out after ${(h.soldOutAfterMs / 1000).toFixed(2)} s`),
      );
    say(
      `CPU per answer: sale ${fmt(sale.cpuMsPerAnswer)} ms, no-op ${fmt(ceiling.cpuMsPerAnswer)} ms (all shop processes)`,
    );
    // The buyers are this process, on the shop's host: when it and the shop together fill every
    // core, the figures measure the machine as much as the shop (10,000 buyers/s on 2 cores did).
    for (const [label, run] of [
      ["no-op", ceiling],
      ["sale", sale],
    ] as const) {
      const busy = run.cpu.machineBusyPercent;
      say(
        `${label}: load generator ${run.cpu.percent.bench?.toFixed(0) ?? "?"} % of a core, host ${busy?.toFixed(0) ?? "?"} % busy (${run.cpu.cores} cores)` +
          (busy !== undefined && busy >= SATURATED_PERCENT
            ? ": WARNING the host was saturated, answers waited for CPU (lower --rate, or run the buyers elsewhere)"
            : ""),
      );
    }
    for (const c of checks)
      say(`check ${c.name}: ${c.status}${c.problems.length ? ` (${c.problems[0]})` : ""}`);
    mkdirSync(path.dirname(options.out), { recursive: true });
    writeFileSync(options.out, `${JSON.stringify(figures, null, 2)}\n`);
    say(`figures: ${options.out}`);
    for (const c of warmupChecks.filter((c) => c.status === "fail"))
      say(`warm-up check ${c.name}: fail (${c.problems[0]})`);
    return [...checks, ...warmupChecks].some((c) => c.status === "fail") ? 1 : 0;
  } finally {
    await topology?.stop();
    if (!options.keep) rmSync(dir, { recursive: true, force: true });
  }
}

/** Every service profiles its CPU into `<dir>/<role>.cpuprofile` (bench/cpuprofile.ts reads them). */
function profiledRoles(dir: string): Partial<Record<ServiceRole, Record<string, string>>> {
  mkdirSync(dir, { recursive: true });
  const roles: ServiceRole[] = ["gateway", "order", "inventory", "payment-sim"];
  return Object.fromEntries(roles.map((role) => [role, cpuProfileEnv(path.join(dir, `${role}.cpuprofile`))]));
}

function fmt(value: number | null): string {
  return value === null ? "     -" : value.toFixed(1).padStart(8);
}

const program = new Command("bench:flash-sale")
  .option("--rate <n>", "buyers per second (open loop, Poisson arrivals)", Number, 10_000)
  .option("--duration <d>", "how long buyers keep arriving", parseDuration, 10_000)
  .option("--hot-skus <n>", "SKUs on sale", Number, 3)
  .option("--units <n>", "units of each SKU on sale", Number, 1_000)
  .option("--cold-share <x>", "share of buyers ordering a cold (plentiful) SKU", Number, 0.02)
  .option("--connections <n>", "sockets from the buyers to the gateway", Number, 256)
  .option("--timeout <d>", "how long a buyer waits for an answer", parseDuration, 10_000)
  .option("--warmup <d>", "a warm-up burst before the sale, on SKUs of its own (0: none)", parseWarmup, 3_000)
  .option("--warmup-rate <n>", "buyers per second of the warm-up burst", Number, 1_000)
  .option("--no-gate", "switch the order service's sold-out gate off (CHAOSCART_SOLD_OUT_GATE_TTL_MS=0)")
  .option("--out <file>", "figures as JSON", "bench/results/flash-sale.json")
  .option("--keep", "keep the lab's directory (logs, data)", false)
  .option("--cpu-prof <dir>", "profile every service's CPU during the sale, <role>.cpuprofile in <dir>")
  .action(async (options: Options) => {
    process.exitCode = await main(options);
  });
program.parseAsync().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
