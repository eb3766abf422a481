/** The benchmark's figures: types, the printed tables and the JSON document. */
import type { Stock } from "./api.ts";
import type { CpuUse } from "./cpu.ts";
import { type DbWaits, formatWaits } from "./db-waits.ts";
import type { LatencySummary, LoadResult } from "./load.ts";

/** split: the coalescing engine on a SKU whose stock is split into buckets (`--buckets`). */
export const MODES = ["direct", "coalesce", "split", "noop"] as const;
export type Mode = (typeof MODES)[number];

export interface Verification {
  ok: boolean;
  problems: string[];
  stock: Stock;
  /** 201 responses over the whole cell (warm-up and drain included). */
  grants: number;
  /** Rows in `reservation` and `reserve` ledger movements for the cell's SKU, read from the primary. */
  reservationRows: number;
  reserveMovements: number;
}

export interface CellResult {
  mode: Mode;
  concurrency: number;
  sku: string;
  reservationsPerSecond: number;
  latencyMs: LatencySummary;
  errors: number;
  errorKinds: Record<string, number>;
  unknownOutcomes: number;
  grants: LoadResult["grants"];
  requests: number;
  /** The coalescing engine's batches during the cell (warm-up included), from the service's /metrics. */
  batches?: { count: number; meanSize: number; meanMs: number };
  verification?: Verification;
  cpu: CpuUse;
  valid: boolean;
  warnings: string[];
}

export interface Ratio {
  concurrency: number;
  coalesceOverDirect: number | undefined;
  coalesceOverNoop: number | undefined;
  splitOverCoalesce: number | undefined;
}

export interface Targets {
  concurrency: number;
  coalesceOverDirect: { value: number | undefined; target: number; met: boolean | undefined };
  coalesceOverNoop: { value: number | undefined; target: number; met: boolean | undefined };
  coalesceP99Ms: { value: number | undefined; target: number; met: boolean | undefined };
}

export interface BenchReport {
  benchmark: "inventory-hot-sku";
  /** The end-to-end orders benchmark of the same run (bench/orders.ts), when it ran. */
  e2e?: E2eReport;
  startedAt: string;
  finishedAt: string;
  settings: Record<string, string | number | boolean>;
  cells: CellResult[];
  ratios: Ratio[];
  targets: Targets | undefined;
  valid: boolean;
}

export function ratios(cells: CellResult[], concurrencies: number[]): Ratio[] {
  const rate = (mode: Mode, c: number) =>
    cells.find((cell) => cell.mode === mode && cell.concurrency === c)?.reservationsPerSecond;
  return concurrencies.map((c) => {
    const a = rate("direct", c);
    const b = rate("coalesce", c);
    const n = rate("noop", c);
    const s = rate("split", c);
    return {
      concurrency: c,
      coalesceOverDirect: b !== undefined && a ? b / a : undefined,
      coalesceOverNoop: b !== undefined && n ? b / n : undefined,
      splitOverCoalesce: s !== undefined && b ? s / b : undefined,
    };
  });
}

/** The inventory targets (docs/architecture.md §Benchmarks), judged at 256 clients (or the highest concurrency run, if 256 was not). */
export function targets(cells: CellResult[], all: Ratio[]): Targets | undefined {
  const at = all.some((r) => r.concurrency === 256) ? 256 : Math.max(...all.map((r) => r.concurrency));
  const ratio = all.find((r) => r.concurrency === at);
  if (!ratio) return undefined;
  const p99 = cells.find((cell) => cell.mode === "coalesce" && cell.concurrency === at)?.latencyMs.p99;
  const judge = (value: number | undefined, target: number, atLeast: boolean) => ({
    value,
    target,
    met: value === undefined || Number.isNaN(value) ? undefined : atLeast ? value >= target : value <= target,
  });
  return {
    concurrency: at,
    coalesceOverDirect: judge(ratio.coalesceOverDirect, 10, true),
    coalesceOverNoop: judge(ratio.coalesceOverNoop, 0.5, true),
    coalesceP99Ms: judge(p99, 50, false),
  };
}

