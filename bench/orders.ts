/**
 * End-to-end orders benchmark (docs/architecture.md §Benchmarks): `POST /orders` through the gateway on a hot-SKU flash
 * sale, every service a child process (gateway, order, inventory, payment-sim) over a PostgreSQL primary
 * with a streaming replica (sync by default), durable everywhere (fsync, synchronous_commit, the payment
 * journal). Closed loop at each concurrency; goodput is 201 CONFIRMED; every other answer is counted by
 * kind. Afterwards the invariants (docs/architecture.md §Invariants) are checked on the final database and the
 * provider's records.
 *
 * The harness is the lab's: its launcher (without fault links: the bench measures the shop, not the links),
 * its settle wait and its checkers. The shop's settings are BENCH_SERVICE_ENV (src/lab/topology/service-env.ts).
 *
 * `npm run bench` runs it after the inventory cells (bench/inventory.ts). Alone:
 *   node --import tsx bench/orders.ts [--concurrency 16,64,256] [--duration 5s] [--cpu-prof <dir>]
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Command, InvalidArgumentError, Option } from "commander";
import postgres, { type Sql } from "postgres";
import { checkNoLostAck } from "../src/lab/checkers/acknowledged-orders.ts";
import { checkInventoryLedger } from "../src/lab/checkers/inventory-ledger.ts";
import { checkMoney } from "../src/lab/checkers/money.ts";
import { checkSoldMatchesOrders } from "../src/lab/checkers/sold-matches-orders.ts";
import { checkTerminalSagas } from "../src/lab/checkers/terminal-sagas.ts";
import { isUnreadable, readFinalState } from "../src/lab/experiments/final-state.ts";
import { sagasInFlight, waitForSagas } from "../src/lab/experiments/settle.ts";
import type { HistoryOp } from "../src/lab/history/op.ts";
import { startTopology, type Topology } from "../src/lab/topology/launcher.ts";
import { findPgBinaries, type PgCluster } from "../src/lab/topology/postgres/index.ts";
import { BENCH_SERVICE_ENV } from "../src/lab/topology/service-env.ts";
import type { ServiceProcess } from "../src/lab/topology/service-process.ts";
import {
  histogramDelta,
  parseBatchCounters,
  parseCounter,
  parseGauge,
  parseHistogram,
  scrapeMetrics,
  seedSkus,
} from "./api.ts";
import {
  fsType,
  type Progress,
  parseConcurrency,
  parseDuration,
  parseWarmup,
  problemsLogged,
  progress,
} from "./common.ts";
import { type CpuSnapshot, type CpuUse, cpuBetween, cpuSnapshot } from "./cpu.ts";
import { cpuProfileEnv } from "./cpu-profile-env.ts";
import { DbWaitSampler, type DbWaits } from "./db-waits.ts";
import { runClosedLoop } from "./load.ts";
import {
  E2E_REFERENCE,
  type E2eCell,
  type E2eDiagnostics,
  type E2eInvariant,
  type E2eReport,
  formatE2eReport,
  nonGoodput,
} from "./report.ts";

const REGION = "east";
/** Three hot SKUs with stock no run can exhaust: every order is a real sale, never the sold-out fast path. */
const HOT_SKUS = ["E2E-HOT-1", "E2E-HOT-2", "E2E-HOT-3"] as const;
const STOCK_PER_SKU = 100_000_000;
const PRICE = 1999;
/** How long sagas answered 202 (or still in flight at a cell's end) may take to settle. */
const SETTLE_BETWEEN_CELLS_MS = 15_000;
const SETTLE_AT_END_MS = 30_000;
const OTHER_CPU_WARN_PERCENT = 25;
/** prom-client's event-loop monitor resolution (its default, which the services keep). */
const LOOP_TIMER_MS = 10;
const ROLES = ["inventory", "payment-sim", "order", "gateway"] as const;
export type Role = (typeof ROLES)[number];

/** `order:CHAOSCART_DB_POOL_MAX=40` → { order: { CHAOSCART_DB_POOL_MAX: "40" } }, accumulated over repeats. */
export function parseServiceEnv(
  value: string,
  previous: Partial<Record<Role, Record<string, string>>> = {},
): Partial<Record<Role, Record<string, string>>> {
  const match = /^([a-z-]+):([A-Z][A-Z0-9_]*)=(.*)$/.exec(value.trim());
  const role = match?.[1] as Role | undefined;
  if (!match || !role || !ROLES.includes(role)) {
    throw new InvalidArgumentError(`expected <role>:<NAME>=<value> with a role among ${ROLES.join(", ")}`);
  }
  return { ...previous, [role]: { ...previous[role], [match[2] as string]: match[3] ?? "" } };
}

