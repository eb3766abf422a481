/**
 * `npm run bench`: reservations/s and p50/p99 on one hot SKU through the inventory HTTP API, side by side
 * in one run (docs/architecture.md §Benchmarks): (a) direct — one conditional UPDATE per request, (b) coalesce — the coalescing
 * engine, (c) noop — the same HTTP stack without the database (the ceiling). Real PostgreSQL, fsync and
 * synchronous_commit on, by default a synchronous streaming replica. Prints a table, the ratios b/a and b/c,
 * the settings, and writes the same figures as JSON.
 *
 * Then, in the same run, the end-to-end orders benchmark (bench/orders.ts: POST /orders through the gateway,
 * every service a child process, on a fresh cluster), printed beside the inventory figures and written into
 * the same JSON as its `e2e` section. `--skip-e2e` / `--only-e2e` run one half.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import postgres, { type Sql } from "postgres";
import { FaultLink } from "../src/lab/faults/index.ts";
import { findPgBinaries, type PgCluster, startPgCluster } from "../src/lab/topology/postgres/index.ts";
import { ServiceProcess } from "../src/lab/topology/service-process.ts";
import { INTERNAL, readBatchCounters, readStock, SERVICE_TOKEN, seedSku } from "./api.ts";
import {
  fsType,
  progress as makeProgress,
  parseConcurrency,
  parseDuration,
  parseWarmup,
  problemsLogged,
} from "./common.ts";
import { type CpuSnapshot, cpuBetween, cpuSnapshot } from "./cpu.ts";
import { cpuProfileEnv } from "./cpu-profile-env.ts";
import { runClosedLoop } from "./load.ts";
import { runE2e, stopE2e, writeE2eSection } from "./orders.ts";
import {
  type BenchReport,
  type CellResult,
  type E2eReport,
  formatE2eReport,
  formatReport,
  MODES,
  type Mode,
  ratios,
  targets,
  type Verification,
} from "./report.ts";

const ADMIN_TOKEN = "bench-admin-token";
/** Far more than a cell can take, so stock never runs out and every request is a real durable grant. */
const STOCK_PER_CELL = 100_000_000;
/** Reservations must not expire (and be swept back) while the run still counts them. */
const RESERVATION_TTL_MS = 86_400_000;
const SWEEP_INTERVAL_MS = 3_600_000;
/** CPU used by the rest of the host during a timed window above which the cell gets a warning. */
const OTHER_CPU_WARN_PERCENT = 25;

interface Options {
  replication: "sync" | "async" | "none";
  duration: number;
  warmup: number;
  /** Per mode, a first cell at the highest concurrency on a SKU of its own, not counted (0: none). */
  warmupCell: number;
  concurrency: number[];
  modes: Mode[];
  windowMs: number;
  buckets: number;
  replicaLatencyMs: number;
  dbPoolMax: number | undefined;
  out: string;
  keepLogs: boolean;
  e2eConcurrency: number[];
  e2eDuration: number;
  e2eWarmup: number;
  e2eCpuProf: string | undefined;
  cpuProf: string | undefined;
  skipE2e: boolean;
  onlyE2e: boolean;
}

