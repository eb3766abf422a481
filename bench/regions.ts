/**
 * `npm run bench:regions`: replication between two regions (issue "active-active, part 1", targets),
 * on a two-region lab with the default WAN (20 ± 5 ms each way):
 *
 * (a) lag: orders through both regions' gateways at `--rate` per region for `--duration`; the
 *     relays' `chaoscart_relay_lag_seconds` histograms (commit at the source → applied at the peer)
 *     give p50/p99 per direction, as the upper bound of the bucket they fall in, and where it went
 *     (chaoscart_relay_lag_stage_seconds: the wait at the source, the read, the transit to the
 *     peer), beside how busy the host was;
 * (b) convergence: the relays' WAN links are partitioned for `--partition` while the load goes on;
 *     at the heal the load stops, and the bench measures how long until both regions' digests of
 *     orders and payments are equal (sagas in flight finish meanwhile, so this is an upper bound);
 * (c) the cost of replication: the e2e bench's closed loop (`--clients`, users homed in east)
 *     through east's gateway, after a warm-up cell not counted (`--cell-warmup`), in cells ordered
 *     on, off, off, on: replication on (both relays running) or off
 *     (both relays stopped with SIGSTOP, resumed and caught up before the next "on" cell), side by
 *     side in one run; reported as the ratio of confirmed orders/s, on / off;
 * (d) what replication costs while nothing happens: both regions idle for `--idle`, relays running,
 *     then stopped; the CPU of the relays, both primaries and this process (the fault links, the
 *     WAN included, run in it), and the difference.
 *
 * Durability as deployed: fsync and synchronous_commit on, a synchronous standby in each region.
 * Writes the figures as JSON (default bench/results/regions.json).
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Command } from "commander";
import postgres, { type Sql } from "postgres";
import type { HistoryOp } from "../src/lab/history/op.ts";
import { healOnly } from "../src/lab/nemeses/link-ops.ts";
import { DEFAULT_WAN, startTopology, type Topology } from "../src/lab/topology/launcher.ts";
import { pgUrl } from "../src/lab/topology/postgres/index.ts";
import { BENCH_SERVICE_ENV } from "../src/lab/topology/service-env.ts";
import { runWorkload } from "../src/lab/workload/index.ts";
import { slotOf } from "../src/shop/domain/slots.ts";
import { compareTable, ORDERS_DIGEST, PAYMENTS_DIGEST } from "../src/shop/relay/digest.ts";
import { parseDuration, parseWarmup, progress } from "./common.ts";
import { type CpuRoots, type CpuSnapshot, cpuBetween, cpuSnapshot } from "./cpu.ts";
import { runClosedLoop } from "./load.ts";
import { pairedRatios, verdict } from "./regions-figures.ts";

interface Options {
  rate: number;
  duration: number;
  partition: number;
  clients: number;
  cell: number;
  cells: number;
  /** (c): a cell before the measured ones, replication on, not counted. */
  cellWarmup: number;
  idle: number;
  out: string;
  keep: boolean;
}

const SKU = "REGIONS-BENCH-1";
/** Issue "active-active, part 1": replication costs one region at most 15 % of its orders/s. */
const COST_TARGET = 0.85;
const COST_VERDICTS = {
  met: `every pair meets the target (≥ ${COST_TARGET}×)`,
  missed: `every pair misses the target (≥ ${COST_TARGET}×)`,
  undecided: `the pairs fall on both sides of the target (≥ ${COST_TARGET}×): this run cannot tell`,
  none: "no pair to judge by",
} as const;
/** The relays' chaoscart_relay_lag_stage_seconds{stage} (src/shop/relay/service.ts). */
const LAG_STAGES = ["source_wait", "read", "transit"] as const;
/** Before the lag starts: a change's transaction start to its commit at the source (where known). */
const COMMIT_STAGE = "commit";

/** p50/p99 of a Prometheus histogram (cumulative buckets) as the upper bound of their bucket, in ms. */
export function histogramQuantiles(
  metrics: string,
  name: string,
  labels: Record<string, string>,
): { count: number; p50Ms: number | null; p99Ms: number | null } {
  const matches = (line: string) => Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
  const buckets: { le: number; count: number }[] = [];
  for (const line of metrics.split("\n")) {
    if (!line.startsWith(`${name}_bucket{`) || !matches(line)) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    const count = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (le !== undefined) buckets.push({ le: le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le), count });
  }
  buckets.sort((a, b) => a.le - b.le);
  const total = buckets.at(-1)?.count ?? 0;
  const quantile = (q: number) => {
    if (total === 0) return null;
    const bucket = buckets.find((b) => b.count >= q * total);
    return bucket ? bucket.le * 1000 : null;
  };
  return { count: total, p50Ms: quantile(0.5), p99Ms: quantile(0.99) };
}