export interface E2eOptions {
  replication: "sync" | "async" | "none";
  concurrency: number[];
  durationMs: number;
  warmupMs: number;
  /**
   * A first cell at the highest concurrency, not counted (default WARMUP_CELL_MS; 0: none). Without it
   * the first cell paid for the services' warm-up: measured 2026-12-03, 64 clients cost 6.0 ms of
   * CPU per order as the first cell and 4.1 ms after a cell of 16, 16 clients 9.5 and 7.4 ms.
   */
  warmupCellMs?: number;
  /** Keep the work dir (service logs, payment journal) afterwards; it is kept anyway when something failed. */
  keepLogs: boolean;
  /** Profile every service (V8 CPU profiler, see cpu-profile-hook.mjs); profiles written here when they stop. */
  cpuProfDir?: string;
  /** Extra environment per service, over the bench's own (for experiments: pool sizes, timeouts, …). */
  serviceEnv?: Partial<Record<Role, Record<string, string>>>;
  signal: AbortSignal;
  progress: Progress;
}

interface Running {
  /** The lab's topology, from the moment it is asked for: a teardown arriving meanwhile waits for it. */
  topology?: Promise<Topology>;
  sql?: Sql;
  workDir?: string;
  keep: boolean;
}

let running: Running | undefined;
let tearingDown: Promise<void> | undefined;

/** Stops whatever the end-to-end run has started (services, then PostgreSQL). Idempotent; safe on a signal. */
export function stopE2e(): Promise<void> {
  const current = running;
  if (!current) return tearingDown ?? Promise.resolve();
  running = undefined;
  tearingDown = (async () => {
    // A topology still starting would escape the teardown: wait for it (bounded), then stop it. What is
    // left after the bound, the lab's process registry kills when this process exits.
    const topology = await Promise.race([
      current.topology?.catch(() => undefined),
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 20_000).unref()),
    ]);
    await current.sql?.end({ timeout: 1 }).catch(() => {});
    await topology?.stop().catch(() => {});
    if (current.workDir && !current.keep) rmSync(current.workDir, { recursive: true, force: true });
  })();
  return tearingDown;
}

export async function runE2e(options: E2eOptions): Promise<E2eReport> {
  const { say } = options.progress;
  const startedAt = new Date().toISOString();
  const since = new Date();
  const started = performance.now();
  const state: Running = { keep: options.keepLogs };
  running = state;
  tearingDown = undefined;
  try {
    const bins = findPgBinaries();
    state.workDir = mkdtempSync(path.join(os.tmpdir(), "chaoscart-bench-e2e-"));
    chmodSync(state.workDir, 0o755); // PostgreSQL may run as an unprivileged user and must reach its dir
    if (options.cpuProfDir) mkdirSync(options.cpuProfDir, { recursive: true });
    say(
      `e2e: PostgreSQL ${bins.version}; replication ${options.replication}; clients ` +
        `${options.concurrency.join(",")}; ${options.warmupMs / 1000}s warm-up + ${options.durationMs / 1000}s per cell`,
    );
    state.topology = startTopology({
      regions: [REGION],
      replication: options.replication,
      links: false,
      workDir: state.workDir,
      keep: true, // the work dir is this run's: removed by stopE2e unless something failed
      serviceEnv: { ...BENCH_SERVICE_ENV },
      roleEnv: roleEnv(options),
      log: (line) => say(`e2e: ${line}`),
    });
    const topology = await state.topology;
    if (options.signal.aborted) throw new Error("aborted");
    const region = topology.regions[0];
    if (!region) throw new Error("the topology has no region");
    const { cluster } = region;
    const services: Record<Role, ServiceProcess> = { ...region.services, gateway: topology.gateway };
    for (const role of ROLES) say(`e2e: ${role} ready at ${services[role].url} (pid ${services[role].pid})`);
    const sql = postgres(cluster.primary.url, { max: 2, onnotice: () => {} });
    state.sql = sql;

    await seedSkus(
      services.inventory.url,
      topology.token,
      HOT_SKUS.map((id) => ({ id, stock: STOCK_PER_SKU, price: PRICE })),
    );

    const acknowledged = new Set<string>();
    const runTag = Date.now().toString(36).toUpperCase();
    if (await warmUp(services.gateway.url, runTag, acknowledged, options)) {
      // What autovacuum does within a minute in a shop in service: statistics that match the tables.
      // Without them, the plans made while the tables were empty scan them on every batch (README
      // "Benchmark": rows read by sequential scans), more with every order the warm-up added.
      await sql`ANALYZE`;
    }
    if (options.cpuProfDir) {
      // Drop start-up (loading and compiling the sources) from the profiles: see cpu-profile-hook.mjs.
      for (const role of ROLES) if (services[role].pid) process.kill(services[role].pid as number, "SIGUSR2");
    }
    const cells: E2eCell[] = [];
    for (const concurrency of options.concurrency) {
      if (options.signal.aborted) break;
      const cell = await runCell({
        concurrency,
        cluster,
        sql,
        services,
        acknowledged,
        runTag,
        since,
        options,
      });
      cells.push(cell);
      const dead = ROLES.filter((role) => !services[role].pid);
      if (dead.length > 0) throw new Error(`${dead.join(", ")} died during the run; see ${state.workDir}`);
    }
    if (options.signal.aborted) throw new Error("aborted");

    say("e2e: waiting for every saga to settle, then checking the invariants");
    const { invariants, totals } = await checkInvariants({
      sql,
      cluster,
      services,
      acknowledged,
      token: topology.token,
      since,
    });
    for (const role of ROLES) {
      const logged = problemsLogged(services[role].spec.logFile);
      if (logged.count > 0) {
        state.keep = true;
        const note = `${role} logged ${logged.count} warning/error line(s), first: ${logged.first}`;
        say(`e2e: ${note}`);
        cells.at(-1)?.warnings.push(note);
      }
    }
    const settings = await describeSettings(cluster, options, bins, state.workDir);
    settings["run time"] = `${((performance.now() - started) / 1000).toFixed(0)} s (topology start included)`;
    if (state.keep) settings["work dir (kept)"] = state.workDir;
    const best = cells.reduce<E2eCell | undefined>(
      (a, b) => (a === undefined || b.ordersPerSecond > a.ordersPerSecond ? b : a),
      undefined,
    );
    const valid = invariants.every((i) => i.held) && cells.every((cell) => cell.valid);
    if (!valid) state.keep = true;
    return {
      benchmark: "orders-end-to-end",
      startedAt,
      finishedAt: new Date().toISOString(),
      settings,
      reference: { ...E2E_REFERENCE, ourCores: os.availableParallelism() },
      cells,
      peak: best && {
        concurrency: best.concurrency,
        ordersPerSecond: best.ordersPerSecond,
        p99Ms: best.latencyMs.p99,
        ratio: best.reference.ratio,
        perCoreRatio: best.reference.perCoreRatio,
      },
      totals,
      invariants,
      valid,
    };
  } catch (error) {
    if (!options.signal.aborted) {
      state.keep = true;
      if (state.workDir) say(`e2e: work dir kept for inspection: ${state.workDir}`);
    }
    throw error;
  } finally {
    if (running === state) await stopE2e();
    else await tearingDown;
  }
}