function parseOptions(argv: string[]): Options {
  const program = new Command("bench")
    .description(
      "hot-SKU reservation benchmark: direct vs coalesce vs HTTP no-op (docs/architecture.md §Benchmarks)",
    )
    .addOption(
      new Option(
        "--replication <mode>",
        "PostgreSQL topology: primary + sync replica, async replica, or none",
      )
        .choices(["sync", "async", "none"])
        .default("sync"),
    )
    .option("--duration <time>", "timed window per cell (e.g. 5s, 500ms)", parseDuration, 5_000)
    .option("--warmup <time>", "unmeasured warm-up per cell (0 for none)", parseWarmup, 1_000)
    .option(
      "--warmup-cell <time>",
      "per mode, a first cell at the highest concurrency, not counted (0 for none)",
      parseWarmup,
      3_000,
    )
    .option("--concurrency <list>", "client counts, comma-separated", parseConcurrency, [1, 16, 64, 256])
    .option("--modes <list>", `comma-separated subset of ${MODES.join(",")}`, parseModes, [...MODES])
    .option(
      "--window-ms <ms>",
      "coalescing batch window, 0..2 ms (CHAOSCART_BATCH_WINDOW_MS)",
      parseWindow,
      0,
    )
    .option(
      "--replica-latency <ms>",
      "one-way delay on the replication stream (a fault link), as to a standby in another zone",
      parseLatency,
      0,
    )
    .option("--buckets <n>", "split mode: rows the hot SKU's stock is split into, 2..64", parseBuckets, 4)
    .option(
      "--db-pool-max <n>",
      "service DB pool size (CHAOSCART_DB_POOL_MAX); default: the service's",
      parsePool,
    )
    .option("--out <path>", "JSON results file", "bench/results/inventory.json")
    .option("--keep-logs", "keep the service logs directory", false)
    .option(
      "--e2e-concurrency <list>",
      "end to end: client counts, comma-separated",
      parseConcurrency,
      [16, 64, 256],
    )
    .option("--e2e-duration <time>", "end to end: timed window per cell", parseDuration, 5_000)
    .option("--e2e-warmup <time>", "end to end: unmeasured warm-up per cell", parseWarmup, 1_000)
    .option(
      "--cpu-prof <dir>",
      "profile the inventory service's CPU, one <mode>.cpuprofile per mode in <dir>",
    )
    .option("--e2e-cpu-prof <dir>", "end to end: profile the services' CPU into <dir> (bench/cpuprofile.ts)")
    .option("--skip-e2e", "run only the inventory cells", false)
    .option("--only-e2e", "run only the end-to-end orders benchmark", false)
    .showHelpAfterError();
  program.parse(argv);
  const o = program.opts();
  if (o.skipE2e && o.onlyE2e) program.error("--skip-e2e and --only-e2e exclude each other");
  return {
    replication: o.replication,
    duration: o.duration,
    warmup: o.warmup,
    warmupCell: o.warmupCell,
    concurrency: o.concurrency,
    modes: o.modes,
    windowMs: o.windowMs,
    buckets: o.buckets,
    replicaLatencyMs: o.replicaLatency,
    dbPoolMax: o.dbPoolMax,
    out: o.out,
    keepLogs: o.keepLogs,
    e2eConcurrency: o.e2eConcurrency,
    e2eDuration: o.e2eDuration,
    e2eWarmup: o.e2eWarmup,
    e2eCpuProf: o.e2eCpuProf,
    cpuProf: o.cpuProf,
    skipE2e: o.skipE2e,
    onlyE2e: o.onlyE2e,
  };
}

function parseLatency(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 100)
    throw new InvalidArgumentError("expected an integer 0..100 (ms)");
  return n;
}

/** The replica reaches the primary through a fault link that delays every chunk both ways. */
async function slowReplicationLink(primaryPort: number, latencyMs: number) {
  const link = await FaultLink.start({
    name: "replication",
    upstream: { host: "127.0.0.1", port: primaryPort },
  });
  running.replicationLink = link;
  for (const direction of ["upstream", "downstream"] as const) {
    link.addToxic({ type: "latency", direction, attributes: { latencyMs, jitterMs: 0 } });
  }
  return { host: "127.0.0.1", port: link.port };
}

function parseBuckets(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 2 || n > 64) throw new InvalidArgumentError("expected an integer 2..64");
  return n;
}

function parseModes(value: string): Mode[] {
  const list = value.split(",").map((s) => s.trim());
  const bad = list.filter((m) => !(MODES as readonly string[]).includes(m));
  if (bad.length > 0 || list.length === 0) {
    throw new InvalidArgumentError(
      `unknown mode(s) ${bad.join(", ")}: expected a subset of ${MODES.join(",")}`,
    );
  }
  return [...new Set(list as Mode[])];
}

function parseWindow(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 2)
    throw new InvalidArgumentError("expected a number of ms in 0..2");
  return n;
}

function parsePool(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 200)
    throw new InvalidArgumentError("expected an integer in 1..200");
  return n;
}

// ---------------------------------------------------------------------------------------------------------

const runStarted = performance.now();
const progress = makeProgress(runStarted);
const { say, status } = progress;

interface Running {
  cluster?: PgCluster;
  replicationLink?: FaultLink;
  sql?: Sql;
  service?: ServiceProcess;
  logDir?: string;
}

const running: Running = {};
const abort = new AbortController();
let tearingDown: Promise<void> | undefined;

function teardown(keepLogs: boolean): Promise<void> {
  tearingDown ??= (async () => {
    await running.service?.stop().catch((e: unknown) => say(`stopping the service: ${String(e)}`));
    await running.sql?.end({ timeout: 1 }).catch(() => {});
    await running.cluster?.stop().catch((e: unknown) => say(`stopping PostgreSQL: ${String(e)}`));
    await running.replicationLink?.close().catch(() => {});
    if (running.logDir) {
      if (keepLogs) say(`service logs kept in ${running.logDir}`);
      else rmSync(running.logDir, { recursive: true, force: true });
    }
  })();
  return tearingDown;
}