export function formatReport(report: BenchReport): string {
  const out: string[] = [];
  out.push("", "Reservations on one hot SKU (closed loop, one keep-alive connection per client)", "");
  const cpuLabels = ["bench", "service", "pg-primary", "pg-replica", "other"];
  out.push(
    table(
      [
        "mode",
        "clients",
        "res/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "errors",
        "batch",
        "check",
        "cpu% bench/svc/pg/replica/other",
        "host busy",
      ],
      report.cells.map((cell) => [
        cell.mode,
        String(cell.concurrency),
        fixed(cell.reservationsPerSecond, 0),
        fixed(cell.latencyMs.p50, 2),
        fixed(cell.latencyMs.p99, 2),
        fixed(cell.latencyMs.max, 1),
        cell.errors === 0 ? "0" : `${cell.errors} !`,
        cell.batches ? fixed(cell.batches.meanSize, 1) : "-",
        cell.verification ? (cell.verification.ok ? "ok" : "FAIL") : "-",
        cpuLabels.map((label) => fixed(cell.cpu.percent[label], 0)).join("/"),
        cell.cpu.machineBusyPercent === undefined ? "-" : `${fixed(cell.cpu.machineBusyPercent, 0)}%`,
      ]),
      [false, true, true, true, true, true, true, true, false, true, true],
    ),
  );
  out.push(
    "",
    "  batch = mean requests per coalesced transaction; check = stock conserved and reserved == 201s;",
    `  cpu% = % of one core over the timed window (${report.cells[0]?.cpu.cores ?? "?"} cores: 100% each);`,
    "  other = the rest of the host (kernel, other processes); host busy = % of all cores in use",
  );

  out.push("", "Ratios (reservations/s)", "");
  out.push(
    table(
      ["clients", "coalesce / direct (b/a)", "coalesce / noop (b/c)", "split / coalesce"],
      report.ratios.map((r) => [
        String(r.concurrency),
        r.coalesceOverDirect === undefined ? "-" : `${fixed(r.coalesceOverDirect, 2)}x`,
        r.coalesceOverNoop === undefined ? "-" : `${fixed(r.coalesceOverNoop * 100, 1)}%`,
        r.splitOverCoalesce === undefined ? "-" : `${fixed(r.splitOverCoalesce, 2)}x`,
      ]),
      [true, true, true, true],
    ),
  );

  const t = report.targets;
  if (t) {
    const mark = (met: boolean | undefined) => (met === undefined ? "n/a " : met ? "MET " : "MISS");
    out.push("", `Targets at ${t.concurrency} clients`, "");
    out.push(
      `  ${mark(t.coalesceOverDirect.met)}  coalesce >= 10x direct       ` +
        `${t.coalesceOverDirect.value === undefined ? "-" : `${fixed(t.coalesceOverDirect.value, 2)}x`}`,
      `  ${mark(t.coalesceOverNoop.met)}  coalesce >= 50% of noop      ` +
        `${t.coalesceOverNoop.value === undefined ? "-" : `${fixed(t.coalesceOverNoop.value * 100, 1)}%`}`,
      `  ${mark(t.coalesceP99Ms.met)}  coalesce p99 <= 50 ms        ` +
        `${t.coalesceP99Ms.value === undefined ? "-" : `${fixed(t.coalesceP99Ms.value, 2)} ms`}`,
    );
  }

  const warnings = report.cells.flatMap((cell) =>
    cell.warnings.map((w) => `  ${cell.mode} @ ${cell.concurrency}: ${w}`),
  );
  if (warnings.length > 0)
    out.push("", "WARNINGS (a cell with errors or a failed check is not valid)", ...warnings);

  out.push("", "Settings", "");
  const width = Math.max(...Object.keys(report.settings).map((k) => k.length));
  for (const [key, value] of Object.entries(report.settings)) out.push(`  ${key.padEnd(width)}  ${value}`);
  return out.join("\n");
}

export function fixed(value: number | undefined, digits: number): string {
  return value === undefined || Number.isNaN(value) ? "-" : value.toFixed(digits);
}

export function table(header: string[], rows: string[][], alignRight: boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: string[]) =>
    `  ${cells
      .map((cell, i) => (alignRight[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd()}`;
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

// ---------------------------------------------------------------------------------------------------------
// End to end: orders through the gateway (bench/orders.ts)

/** The published figure the end-to-end run is compared with (an inventory-only service, not a whole saga). */
export const E2E_REFERENCE = {
  description: "a published Go inventory service",
  qps: 3_000,
  p99Ms: 42,
  cores: 4,
} as const;