/**
 * A cell's requests: a new user and Idempotency-Key per order of one hot SKU, through the gateway.
 * Every 201 CONFIRMED goes into `acknowledged` (the no-lost-order check); any other answer is named.
 */
function orderLoad(gateway: string, prefix: string, acknowledged: Set<string>) {
  const classify = (statusCode: number, text: string): string | undefined => {
    if (statusCode === 200 || statusCode === 201) {
      let order: { id?: unknown; state?: unknown; cancelReason?: unknown };
      try {
        order = JSON.parse(text) as typeof order;
      } catch {
        return `${statusCode} malformed body`;
      }
      if (statusCode === 201 && order.state === "CONFIRMED") {
        if (typeof order.id === "string") acknowledged.add(order.id);
        return undefined;
      }
      if (order.state === "CANCELLED") return `${statusCode} CANCELLED(${String(order.cancelReason)})`;
      return `${statusCode} ${String(order.state)}`;
    }
    if (statusCode === 202) return "202 deadline";
    let code = "";
    try {
      code = String((JSON.parse(text) as { error?: unknown }).error ?? "");
    } catch {
      // not JSON: the status alone
    }
    return `http ${statusCode}${code ? ` ${code}` : ""}`;
  };

  return {
    origin: gateway,
    path: "/orders",
    okStatus: 201,
    headers: (worker: number, seq: number) => ({ "idempotency-key": `e2e-${prefix}-${worker}-${seq}` }),
    body: (worker: number, seq: number) =>
      JSON.stringify({
        userId: `u-${prefix}-${worker}-${seq}`,
        items: [{ sku: HOT_SKUS[(worker + seq) % HOT_SKUS.length], qty: 1 }],
      }),
    classify,
  };
}

const WARMUP_CELL_MS = 5_000;