async function main(options: Options) {
  const { say } = progress();
  const dir = mkdtempSync(path.join(os.tmpdir(), "chaoscart-bench-regions-"));
  chmodSync(dir, 0o755);
  let topology: Topology | undefined;
  const sqls: Sql[] = [];
  try {
    say(
      `launching two regions (sync standby each, WAN ${DEFAULT_WAN.latencyMs} ± ${DEFAULT_WAN.jitterMs} ms)`,
    );
    topology = await startTopology({
      regions: ["east", "west"],
      replication: "sync",
      workDir: path.join(dir, "lab"),
      keep: options.keep,
      serviceEnv: { ...BENCH_SERVICE_ENV },
      log: (line) => say(`lab: ${line}`),
    });
    const lab = topology;
    for (const region of lab.regions) {
      const seeded = await fetch(`${region.services.inventory.url}/admin/skus`, {
        method: "POST",
        headers: { authorization: `Bearer ${lab.token}`, "content-type": "application/json" },
        body: JSON.stringify({ skus: [{ id: SKU, stock: 10_000_000, price: 500 }] }),
      });
      if (!seeded.ok) throw new Error(`${region.name}: seeding answered ${seeded.status}`);
      const link = lab.links.get(`${region.name}/order->primary`);
      sqls.push(
        postgres(pgUrl(link?.port ?? 0, "chaoscart", region.cluster.password), {
          max: 2,
          onnotice: () => {},
        }),
      );
    }
    const [eastDb, westDb] = sqls as [Sql, Sql];
    const load = (durationMs: number, tag: string) => {
      const ops: HistoryOp[] = [];
      return Promise.all(
        lab.regions.map((region) =>
          runWorkload({
            gatewayUrl: region.gateway.url,
            rate: options.rate,
            durationMs,
            users: 50_000,
            hotSkus: [SKU],
            coldSkus: [],
            mix: { order: 1, "order-read": 0, "catalog-read": 0 },
            shape: { multiItemShare: 0, missingSkuShare: 0 },
            keyPrefix: `bench-${tag}-${region.name}`,
            history: { append: (op) => ops.push(op) },
          }),
        ),
      ).then(() => ops);
    };

    say(`(a) lag: ${options.rate} orders/s through each region's gateway for ${options.duration / 1000} s`);
    const hostBefore = cpuSnapshot({});
    const ops = await load(options.duration, "lag");
    const hostBusyPercent = cpuBetween(hostBefore, cpuSnapshot({})).machineBusyPercent;
    const acknowledged = ops.filter((op) => op.process === "client" && op.type === "ok").length;
    const lag: Record<string, ReturnType<typeof histogramQuantiles>> = {};
    const lagStages: Record<string, Record<string, ReturnType<typeof histogramQuantiles>>> = {};
    for (const region of lab.regions) {
      for (const [peer, relay] of region.relays) {
        const metrics = await (await fetch(`${relay.url}/metrics`)).text();
        const direction = `${region.name}->${peer}`;
        lag[direction] = histogramQuantiles(metrics, "chaoscart_relay_lag_seconds", {
          source: region.name,
          peer,
        });
        lagStages[direction] = Object.fromEntries(
          [...LAG_STAGES, COMMIT_STAGE].map((stage) => [
            stage,
            histogramQuantiles(metrics, "chaoscart_relay_lag_stage_seconds", {
              source: region.name,
              peer,
              stage,
            }),
          ]),
        );
      }
    }
    say(
      `  host ${hostBusyPercent === undefined ? "?" : hostBusyPercent.toFixed(0)} % busy (both cores) under this load`,
    );
    for (const [direction, q] of Object.entries(lag)) {
      say(`  ${direction}: ${q.count} changes, lag p50 ≤ ${q.p50Ms} ms, p99 ≤ ${q.p99Ms} ms`);
      const { [COMMIT_STAGE]: commit, ...stages } = lagStages[direction] ?? {};
      const where = Object.entries(stages)
        .map(([stage, s]) => `${stage} ≤ ${s.p50Ms} / ${s.p99Ms}`)
        .join(", ");
      say(`    where it went (p50 / p99 ms): ${where}`);
      say(
        commit?.count
          ? `    before it, the source's commit (transaction start to commit) ≤ ${commit.p50Ms} / ${commit.p99Ms} ms`
          : "    lag counted from each change's transaction start: the source does not record commit times",
      );
    }

    say(
      `(b) convergence: relays' WAN links partitioned for ${options.partition / 1000} s under load, then healed`,
    );
    const wanLinks = ["east/relay->west-primary", "west/relay->east-primary"].map((name) => {
      const link = lab.links.get(name);
      if (!link) throw new Error(`no link ${name}`);
      return link;
    });
    const partitioned = load(options.partition, "partition");
    for (const link of wanLinks) link.partition({ direction: "both" });
    await partitioned;
    // Only the partition: the WAN latency (a toxic of the same links) stays.
    for (const link of wanLinks) await healOnly(link, { partition: true });
    const healedAt = performance.now();
    let convergedMs: number | null = null;
    while (performance.now() - healedAt < 60_000) {
      const [orders, payments] = await Promise.all([
        compareTable(eastDb, westDb, ORDERS_DIGEST, 64),
        compareTable(eastDb, westDb, PAYMENTS_DIGEST, 64),
      ]);
      if (orders.bucketsDiffering.length === 0 && payments.bucketsDiffering.length === 0) {
        convergedMs = Math.round(performance.now() - healedAt);
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    say(`  digests equal ${convergedMs === null ? "not within 60 s" : `${convergedMs} ms after the heal`}`);

    say(
      `(c) cost of replication: ${options.clients} clients, closed loop, east's users through east's gateway; ` +
        `${options.cells} cells of ${options.cell / 1000} s alternating replication on / off`,
    );
    const relays = lab.regions.flatMap((region) => [...region.relays.values()]);
    const east = lab.regions[0];
    if (!east) throw new Error("no east region");
    const backlog = async () => {
      let total = 0;
      for (const relay of relays) {
        const text = await (await fetch(`${relay.url}/metrics`)).text();
        const line = text.split("\n").find((l) => l.startsWith("chaoscart_relay_backlog_events{"));
        total += Number(line?.slice(line.lastIndexOf(" ") + 1) ?? 0);
      }
      return total;
    };
    const probe = await fetch(`${east.gateway.url}/orders`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": "cost-probe" },
      body: JSON.stringify({ userId: eastUser("cost-probe"), items: [{ sku: SKU, qty: 1 }] }),
    });
    if (probe.headers.get("x-chaoscart-region") !== east.name)
      throw new Error(`an east user was served by ${probe.headers.get("x-chaoscart-region")}`);
    const cost: {
      replication: "on" | "off";
      ordersPerSecond: number;
      p99Ms: number;
      errors: number;
      replicationCpuPercent: number;
      /** Of which, by process (relays, the peer's primary and replica). */
      replicationCpuByProcess: Record<string, number>;
    }[] = [];
    const west = lab.regions[1];
    const replicationRoots: CpuRoots = Object.fromEntries([
      ...lab.regions.flatMap((region) =>
        [...region.relays].map(([peer, relay]) => [`relay ${region.name}->${peer}`, relay.pid]),
      ),
      ["west-primary", west?.cluster.primary.pid],
      ["west-replica", west?.cluster.replica?.pid],
    ]);
    // Measured 2026-12-03: in the first cell after (b) east's services took 1.5-2.5 times the CPU per
    // order of the later cells (the gateway 0.66 against 0.26-0.30 ms), whichever side that cell
    // was, and the first cell is an "on" one: it weighed on the ratio as if replication cost it.
    // (c)'s closed loop: new east users through east's gateway, one hot SKU.
    const eastOrders = (tag: string) => ({
      origin: east.gateway.url,
      path: "/orders",
      concurrency: options.clients,
      okStatus: 201,
      headers: (worker: number, seq: number) => ({ "idempotency-key": `cost-${tag}-${worker}-${seq}` }),
      body: (worker: number, seq: number) =>
        JSON.stringify({ userId: eastUser(`cost-${tag}-${worker}-${seq}`), items: [{ sku: SKU, qty: 1 }] }),
    });
    if (options.cellWarmup > 0) {
      const warm = await runClosedLoop({
        ...eastOrders("warm"),
        warmupMs: 0,
        durationMs: options.cellWarmup,
      });
      // As bench/orders.ts does after its warm-up: statistics that match the tables, as autovacuum
      // keeps them in a shop in service, so no cell scans tables its plans thought empty.
      await Promise.all([eastDb`ANALYZE`, westDb`ANALYZE`]);
      say(
        `  warm-up cell (not counted): ${Math.round(warm.okPerSecond)} orders/s; then ANALYZE in both regions`,
      );
    }
    for (let cell = 0; cell < options.cells; cell++) {
      // on, off, off, on, …: a drift over the run (tables growing) weighs on both sides alike.
      const replication = (["on", "off", "off", "on"] as const)[cell % 4] ?? "on";
      if (replication === "on") {
        for (const relay of relays) if (relay.pid) process.kill(relay.pid, "SIGCONT");
        const waitFrom = performance.now();
        while ((await backlog()) > 0 && performance.now() - waitFrom < 30_000)
          await new Promise((r) => setTimeout(r, 100));
      } else {
        for (const relay of relays) if (relay.pid) process.kill(relay.pid, "SIGSTOP");
      }
      let cpuBefore: CpuSnapshot | undefined;
      let cpuAfter: CpuSnapshot | undefined;
      const result = await runClosedLoop({
        onMeasureStart: () => {
          cpuBefore = cpuSnapshot(replicationRoots);
        },
        onMeasureEnd: () => {
          cpuAfter = cpuSnapshot(replicationRoots);
        },
        ...eastOrders(String(cell)),
        warmupMs: 1_000,
        durationMs: options.cell,
      });
      // On one host the peer region's share of the work (its relays and database) takes the same
      // cores as the region measured; in a deployment it runs elsewhere. Reported beside the ratio.
      const used = cpuBefore && cpuAfter ? cpuBetween(cpuBefore, cpuAfter).percent : {};
      const parts = Object.entries(used).filter(([label]) => label !== "bench" && label !== "other");
      const replicationCpuPercent = Math.round(parts.reduce((sum, [, percent]) => sum + percent, 0));
      const breakdown = parts.map(([label, percent]) => `${label} ${Math.round(percent)}`).join(", ");
      cost.push({
        replication,
        ordersPerSecond: Math.round(result.okPerSecond),
        p99Ms: Math.round(result.latencyMs.p99),
        errors: result.errors,
        replicationCpuPercent,
        replicationCpuByProcess: Object.fromEntries(
          parts.map(([label, percent]) => [label, Math.round(percent)]),
        ),
      });
      say(
        `  replication ${replication.padEnd(3)}: ${Math.round(result.okPerSecond)} orders/s, p99 ${result.latencyMs.p99.toFixed(0)} ms, ${result.errors} errors; relays + west's databases ${replicationCpuPercent} % of a core (${breakdown})`,
      );
    }
    for (const relay of relays) if (relay.pid) process.kill(relay.pid, "SIGCONT");
    const idle = await measureIdle(lab, relays, options.idle, say);
    const mean = (side: "on" | "off") => {
      const cells = cost.filter((c) => c.replication === side);
      return cells.reduce((sum, c) => sum + c.ordersPerSecond, 0) / Math.max(1, cells.length);
    };
    const throughputRatio = mean("off") > 0 ? mean("on") / mean("off") : null;
    const pairs = pairedRatios(cost);
    const costVerdict = verdict(pairs, COST_TARGET);
    say(
      `  on / off: ${throughputRatio === null ? "n/a" : `${throughputRatio.toFixed(3)}×`} confirmed orders/s; ` +
        `per pair of neighbouring cells ${pairs.map((ratio) => `${ratio.toFixed(3)}×`).join(", ") || "n/a"}: ` +
        COST_VERDICTS[costVerdict],
    );

    const figures = {
      rate: options.rate,
      durationMs: options.duration,
      acknowledged,
      wan: DEFAULT_WAN,
      hostBusyPercent,
      lag,
      lagStages,
      partitionMs: options.partition,
      convergedAfterHealMs: convergedMs,
      replicationCost: {
        clients: options.clients,
        cellMs: options.cell,
        warmupCellMs: options.cellWarmup,
        cells: cost,
        throughputRatio,
        pairedRatios: pairs,
        verdict: costVerdict,
      },
      idleCost: idle,
      targets: { lagP99Ms: DEFAULT_WAN.latencyMs + 50, convergedMs: 2_000, throughputRatio: COST_TARGET },
    };
    mkdirSync(path.dirname(options.out), { recursive: true });
    writeFileSync(options.out, `${JSON.stringify(figures, null, 2)}\n`);
    say(`figures: ${options.out}`);
  } finally {
    await Promise.allSettled(sqls.map((sql) => sql.end({ timeout: 1 })));
    await topology?.stop();
    if (!options.keep) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * (d): CPU by process, % of a core, over `ms` of no orders with the relays running and then stopped
 * (SIGSTOP), and what running them cost: the relays themselves, the primaries they read and write
 * (the waits for news, the reconciliation's digests), and the fault links in this process.
 */
async function measureIdle(
  lab: Topology,
  relays: { pid?: number | undefined }[],
  ms: number,
  say: (line: string) => void,
): Promise<{ ms: number; on: Record<string, number>; off: Record<string, number>; costPercent: number }> {
  say(
    `(d) idle: no orders for ${ms / 1000} s with the relays running, then ${ms / 1000} s with them stopped`,
  );
  const roots: CpuRoots = Object.fromEntries([
    ...lab.regions.flatMap((region) =>
      [...region.relays].map(([peer, relay]) => [`relay ${region.name}->${peer}`, relay.pid]),
    ),
    ...lab.regions.map((region) => [`${region.name}-primary`, region.cluster.primary.pid]),
  ]);
  const measure = async () => {
    await new Promise((r) => setTimeout(r, 1_000)); // settle: the previous step's work drains
    const before = cpuSnapshot(roots);
    await new Promise((r) => setTimeout(r, ms));
    const { percent } = cpuBetween(before, cpuSnapshot(roots));
    const { other: _, ...ours } = percent;
    return Object.fromEntries(Object.entries(ours).map(([label, p]) => [label, Math.round(p * 10) / 10]));
  };
  const on = await measure();
  for (const relay of relays) if (relay.pid) process.kill(relay.pid, "SIGSTOP");
  const off = await measure().finally(() => {
    for (const relay of relays) if (relay.pid) process.kill(relay.pid, "SIGCONT");
  });
  const sum = (use: Record<string, number>) => Object.values(use).reduce((total, p) => total + p, 0);
  const costPercent = Math.round((sum(on) - sum(off)) * 10) / 10;
  const show = (use: Record<string, number>) =>
    Object.entries(use)
      .map(([label, p]) => `${label} ${p}`)
      .join(", ");
  say(`  relays running: ${show(on)}`);
  say(`  relays stopped: ${show(off)}`);
  say(`  replication while idle: ${costPercent} % of a core ("bench" is this process: the fault links)`);
  return { ms, on, off, costPercent };
}

/** A user id from `seed` whose unit east owns at the start (the lab spreads slots evenly: slot i → regions[i mod 2]). */
function eastUser(seed: string): string {
  for (let n = 0; ; n++) {
    const user = `u-${seed}-${n}`;
    if (slotOf(user) % 2 === 0) return user;
  }
}

const program = new Command("bench:regions")
  .option("--rate <n>", "orders/s through each region's gateway", Number, 40)
  .option("--duration <d>", "the lag measurement's load", parseDuration, 20_000)
  .option("--partition <d>", "how long the relays' WAN links stay partitioned", parseDuration, 5_000)
  .option("--clients <n>", "(c): closed-loop clients (the e2e bench's best cell)", Number, 64)
  .option("--cell <d>", "(c): the timed window of each cell", parseDuration, 8_000)
  .option("--cells <n>", "(c): cells, alternating replication on and off", Number, 8)
  .option("--cell-warmup <d>", "(c): a first cell, replication on, not counted (0: none)", parseWarmup, 5_000)
  .option("--idle <d>", "(d): each idle window, relays running and stopped", parseDuration, 5_000)
  .option("--out <file>", "figures as JSON", "bench/results/regions.json")
  .option("--keep", "keep the lab's directory (logs)", false)
  .action((options: Options) => main(options));
program.parseAsync().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