/** Answers that are not goodput (201 CONFIRMED), by category. */
export interface NonGoodput {
  /** 202: the saga's deadline passed first (the order settles later). */
  accepted: number;
  /** 201/200 with a CANCELLED order. */
  cancelled: number;
  http4xx: number;
  http5xx: number;
  /** Transport failures, malformed answers, unexpected states (e.g. a 200 idempotent replay). */
  errors: number;
}

export function nonGoodput(kinds: Record<string, number>): NonGoodput {
  const out: NonGoodput = { accepted: 0, cancelled: 0, http4xx: 0, http5xx: 0, errors: 0 };
  for (const [kind, n] of Object.entries(kinds)) {
    if (kind.startsWith("202")) out.accepted += n;
    else if (/^20[01] CANCELLED/.test(kind)) out.cancelled += n;
    else if (kind.startsWith("http 4")) out.http4xx += n;
    else if (kind.startsWith("http 5")) out.http5xx += n;
    else out.errors += n;
  }
  return out;
}

export interface E2eCell {
  concurrency: number;
  /** 201 CONFIRMED answers completed in the timed window, per second. */
  ordersPerSecond: number;
  /** Latency of those answers, ms. */
  latencyMs: LatencySummary;
  /** 201 CONFIRMED answers by phase of completion. */
  confirmed: LoadResult["grants"];
  /** Non-goodput answers completed in the timed window, and over the whole cell (warm-up and drain too). */
  nonGoodputMeasured: NonGoodput;
  nonGoodput: NonGoodput;
  /** Every non-goodput answer over the whole cell by kind: "202 deadline", "201 CANCELLED(sold_out)", … */
  outcomeKinds: Record<string, number>;
  unknownOutcomes: number;
  requests: number;
  cpu: CpuUse;
  /** orders/s over the reference's QPS, as measured and per core. */
  reference: { ratio: number; perCoreRatio: number };
  /** Orders still in flight when the cell ended had settled before the next cell started. */
  settledAfter: boolean;
  diagnostics?: E2eDiagnostics;
  valid: boolean;
  warnings: string[];
}

/** Where the time went in the timed window, from the services' /metrics and pg_stat_activity. */
export interface E2eDiagnostics {
  /** Orders the order service confirmed during the window (its own counter: includes sagas answered 202). */
  serverConfirmed: number;
  windowMs: number;
  /** CPU time per server-confirmed order, ms, per process (bench = the load generator). Robust to host noise. */
  cpuMsPerOrder: Record<string, number>;
  /** Committed transactions per confirmed order, whole database (a statement outside BEGIN counts one). */
  dbCommitsPerOrder: number;
  walBytesPerOrder: number;
  /**
   * Rows read by sequential scans per confirmed order, by table (at least one). A statement that
   * scans a table the order path grows costs more with every order; the order path should find its
   * rows by index.
   */
  seqScanRowsPerOrder: Record<string, number>;
  /** Each service's event-loop delay over the window (how late a 10 ms timer fired): CPU starvation shows here. */
  eventLoopDelayMs: Record<string, { meanMs: number; p99Ms: number }>;
  /** Mean duration of a saga step by the state it starts from (order service). */
  sagaStepsMs: Record<string, { meanMs: number; count: number }>;
  /** Mean time from the gateway forwarding POST /orders to the order service's answer, by outcome. */
  gatewayUpstreamMs: Record<string, { meanMs: number; count: number }>;
  /** The inventory's coalesced reservation batches. */
  inventoryBatches: { count: number; meanSize: number; meanMs: number };
  /** Average DB sessions per service in each state. */
  dbWaits: DbWaits;
}

export interface E2eInvariant {
  name: string;
  held: boolean;
  detail: string;
}

export interface E2eReport {
  benchmark: "orders-end-to-end";
  startedAt: string;
  finishedAt: string;
  settings: Record<string, string | number | boolean>;
  reference: typeof E2E_REFERENCE & { ourCores: number };
  cells: E2eCell[];
  /** The cell with the most orders/s. */
  peak:
    | { concurrency: number; ordersPerSecond: number; p99Ms: number; ratio: number; perCoreRatio: number }
    | undefined;
  /** The final database, after every saga settled. */
  totals: {
    orders: number;
    confirmed: number;
    cancelled: number;
    nonTerminal: number;
    /** 201 CONFIRMED answers the clients saw, all cells and phases. */
    acknowledged: number;
    captures: number;
    soldBySku: Record<string, number>;
  };
  invariants: E2eInvariant[];
  valid: boolean;
}