/** The warm-up cell (E2eOptions.warmupCellMs): the same orders as a cell, none of them counted. False: none ran. */
async function warmUp(
  gateway: string,
  runTag: string,
  acknowledged: Set<string>,
  options: E2eOptions,
): Promise<boolean> {
  const durationMs = options.warmupCellMs ?? WARMUP_CELL_MS;
  if (durationMs === 0 || options.signal.aborted) return false;
  const concurrency = Math.max(...options.concurrency);
  options.progress.say(`e2e: warm-up cell, ${concurrency} clients for ${durationMs / 1000}s (not counted)`);
  // Its acknowledged orders are checked with the cells' (no lost acknowledged order).
  const warm = await runClosedLoop({
    ...orderLoad(gateway, `${runTag}-warm`, acknowledged),
    concurrency,
    warmupMs: 0,
    durationMs,
    signal: options.signal,
  });
  options.progress.say(`e2e: warm-up cell: ${Math.round(warm.okPerSecond)} orders/s; then ANALYZE`);
  return true;
}

/** Per role: the extra environment asked for, over the CPU profiler's preload when profiling. */
function roleEnv(options: E2eOptions): Partial<Record<Role, Record<string, string>>> {
  const env: Partial<Record<Role, Record<string, string>>> = {};
  for (const role of ROLES) {
    env[role] = {
      ...(options.cpuProfDir ? cpuProfileEnv(path.join(options.cpuProfDir, `${role}.cpuprofile`)) : {}),
      ...options.serviceEnv?.[role],
    };
  }
  return env;
}

interface CellSpec {
  concurrency: number;
  cluster: PgCluster;
  sql: Sql;
  services: Record<Role, ServiceProcess>;
  /** Ids of every order a client saw as 201 CONFIRMED (all cells). */
  acknowledged: Set<string>;
  runTag: string;
  /** When the run started: the orders of this run are the ones created since. */
  since: Date;
  options: E2eOptions;
}

async function runCell(spec: CellSpec): Promise<E2eCell> {
  const { concurrency, cluster, services, options, acknowledged } = spec;
  const { say, status } = options.progress;
  const prefix = `${spec.runTag}-c${concurrency}`;
  const roots = {
    gateway: services.gateway.pid,
    order: services.order.pid,
    inventory: services.inventory.pid,
    payment: services["payment-sim"].pid,
    "pg-primary": cluster.primary.pid,
    "pg-replica": cluster.replica?.pid,
  };
  let cpuBefore: CpuSnapshot | undefined;
  let cpuAfter: CpuSnapshot | undefined;
  // Where the time goes inside the window: saga steps, gateway → order, inventory batches, DB sessions.
  const readings = async (): Promise<Readings> => {
    const [order, gateway, inventory, payment, db] = await Promise.all([
      scrapeMetrics(services.order.url),
      scrapeMetrics(services.gateway.url),
      scrapeMetrics(services.inventory.url),
      scrapeMetrics(services["payment-sim"].url),
      readDbCounters(spec.sql),
    ]);
    // Event-loop delay since the previous scrape (prom-client resets it on every collect). Its samples are
    // whole intervals of a 10 ms repeating timer, so an idle loop reads ~10 ms: report what lies beyond.
    const lag = (text: string) => ({
      meanMs: Math.max(0, parseGauge(text, "nodejs_eventloop_lag_mean_seconds") * 1000 - LOOP_TIMER_MS),
      p99Ms: Math.max(0, parseGauge(text, "nodejs_eventloop_lag_p99_seconds") * 1000 - LOOP_TIMER_MS),
    });
    return {
      steps: parseHistogram(order, "chaoscart_saga_step_seconds", "from"),
      upstream: parseHistogram(gateway, "chaoscart_gateway_upstream_seconds", "outcome"),
      batches: parseBatchCounters(inventory),
      confirmed: parseCounter(order, "chaoscart_orders_settled_total", "state", "CONFIRMED"),
      db,
      eventLoop: {
        gateway: lag(gateway),
        order: lag(order),
        inventory: lag(inventory),
        payment: lag(payment),
      },
    };
  };
  let readingsBefore: Promise<Readings> | undefined;
  let readingsAfter: Promise<Readings> | undefined;
  const sampler = new DbWaitSampler(spec.sql);
  let waits: Promise<DbWaits> | undefined;
  const label = `e2e ${String(concurrency).padStart(4)} clients`;
  const cellStarted = performance.now();
  say(`${label}: ${options.warmupMs / 1000}s warm-up + ${options.durationMs / 1000}s …`);

  const load = await runClosedLoop({
    ...orderLoad(services.gateway.url, prefix, acknowledged),
    concurrency,
    warmupMs: options.warmupMs,
    durationMs: options.durationMs,
    signal: options.signal,
    onMeasureStart: () => {
      cpuBefore = cpuSnapshot(roots);
      readingsBefore = readings();
      readingsBefore.catch(() => {});
      sampler.start();
    },
    onMeasureEnd: () => {
      cpuAfter = cpuSnapshot(roots);
      readingsAfter = readings();
      readingsAfter.catch(() => {});
      waits = sampler.stop();
    },
    onTick: (elapsedMs, phase, ok) =>
      status(`${label}: ${phase} ${(elapsedMs / 1000).toFixed(0)}s, ${ok} confirmed so far`),
  });
  const cpu =
    cpuBefore && cpuAfter
      ? cpuBetween(cpuBefore, cpuAfter)
      : {
          percent: {},
          machineBusyPercent: undefined,
          machineIowaitPercent: undefined,
          cores: os.availableParallelism(),
        };

  const diagnostics = await diagnose(readingsBefore, readingsAfter, waits, cpu, options.durationMs);

  // Sagas answered 202 keep running; let them finish so they do not load the next cell.
  const settledAfter = await waitSettled(spec.sql, spec.since, SETTLE_BETWEEN_CELLS_MS);

  const warnings: string[] = [];
  const whole = nonGoodput(load.errorKinds);
  const notGood = whole.accepted + whole.cancelled + whole.http4xx + whole.http5xx + whole.errors;
  if (notGood > 0) {
    warnings.push(`${notGood} of ${load.requests} answers were not 201 CONFIRMED (see the kinds above)`);
  }
  if (load.ok === 0) warnings.push("no 201 CONFIRMED in the timed window");
  if (!settledAfter)
    warnings.push(`orders still in flight ${SETTLE_BETWEEN_CELLS_MS / 1000}s after the cell`);
  const other = cpu.percent.other;
  if (other !== undefined && other > OTHER_CPU_WARN_PERCENT) {
    warnings.push(
      `the host was busy with other work (${other.toFixed(0)}% of a core): figures are perturbed`,
    );
  }
  const ourCores = os.availableParallelism();
  const cell: E2eCell = {
    concurrency,
    ordersPerSecond: load.okPerSecond,
    latencyMs: load.latencyMs,
    confirmed: load.grants,
    nonGoodputMeasured: nonGoodput(load.measuredErrorKinds),
    nonGoodput: whole,
    outcomeKinds: load.errorKinds,
    unknownOutcomes: load.unknownOutcomes,
    requests: load.requests,
    cpu,
    reference: {
      ratio: load.okPerSecond / E2E_REFERENCE.qps,
      perCoreRatio: load.okPerSecond / ourCores / (E2E_REFERENCE.qps / E2E_REFERENCE.cores),
    },
    settledAfter,
    ...(diagnostics ? { diagnostics } : {}),
    // Non-goodput is a finding, not a fault; a cell is invalid only when it measured nothing or broke.
    valid: load.ok > 0 && whole.errors === 0 && settledAfter,
    warnings,
  };
  const l = load.latencyMs;
  say(
    `${label}: ${load.okPerSecond.toFixed(0)} orders/s, p50 ${l.p50.toFixed(1)} ms, p99 ${l.p99.toFixed(1)} ms, ` +
      `not CONFIRMED ${notGood} (${((performance.now() - cellStarted) / 1000).toFixed(1)}s)`,
  );
  for (const warning of warnings) say(`  WARNING e2e @ ${concurrency}: ${warning}`);
  return cell;
}