function onSignal(signal: NodeJS.Signals): void {
  if (abort.signal.aborted) process.exit(130); // second Ctrl-C: the exit hooks kill what is left
  say(`${signal}: stopping the load, the services and PostgreSQL`);
  abort.abort();
  void Promise.allSettled([teardown(false), stopE2e()]).finally(() =>
    process.exit(signal === "SIGINT" ? 130 : 143),
  );
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv);
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let code = 0;
  let inventory: BenchReport | undefined;
  if (!options.onlyE2e) {
    const result = await runInventory(options);
    if (result.code !== 0) code = result.code;
    inventory = result.report;
  }
  if (abort.signal.aborted) return 130;

  let e2e: E2eReport | undefined;
  if (!options.skipE2e) {
    try {
      e2e = await runE2e({
        replication: options.replication,
        concurrency: options.e2eConcurrency,
        durationMs: options.e2eDuration,
        warmupMs: options.e2eWarmup,
        keepLogs: options.keepLogs,
        cpuProfDir: options.e2eCpuProf,
        signal: abort.signal,
        progress,
      });
      if (!e2e.invariants.every((invariant) => invariant.held)) code = 1;
    } catch (error) {
      if (abort.signal.aborted) return 130;
      say(`end-to-end bench failed: ${(error as Error).stack ?? String(error)}`);
      code = 1;
    }
  }
  if (abort.signal.aborted) return 130;

  // Both halves' figures together, after both have run.
  if (inventory) console.log(formatReport(inventory));
  if (e2e) console.log(formatE2eReport(e2e));
  const out = path.resolve(options.out);
  if (inventory) {
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(e2e ? { ...inventory, e2e } : inventory, null, 2)}\n`);
  } else if (e2e) {
    writeE2eSection(out, e2e); // --only-e2e: the inventory cells of an earlier run stay
  }
  if (inventory || e2e) {
    console.log(
      `\nJSON written to ${path.relative(process.cwd(), out) || out}` +
        (inventory ? "" : " (e2e section; the rest of the file is from an earlier run, if any)"),
    );
  }
  return code;
}

/** The inventory cells (direct / coalesce / noop): their own cluster, torn down before the e2e part starts. */
async function runInventory(options: Options): Promise<{ report: BenchReport | undefined; code: number }> {
  const startedAt = new Date().toISOString();
  const runTag = Date.now().toString(36).toUpperCase();
  let keepLogs = options.keepLogs;

  try {
    const bins = findPgBinaries();
    say(
      `PostgreSQL ${bins.version} (${bins.source}); replication ${options.replication}; ` +
        `modes ${options.modes.join(",")}; clients ${options.concurrency.join(",")}; ` +
        `${options.warmup / 1000}s warm-up + ${options.duration / 1000}s per cell`,
    );
    running.logDir = mkdtempSync(path.join(os.tmpdir(), "chaoscart-bench-"));
    if (options.cpuProf) mkdirSync(options.cpuProf, { recursive: true });
    const cluster = await startPgCluster({
      replica: options.replication !== "none",
      replication: options.replication === "sync" ? "sync" : "async",
      ...(options.replicaLatencyMs > 0
        ? { replicationUpstream: (port: number) => slowReplicationLink(port, options.replicaLatencyMs) }
        : {}),
      log: (msg) => say(`postgresql: ${msg}`),
    });
    running.cluster = cluster;
    const sql = postgres(cluster.primary.url, { max: 2, onnotice: () => {} });
    running.sql = sql;

    const cells: CellResult[] = [];
    for (const mode of options.modes) {
      if (abort.signal.aborted) break;
      const logFile = path.join(running.logDir, `inventory-${mode}.log`);
      say(`starting the inventory service for ${mode}`);
      const service = await ServiceProcess.start({
        role: "inventory",
        logFile,
        readyTimeoutMs: 60_000,
        env: serviceEnv(mode, cluster.primary.url, options),
      });
      running.service = service;
      if (options.cpuProf && service.pid) process.kill(service.pid, "SIGUSR2"); // drop start-up from the profile
      try {
        // Each mode starts a service of its own, and its first cell paid for the service's warm-up
        // (as the end-to-end bench's did: bench/orders.ts warmUp); checked like a cell, not counted.
        if (options.warmupCell > 0 && !abort.signal.aborted) {
          const warm = { ...options, warmup: 0, duration: options.warmupCell };
          const concurrency = Math.max(...options.concurrency);
          const cell = await runCell({
            mode,
            concurrency,
            service,
            cluster,
            sql,
            options: warm,
            runTag,
            warmUp: true,
          });
          if (cell.verification && !cell.verification.ok)
            throw new Error(
              `the ${mode} warm-up cell failed its checks: ${cell.verification.problems.join("; ")}`,
            );
        }
        for (const concurrency of options.concurrency) {
          if (abort.signal.aborted) break;
          const cell = await runCell({ mode, concurrency, service, cluster, sql, options, runTag });
          cells.push(cell);
          if (!service.pid) throw new Error(`the ${mode} service died during the run; see ${logFile}`);
        }
      } finally {
        await service.stop();
        running.service = undefined;
      }
      const logged = problemsLogged(logFile);
      if (logged.count > 0) {
        keepLogs = true;
        const note = `service logged ${logged.count} warning/error line(s), first: ${logged.first}`;
        say(`${mode}: ${note}`);
        for (const cell of cells.filter((c) => c.mode === mode)) cell.warnings.push(note);
      }
    }
    if (abort.signal.aborted) return { report: undefined, code: 130 };

    const settings = await describeSettings(cluster, sql, options, bins);
    const allRatios = ratios(cells, options.concurrency);
    const valid = cells.every((cell) => cell.valid);
    const report: BenchReport = {
      benchmark: "inventory-hot-sku",
      startedAt,
      finishedAt: new Date().toISOString(),
      settings: {
        ...settings,
        "run time": `${((performance.now() - runStarted) / 1000).toFixed(0)} s (inventory cells)`,
      },
      cells,
      ratios: allRatios,
      targets: targets(cells, allRatios),
      valid,
    };
    const failedChecks = cells.some((cell) => cell.verification && !cell.verification.ok);
    if (failedChecks) keepLogs = true;
    return { report, code: failedChecks ? 1 : 0 };
  } catch (error) {
    keepLogs = true;
    if (!abort.signal.aborted) say(`bench failed: ${(error as Error).stack ?? String(error)}`);
    return { report: undefined, code: abort.signal.aborted ? 130 : 1 };
  } finally {
    await teardown(keepLogs);
  }
}

function serviceEnv(mode: Mode, databaseUrl: string, options: Options): Record<string, string> {
  const env: Record<string, string> = {
    CHAOSCART_DATABASE_URL: databaseUrl,
    CHAOSCART_ADMIN_TOKEN: ADMIN_TOKEN,
    CHAOSCART_SERVICE_TOKEN: SERVICE_TOKEN,
    CHAOSCART_LOG_LEVEL: "warn",
    // noop never reaches the engine; the strategy is irrelevant there.
    CHAOSCART_INVENTORY_STRATEGY: mode === "direct" ? "direct" : "coalesce",
    CHAOSCART_BATCH_WINDOW_MS: String(options.windowMs),
    CHAOSCART_BENCH_ENDPOINTS: mode === "noop" ? "1" : "0",
    CHAOSCART_RESERVATION_TTL_MS: String(RESERVATION_TTL_MS),
    CHAOSCART_SWEEP_INTERVAL_MS: String(SWEEP_INTERVAL_MS),
  };
  if (options.dbPoolMax !== undefined) env.CHAOSCART_DB_POOL_MAX = String(options.dbPoolMax);
  if (options.cpuProf)
    Object.assign(env, cpuProfileEnv(path.join(options.cpuProf, `inventory-${mode}.cpuprofile`)));
  return env;
}

interface CellSpec {
  mode: Mode;
  concurrency: number;
  service: ServiceProcess;
  cluster: PgCluster;
  sql: Sql;
  options: Options;
  runTag: string;
  /** The mode's warm-up cell: a SKU of its own, labelled as such. */
  warmUp?: boolean;
}

async function runCell(spec: CellSpec): Promise<CellResult> {
  const { mode, concurrency, service, cluster, sql, options } = spec;
  const tag = spec.warmUp ? `${spec.runTag}-W` : spec.runTag;
  const sku = `BENCH-${mode.toUpperCase()}-C${concurrency}-${tag}`;
  const orderPrefix = `${mode[0]}${concurrency}-${tag}`;
  const buckets = mode === "split" ? options.buckets : undefined;
  if (mode !== "noop") await seedSku(service.url, ADMIN_TOKEN, sku, STOCK_PER_CELL, buckets);
  const coalescing = mode === "coalesce" || mode === "split";
  const batchesBefore = coalescing ? await readBatchCounters(service.url) : undefined;

  const roots = {
    service: service.pid,
    "pg-primary": cluster.primary.pid,
    "pg-replica": cluster.replica?.pid,
  };
  let cpuBefore: CpuSnapshot | undefined;
  let cpuAfter: CpuSnapshot | undefined;
  const label = `${mode.padEnd(8)} ${String(concurrency).padStart(4)} clients${spec.warmUp ? " (warm-up, not counted)" : ""}`;
  const cellStarted = performance.now();
  say(`${label}: ${options.warmup / 1000}s warm-up + ${options.duration / 1000}s …`);
  const load = await runClosedLoop({
    origin: service.url,
    path: mode === "noop" ? "/noop" : "/reservations",
    concurrency,
    warmupMs: options.warmup,
    durationMs: options.duration,
    okStatus: 201,
    headers: () => INTERNAL,
    body: (worker, seq) => JSON.stringify({ orderId: `${orderPrefix}-${worker}-${seq}`, sku, qty: 1 }),
    signal: abort.signal,
    onMeasureStart: () => {
      cpuBefore = cpuSnapshot(roots);
    },
    onMeasureEnd: () => {
      cpuAfter = cpuSnapshot(roots);
    },
    onTick: (elapsedMs, phase, ok) =>
      status(`${label}: ${phase} ${(elapsedMs / 1000).toFixed(0)}s, ${ok} granted so far`),
  });
  const cpu =
    cpuBefore && cpuAfter
      ? cpuBetween(cpuBefore, cpuAfter)
      : {
          percent: {},
          machineBusyPercent: undefined,
          machineIowaitPercent: undefined,
          cores: os.cpus().length,
        };

  const warnings: string[] = [];
  if (load.errors > 0) {
    const kinds = Object.entries(load.errorKinds)
      .map(([kind, n]) => `${kind} x${n}`)
      .join(", ");
    warnings.push(`${load.errors} error(s) of ${load.requests} requests: ${kinds}`);
  }
  if (load.ok === 0) warnings.push("no successful request in the timed window");
  const other = cpu.percent.other;
  if (other !== undefined && other > OTHER_CPU_WARN_PERCENT) {
    warnings.push(
      `the host was busy with other work (${other.toFixed(0)}% of a core): figures are perturbed`,
    );
  }

  let batches: CellResult["batches"];
  if (batchesBefore) {
    const after = await readBatchCounters(service.url);
    const count = after.batches - batchesBefore.batches;
    batches = {
      count,
      meanSize: count > 0 ? (after.batchedRequests - batchesBefore.batchedRequests) / count : 0,
      meanMs: count > 0 ? ((after.batchSeconds - batchesBefore.batchSeconds) * 1000) / count : 0,
    };
  }

  let verification: Verification | undefined;
  if (mode !== "noop") {
    verification = await verify(service.url, sql, sku, load.grants.total, load.unknownOutcomes);
    warnings.push(...verification.problems);
  }
  const valid = load.errors === 0 && load.ok > 0 && (verification?.ok ?? true);
  const result: CellResult = {
    mode,
    concurrency,
    sku,
    reservationsPerSecond: load.okPerSecond,
    latencyMs: load.latencyMs,
    errors: load.errors,
    errorKinds: load.errorKinds,
    unknownOutcomes: load.unknownOutcomes,
    grants: load.grants,
    requests: load.requests,
    ...(batches ? { batches } : {}),
    ...(verification ? { verification } : {}),
    cpu,
    valid,
    warnings,
  };
  const l = load.latencyMs;
  say(
    `${label}: ${load.okPerSecond.toFixed(0)} res/s, p50 ${l.p50.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms, ` +
      `errors ${load.errors}` +
      (batches ? `, mean batch ${batches.meanSize.toFixed(1)}` : "") +
      (verification ? `, check ${verification.ok ? "ok" : "FAILED"}` : "") +
      ` (${((performance.now() - cellStarted) / 1000).toFixed(1)}s)`,
  );
  for (const warning of warnings) say(`  WARNING ${mode} @ ${concurrency}: ${warning}`);
  return result;
}

/** No oversell, conservation, and every 201 durable: the stock row and the rows behind it agree with the client. */
async function verify(
  origin: string,
  sql: Sql,
  sku: string,
  grants: number,
  unknownOutcomes: number,
): Promise<Verification> {
  const stock = await readStock(origin, sku);
  const [rows] = await sql<{ reservations: number; movements: number }[]>`
    SELECT (SELECT count(*) FROM reservation WHERE sku_id = ${sku})::int AS reservations,
           (SELECT count(*) FROM stock_movement WHERE sku_id = ${sku} AND kind = 'reserve')::int AS movements`;
  const reservationRows = rows?.reservations ?? -1;
  const reserveMovements = rows?.movements ?? -1;
  const problems: string[] = [];
  if (stock.available + stock.reserved + stock.sold !== stock.quota) {
    problems.push(
      `not conserved: available ${stock.available} + reserved ${stock.reserved} + sold ${stock.sold} != quota ${stock.quota}`,
    );
  }
  if (stock.quota !== STOCK_PER_CELL) problems.push(`quota ${stock.quota} != seeded ${STOCK_PER_CELL}`);
  if (stock.sold !== 0) problems.push(`sold ${stock.sold} != 0 (nothing was committed)`);
  const maybe = unknownOutcomes > 0 ? ` (${unknownOutcomes} request(s) of unknown outcome)` : "";
  if (stock.reserved !== grants)
    problems.push(`reserved ${stock.reserved} != ${grants} responses 201${maybe}`);
  if (reservationRows !== grants)
    problems.push(`${reservationRows} reservation rows != ${grants} grants${maybe}`);
  if (reserveMovements !== grants)
    problems.push(`${reserveMovements} reserve movements != ${grants} grants${maybe}`);
  return { ok: problems.length === 0, problems, stock, grants, reservationRows, reserveMovements };
}

async function describeSettings(
  cluster: PgCluster,
  sql: Sql,
  options: Options,
  bins: ReturnType<typeof findPgBinaries>,
): Promise<Record<string, string | number | boolean>> {
  const reported = await cluster.settings();
  const extra = await sql<{ name: string; setting: string; unit: string | null }[]>`
    SELECT name, setting, unit FROM pg_settings
    WHERE name IN ('full_page_writes', 'wal_sync_method', 'commit_delay', 'shared_buffers', 'max_connections')`;
  const [version] = await sql<{ v: string }[]>`SELECT version() AS v`;
  const pg = (name: string) => reported[name] ?? extra.find((row) => row.name === name)?.setting ?? "?";
  const replication =
    options.replication === "none"
      ? "none (primary only)"
      : `${options.replication} (primary + 1 streaming hot standby on this host)`;
  const cpus = os.cpus();
  return {
    "replication mode": replication,
    fsync: pg("fsync"),
    synchronous_commit: pg("synchronous_commit"),
    synchronous_standby_names: pg("synchronous_standby_names") || "(empty)",
    full_page_writes: pg("full_page_writes"),
    wal_sync_method: pg("wal_sync_method"),
    "postgresql version": version?.v.split(",")[0] ?? cluster.version,
    "postgresql binaries": `${bins.source}: ${bins.binDir}`,
    "postgresql data dir": `${cluster.workDir} (${fsType(cluster.workDir)})`,
    "batch window ms": options.windowMs,
    "replica latency":
      options.replicaLatencyMs > 0 ? `${options.replicaLatencyMs} ms each way (fault link)` : "none",
    "split mode: stock buckets": options.modes.includes("split") ? options.buckets : "-",
    "batch max": "service default (512)",
    "db pool max": options.dbPoolMax ?? "service default (10)",
    "reservation ttl / sweeper": `${RESERVATION_TTL_MS / 3_600_000} h / every ${SWEEP_INTERVAL_MS / 60_000} min (nothing expires during the run)`,
    "stock per cell": `${STOCK_PER_CELL} (fresh SKU per cell: every request is a real grant)`,
    "duration per cell": `${options.duration / 1000} s timed + ${options.warmup / 1000} s warm-up (not counted)`,
    "warm-up cell": `${options.warmupCell / 1000} s per mode at ${Math.max(...options.concurrency)} clients before its first cell (not counted)`,
    clients: options.concurrency.join(", "),
    "load generator":
      "this process: closed loop, one undici Client (keep-alive, pipelining 1) per client, same host",
    "node version": process.version,
    "cpu count": `${os.availableParallelism()} (${cpus[0]?.model.trim() ?? "unknown model"})`,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}

process.exit(await main());
