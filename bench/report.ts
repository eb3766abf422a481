/** The benchmark's figures: types, the printed tables and the JSON document. */
import type { Stock } from "./api.ts";
import type { CpuUse } from "./cpu.ts";
import type { LatencySummary, LoadResult } from "./load.ts";

export const MODES = ["direct", "coalesce", "noop"] as const;
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
}

export interface Targets {
  concurrency: number;
  coalesceOverDirect: { value: number | undefined; target: number; met: boolean | undefined };
  coalesceOverNoop: { value: number | undefined; target: number; met: boolean | undefined };
  coalesceP99Ms: { value: number | undefined; target: number; met: boolean | undefined };
}

export interface BenchReport {
  benchmark: "inventory-hot-sku";
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
    return {
      concurrency: c,
      coalesceOverDirect: b !== undefined && a ? b / a : undefined,
      coalesceOverNoop: b !== undefined && n ? b / n : undefined,
    };
  });
}

/** DESIGN §3 targets, judged at 256 clients (or the highest concurrency run, if 256 was not). */
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
      ["clients", "coalesce / direct (b/a)", "coalesce / noop (b/c)"],
      report.ratios.map((r) => [
        String(r.concurrency),
        r.coalesceOverDirect === undefined ? "-" : `${fixed(r.coalesceOverDirect, 2)}x`,
        r.coalesceOverNoop === undefined ? "-" : `${fixed(r.coalesceOverNoop * 100, 1)}%`,
      ]),
      [true, true, true],
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

function fixed(value: number | undefined, digits: number): string {
  return value === undefined || Number.isNaN(value) ? "-" : value.toFixed(digits);
}

function table(header: string[], rows: string[][], alignRight: boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: string[]) =>
    `  ${cells
      .map((cell, i) => (alignRight[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd()}`;
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}