interface Readings {
  steps: ReturnType<typeof parseHistogram>;
  upstream: ReturnType<typeof parseHistogram>;
  batches: ReturnType<typeof parseBatchCounters>;
  confirmed: number;
  db: DbCounters;
  eventLoop: E2eDiagnostics["eventLoopDelayMs"];
}

interface DbCounters {
  commits: number;
  walBytes: number;
  /** Rows read by sequential scans so far, by table (pg_stat_user_tables.seq_tup_read). */
  seqScanRows: Record<string, number>;
}

/**
 * Committed transactions (statements outside a transaction count one each), WAL written, whole
 * database; rows read by sequential scans, per table. The statistics reach the views when a busy
 * backend goes idle, at most once a second: the window's figures are good to about a second.
 */
async function readDbCounters(sql: Sql): Promise<DbCounters> {
  const [[row], tables] = await Promise.all([
    sql<{ commits: string; wal: string }[]>`
      SELECT xact_commit::text AS commits, pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text AS wal
      FROM pg_stat_database WHERE datname = current_database()`,
    sql<{ relname: string; rows: string }[]>`
      SELECT relname, seq_tup_read::text AS rows FROM pg_stat_user_tables`,
  ]);
  return {
    commits: Number(row?.commits ?? 0),
    walBytes: Number(row?.wal ?? 0),
    seqScanRows: Object.fromEntries(tables.map((t) => [t.relname, Number(t.rows)])),
  };
}