export function formatE2eReport(report: E2eReport): string {
  const out: string[] = [];
  const ref = report.reference;
  out.push(
    "",
    "End to end: POST /orders through the gateway (order saga: reserve, authorize, capture, commit)",
    "",
  );
  const cpuLabels = [
    "bench",
    "gateway",
    "order",
    "inventory",
    "payment",
    "pg-primary",
    "pg-replica",
    "other",
  ];
  const count = (n: number) => String(n);
  out.push(
    table(
      [
        "clients",
        "orders/s",
        "server/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "202",
        "cancel",
        "4xx",
        "5xx",
        "errors",
        "cpu% bench/gw/order/inv/pay/pg/replica/other",
        "host busy",
        `vs ref`,
        "per core",
      ],
      report.cells.map((cell) => [
        String(cell.concurrency),
        fixed(cell.ordersPerSecond, 0),
        cell.diagnostics
          ? fixed((cell.diagnostics.serverConfirmed * 1000) / cell.diagnostics.windowMs, 0)
          : "-",
        fixed(cell.latencyMs.p50, 1),
        fixed(cell.latencyMs.p99, 1),
        fixed(cell.latencyMs.max, 1),
        count(cell.nonGoodputMeasured.accepted),
        count(cell.nonGoodputMeasured.cancelled),
        count(cell.nonGoodputMeasured.http4xx),
        count(cell.nonGoodputMeasured.http5xx),
        count(cell.nonGoodputMeasured.errors),
        cpuLabels.map((label) => fixed(cell.cpu.percent[label], 0)).join("/"),
        cell.cpu.machineBusyPercent === undefined ? "-" : `${fixed(cell.cpu.machineBusyPercent, 0)}%`,
        `${fixed(cell.reference.ratio * 100, 1)}%`,
        `${fixed(cell.reference.perCoreRatio * 100, 1)}%`,
      ]),
      [true, true, true, true, true, true, true, true, true, true, true, true, true, true, true],
    ),
  );
  const cores = report.cells[0]?.cpu.cores ?? ref.ourCores;
  out.push(
    "",
    "  orders/s = 201 CONFIRMED answers in the timed window per second (goodput); latencies are theirs;",
    "  server/s = orders the order service confirmed in the window, answered in time or not (its own counter);",
    "  202 / cancel / 4xx / 5xx / errors = other answers in the same window (202: saga deadline passed;",
    "  cancel: 201 with a CANCELLED order; errors: transport failures, unexpected answers);",
    `  cpu% = % of one core over the timed window (${cores} cores: 100% each); other = rest of the host;`,
    `  vs ref = orders/s / ${ref.qps} QPS (${ref.description}, p99 ${ref.p99Ms} ms on ${ref.cores} cores);`,
    `  per core = (orders/s / ${ref.ourCores} cores) / (${ref.qps} / ${ref.cores} cores)`,
  );
  const whole = report.cells.filter((cell) => Object.keys(cell.outcomeKinds).length > 0);
  if (whole.length > 0) {
    out.push("", "  non-goodput over whole cells (warm-up and drain included):");
    for (const cell of whole) {
      const kinds = Object.entries(cell.outcomeKinds)
        .sort((a, b) => b[1] - a[1])
        .map(([kind, n]) => `${kind} x${n}`)
        .join(", ");
      out.push(`    ${String(cell.concurrency).padStart(4)} clients: ${kinds}`);
    }
  }

  const diagnosed = report.cells.filter((cell) => cell.diagnostics);
  if (diagnosed.length > 0) {
    out.push("", "Where the time goes (timed window; means)", "");
    const step = (d: E2eDiagnostics, from: string, what: string) => {
      const s = d.sagaStepsMs[from];
      return s ? `${what} ${fixed(s.meanMs, 0)}` : `${what} -`;
    };
    for (const cell of diagnosed) {
      const d = cell.diagnostics as E2eDiagnostics;
      const upstream = d.gatewayUpstreamMs.response;
      const b = d.inventoryBatches;
      const pad = " ".repeat(17);
      out.push(
        `  ${String(cell.concurrency).padStart(4)} clients: gateway -> order answer ${fixed(upstream?.meanMs, 0)} ms; saga steps ms: ` +
          `${step(d, "PENDING", "reserve")}, ${step(d, "RESERVED", "authorize")}, ${step(d, "PAID", "capture+commit")}`,
        `${pad}inventory batches: ${b.count}, ${fixed(b.meanSize, 1)} reservations each, ${fixed(b.meanMs, 0)} ms each`,
      );
      const cpuParts = Object.entries(d.cpuMsPerOrder)
        .filter(([, ms]) => Number.isFinite(ms))
        .map(([label, ms]) => `${label} ${fixed(ms, 1)}`);
      const cpuTotal = Object.values(d.cpuMsPerOrder).reduce((sum, ms) => sum + ms, 0);
      out.push(
        `${pad}per confirmed order (${d.serverConfirmed} confirmed server-side): CPU ms ${cpuParts.join(", ")} ` +
          `= ${fixed(cpuTotal, 1)}; ${fixed(d.dbCommitsPerOrder, 1)} DB commits, ${fixed(d.walBytesPerOrder / 1024, 1)} KiB WAL`,
      );
      const scanned = Object.entries(d.seqScanRowsPerOrder ?? {}).sort(([, a], [, b]) => b - a);
      if (scanned.length > 0)
        out.push(
          `${pad}rows read by sequential scans per order: ${scanned.map(([table, rows]) => `${table} ${fixed(rows, 0)}`).join(", ")}`,
        );
      out.push(
        `${pad}event-loop delay (late by) mean/p99 ms: ${Object.entries(d.eventLoopDelayMs)
          .map(([service, lag]) => `${service} ${fixed(lag.meanMs, 0)}/${fixed(lag.p99Ms, 0)}`)
          .join(", ")}`,
      );
      for (const [app, waits] of Object.entries(d.dbWaits.byApplication)) {
        out.push(`${pad}${app} DB sessions: ${formatWaits(waits)}`);
      }
    }
    out.push(
      "",
      "  saga steps: reserve = PENDING->RESERVED (inventory reserve + order update), authorize = RESERVED->PAID,",
      "  capture+commit = PAID->CONFIRMED (capture, record, inventory commit, order update); DB sessions = mean",
      "  sessions per state from pg_stat_activity every 50 ms (Lock:* = waiting for a row lock held by another",
      "  transaction; IPC:SyncRep = waiting for the synchronous standby; idle in transaction = waiting on the service);",
      "  event-loop delay = how late each service's 10 ms monitor timer fired (busy loop or a CPU-starved process);",
      "  per confirmed order = CPU of each process over the window / orders confirmed server-side in it",
    );
  }

  const peak = report.peak;
  out.push("", "Reference", "");
  out.push(
    `  ${ref.description}: ${ref.qps} QPS at p99 ${ref.p99Ms} ms on ${ref.cores} cores (inventory only)`,
    peak
      ? `  ours, end to end on ${ref.ourCores} cores: peak ${fixed(peak.ordersPerSecond, 0)} orders/s at ` +
          `${peak.concurrency} clients, p99 ${fixed(peak.p99Ms, 1)} ms = ${fixed(peak.ratio * 100, 1)}% of its QPS, ` +
          `${fixed(peak.perCoreRatio * 100, 1)}% per core`
      : "  ours: no cell completed",
  );

  const t = report.totals;
  out.push("", "Invariants (final database and provider, after every saga settled)", "");
  for (const invariant of report.invariants) {
    out.push(`  ${invariant.held ? "HELD  " : "BROKEN"}  ${invariant.name}: ${invariant.detail}`);
  }
  out.push(
    "",
    `  orders ${t.orders}: CONFIRMED ${t.confirmed}, CANCELLED ${t.cancelled}, in flight ${t.nonTerminal}; ` +
      `acknowledged CONFIRMED to clients ${t.acknowledged}; provider captures ${t.captures}`,
    `  sold by SKU: ${Object.entries(t.soldBySku)
      .map(([sku, sold]) => `${sku} ${sold}`)
      .join(", ")}`,
  );

  const warnings = report.cells.flatMap((cell) => cell.warnings.map((w) => `  ${cell.concurrency}: ${w}`));
  if (warnings.length > 0) out.push("", "WARNINGS", ...warnings);

  out.push("", "Settings (end to end)", "");
  const width = Math.max(...Object.keys(report.settings).map((k) => k.length));
  for (const [key, value] of Object.entries(report.settings)) out.push(`  ${key.padEnd(width)}  ${value}`);
  return out.join("\n");
}