async function diagnose(
  before: Promise<Readings> | undefined,
  after: Promise<Readings> | undefined,
  waits: Promise<DbWaits> | undefined,
  cpu: CpuUse,
  windowMs: number,
): Promise<E2eDiagnostics | undefined> {
  if (!before || !after || !waits) return undefined;
  try {
    const [r0, r1, dbWaits] = await Promise.all([before, after, waits]);
    const count = r1.batches.batches - r0.batches.batches;
    const confirmed = r1.confirmed - r0.confirmed;
    const perOrder = (n: number) => (confirmed > 0 ? n / confirmed : Number.NaN);
    const cpuMsPerOrder: Record<string, number> = {};
    for (const [label, percent] of Object.entries(cpu.percent)) {
      if (label !== "other") cpuMsPerOrder[label] = perOrder((percent / 100) * windowMs);
    }
    return {
      serverConfirmed: confirmed,
      windowMs,
      cpuMsPerOrder,
      dbCommitsPerOrder: perOrder(r1.db.commits - r0.db.commits),
      walBytesPerOrder: perOrder(r1.db.walBytes - r0.db.walBytes),
      seqScanRowsPerOrder: Object.fromEntries(
        Object.entries(r1.db.seqScanRows)
          .map(([table, rows]) => [table, perOrder(rows - (r0.db.seqScanRows[table] ?? 0))] as const)
          .filter(([, rows]) => rows >= 1),
      ),
      eventLoopDelayMs: r1.eventLoop,
      sagaStepsMs: histogramDelta(r0.steps, r1.steps),
      gatewayUpstreamMs: histogramDelta(r0.upstream, r1.upstream),
      inventoryBatches: {
        count,
        meanSize: count > 0 ? (r1.batches.batchedRequests - r0.batches.batchedRequests) / count : 0,
        meanMs: count > 0 ? ((r1.batches.batchSeconds - r0.batches.batchSeconds) * 1000) / count : 0,
      },
      dbWaits,
    };
  } catch {
    return undefined; // diagnostics are best effort: a service that died is reported elsewhere
  }
}

/**
 * The lab's settle wait (src/lab/experiments/settle.ts) with a hard bound: every saga of the run ended
 * (terminal, and no cancelled order's void still watched) within `timeoutMs`, or not.
 */
async function waitSettled(sql: Sql, since: Date, timeoutMs: number): Promise<boolean> {
  const outcome = await waitForSagas({
    inFlight: () => sagasInFlight(sql, since),
    settleMs: 0,
    floorMs: timeoutMs,
    stallMs: timeoutMs,
    limitMs: timeoutMs,
    pollMs: 100,
  });
  return outcome.settled;
}

/**
 * The invariants (docs/architecture.md §Invariants) on the final state as the lab reads it
 * (readFinalState), through the lab's own checkers; plus the replica's convergence, which only the
 * bench looks at.
 */
async function checkInvariants(run: {
  sql: Sql;
  cluster: PgCluster;
  services: Record<Role, ServiceProcess>;
  acknowledged: ReadonlySet<string>;
  token: string;
  since: Date;
}): Promise<{ invariants: E2eInvariant[]; totals: E2eReport["totals"] }> {
  const { sql, cluster, services, acknowledged } = run;
  const settled = await waitSettled(sql, run.since, SETTLE_AT_END_MS);
  const final = await readFinalState({
    databaseUrl: cluster.primary.url,
    region: REGION,
    skus: HOT_SKUS,
    since: run.since,
    keys: [],
    orderIds: [...acknowledged],
    paymentUrl: services["payment-sim"].url,
    token: run.token,
  });
  for (const source of [final.orders, final.inventory, final.payments]) {
    if (isUnreadable(source)) throw new Error(`the final state could not be read: ${source.error}`);
  }
  const orders = final.orders as Exclude<typeof final.orders, { error: string }>;
  const inventory = final.inventory as Exclude<typeof final.inventory, { error: string }>;
  const payments = final.payments as Exclude<typeof final.payments, { error: string }>;
  const invariants: E2eInvariant[] = [];
  const add = (name: string, result: { valid: boolean; problems: string[] }, ok: string) =>
    invariants.push({ name, held: result.valid, detail: result.valid ? ok : summarise(result.problems) });

  const confirmed = orders.filter((o) => o.state === "CONFIRMED");
  const confirmedQty = new Map<string, number>();
  for (const order of confirmed) {
    for (const item of order.items) confirmedQty.set(item.sku, (confirmedQty.get(item.sku) ?? 0) + item.qty);
  }
  const stockLine = inventory.stock
    .map((s) => `${s.sku} sold ${s.sold}/${confirmedQty.get(s.sku) ?? 0} confirmed`)
    .join(", ");
  add(
    "sold == Σ qty of CONFIRMED orders, per SKU (no oversell)",
    checkSoldMatchesOrders(orders, inventory.stock),
    stockLine,
  );
  add(
    "conservation: available + reserved + sold == quota; ledger agrees",
    checkInventoryLedger(inventory),
    `${inventory.stock.length} SKUs, ${inventory.reservations.length} reservations, ` +
      `${inventory.movements.length} ledger movements balance`,
  );
  const terminal = checkTerminalSagas(orders, inventory.stock);
  add(
    "terminal sagas: no order in flight, reserved == 0",
    settled
      ? terminal
      : { valid: false, problems: [`not settled after ${SETTLE_AT_END_MS / 1000}s`, ...terminal.problems] },
    `${orders.length} orders terminal, reserved ${inventory.stock.map((s) => s.reserved).join("/")}`,
  );
  const captures = payments.filter((p) => p.state === "CAPTURED").length;
  add(
    "money: every CONFIRMED order captured exactly once at the provider, no stray capture",
    checkMoney(orders, payments),
    `${confirmed.length} CONFIRMED, ${captures} captured at the provider (${payments.length} payments)`,
  );
  add(
    "no lost acknowledged order (every 201 CONFIRMED is CONFIRMED in the database)",
    checkNoLostAck(acknowledgedHistory(acknowledged), orders),
    `${acknowledged.size} acknowledged, all CONFIRMED`,
  );
  if (cluster.replica) {
    await cluster.waitForReplicaCatchUp(10_000);
    const replica = postgres(cluster.replica.url, { max: 1, onnotice: () => {} });
    try {
      const [row] = await replica<{ sold: number; orders: number }[]>`
        SELECT (SELECT coalesce(sum(sold), 0) FROM stock)::int AS sold,
               (SELECT count(*) FROM orders WHERE state = 'CONFIRMED')::int AS orders`;
      const sold = inventory.stock.reduce((sum, s) => sum + s.sold, 0);
      invariants.push({
        name: "replica converged",
        held: row?.sold === sold && row.orders === confirmed.length,
        detail: `replica: sold ${row?.sold}, CONFIRMED ${row?.orders}; primary: ${sold}, ${confirmed.length}`,
      });
    } finally {
      await replica.end({ timeout: 1 });
    }
  }
  return {
    invariants,
    totals: {
      orders: orders.length,
      confirmed: confirmed.length,
      cancelled: orders.filter((o) => o.state === "CANCELLED").length,
      nonTerminal: orders.filter((o) => o.state !== "CONFIRMED" && o.state !== "CANCELLED").length,
      acknowledged: acknowledged.size,
      captures,
      soldBySku: Object.fromEntries(inventory.stock.map((s) => [s.sku, s.sold])),
    },
  };
}

/** What the bench's clients were told, as the lab's history: one `order` completion per 201 CONFIRMED. */
function acknowledgedHistory(acknowledged: ReadonlySet<string>): HistoryOp[] {
  return [...acknowledged].map((orderId, id) => ({
    type: "ok",
    id,
    process: "client",
    kind: "order",
    time: 0,
    wall: 0,
    value: { orderId, state: "CONFIRMED", status: 201 },
  }));
}

function summarise(problems: string[]): string {
  const shown = problems.slice(0, 5).join("; ");
  return problems.length > 5 ? `${shown}; … ${problems.length - 5} more` : shown;
}

async function describeSettings(
  cluster: PgCluster,
  options: E2eOptions,
  bins: ReturnType<typeof findPgBinaries>,
  workDir: string,
): Promise<Record<string, string | number | boolean>> {
  const pg = await cluster.settings();
  return {
    topology:
      "gateway -> order -> inventory, payment-sim: one child process each (chaoscart serve <role>, the lab's launcher), loopback, no fault links",
    "replication mode":
      options.replication === "none"
        ? "none (primary only)"
        : `${options.replication} (primary + 1 streaming hot standby on this host; order reads may use it)`,
    fsync: pg.fsync ?? "?",
    synchronous_commit: pg.synchronous_commit ?? "?",
    synchronous_standby_names: pg.synchronous_standby_names || "(empty)",
    "postgresql binaries": `${bins.version} ${bins.source}: ${bins.binDir}`,
    "postgresql data dir": `${cluster.workDir} (${fsType(workDir)})`,
    "payment provider": "payment-sim, latency 0, no errors or declines, journal fsync'ed per change",
    "order service":
      "service defaults: deadline 3000 ms (then 202), DB pool 10, per-attempt timeouts inventory 1000 / payment 1500 ms, 3 attempts, bulkhead 128+512",
    "inventory service": "service defaults: coalesce strategy, batch window 0 (adaptive), DB pool 10",
    gateway: "service defaults: POST /orders upstream timeout 5000 ms (then 504)",
    "gateway rate limits": `raised to ${BENCH_SERVICE_ENV.CHAOSCART_RATE_LIMIT_RPS} rps / burst (global and per user)`,
    workload: `${HOT_SKUS.length} hot SKUs (${HOT_SKUS.join(", ")}), ${STOCK_PER_SKU} units each at ${PRICE}; one item, qty 1; a new user and Idempotency-Key per request`,
    goodput: "201 with state CONFIRMED; 202, CANCELLED, 4xx, 5xx and transport errors counted apart",
    "duration per cell": `${options.durationMs / 1000} s timed + ${options.warmupMs / 1000} s warm-up (not counted)`,
    "warm-up cell": `${(options.warmupCellMs ?? WARMUP_CELL_MS) / 1000} s at ${Math.max(...options.concurrency)} clients before the first cell (not counted), then ANALYZE`,
    clients: options.concurrency.join(", "),
    "load generator":
      "this process: closed loop, one undici Client (keep-alive, pipelining 1) per client, same host",
    "cpu profiles": options.cpuProfDir ? path.resolve(options.cpuProfDir) : "off",
    "extra service env": options.serviceEnv
      ? Object.entries(options.serviceEnv)
          .flatMap(([role, env]) => Object.entries(env ?? {}).map(([k, v]) => `${role}:${k}=${v}`))
          .join(" ")
      : "none (service defaults)",
    "node version": process.version,
    "cpu count": `${os.availableParallelism()} (${os.cpus()[0]?.model.trim() ?? "unknown model"})`,
  };
}

/** Writes the e2e section into the JSON results file, keeping the rest of an existing document. */
export function writeE2eSection(out: string, e2e: E2eReport): void {
  let doc: Record<string, unknown> = { benchmark: "inventory-hot-sku", note: "inventory cells not run" };
  if (existsSync(out)) {
    try {
      const existing = JSON.parse(readFileSync(out, "utf8")) as unknown;
      if (existing && typeof existing === "object" && !Array.isArray(existing)) {
        doc = existing as Record<string, unknown>;
      }
    } catch {
      // unreadable: replaced
    }
  }
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ ...doc, e2e }, null, 2)}\n`);
}

// ---------------------------------------------------------------------------------------------------------
// Alone: node --import tsx bench/orders.ts

async function standalone(): Promise<number> {
  const program = new Command("bench-orders")
    .description(
      "end-to-end orders through the gateway on a hot-SKU flash sale (docs/architecture.md §Benchmarks)",
    )
    .addOption(
      new Option("--replication <mode>", "PostgreSQL: primary + sync replica, async replica, or none")
        .choices(["sync", "async", "none"])
        .default("sync"),
    )
    .option("--concurrency <list>", "client counts, comma-separated", parseConcurrency, [16, 64, 256])
    .option("--duration <time>", "timed window per cell (e.g. 5s)", parseDuration, 5_000)
    .option("--warmup <time>", "unmeasured warm-up per cell (0 for none)", parseWarmup, 1_000)
    .option(
      "--warmup-cell <time>",
      "a first cell at the highest concurrency, not counted (0 for none)",
      parseWarmup,
      WARMUP_CELL_MS,
    )
    .option(
      "--cpu-prof <dir>",
      "profile the services' CPU; .cpuprofile files in <dir> (see bench/cpuprofile.ts)",
    )
    .option("--env <role:NAME=value>", "extra service environment, repeatable", parseServiceEnv)
    .option("--out <path>", "JSON results file (its e2e section is replaced)", "bench/results/inventory.json")
    .option("--keep-logs", "keep the work dir (service logs, payment journal)", false)
    .showHelpAfterError();
  program.parse(process.argv);
  const o = program.opts();
  const abort = new AbortController();
  const log = progress();
  const onSignal = (signal: NodeJS.Signals) => {
    if (abort.signal.aborted) process.exit(130);
    log.say(`${signal}: stopping the load, the services and PostgreSQL`);
    abort.abort();
    void stopE2e().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const report = await runE2e({
      replication: o.replication,
      concurrency: o.concurrency,
      durationMs: o.duration,
      warmupMs: o.warmup,
      warmupCellMs: o.warmupCell,
      keepLogs: o.keepLogs,
      cpuProfDir: o.cpuProf,
      serviceEnv: o.env,
      signal: abort.signal,
      progress: log,
    });
    console.log(formatE2eReport(report));
    const out = path.resolve(o.out);
    writeE2eSection(out, report);
    console.log(`\nJSON (e2e section) written to ${path.relative(process.cwd(), out) || out}`);
    return report.invariants.every((i) => i.held) ? 0 : 1;
  } catch (error) {
    if (abort.signal.aborted) return 130;
    log.say(`e2e bench failed: ${(error as Error).stack ?? String(error)}`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exit(await standalone());
}
