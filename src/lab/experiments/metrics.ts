import type { HistoryOp, NemesisOp, ProbeOp } from "../history/op.ts";
import type { PhaseSlo, PhaseWindow } from "../run/result.ts";
import { readinessMeasurements, recoveryTimeMs } from "../slo/index.ts";
import type { SystemUnderTest } from "./system.ts";

/** The order service's counters at one moment: catalog lookups and loads, write guard refusals. */
export type CatalogCounters = {
  lookups: number;
  loads: number;
  /** `chaoscart_write_guard_readonly_errors_total`; null when the service does not export it. */
  readOnly: { first: number; afterRefusal: number } | null;
} | null;

/** Counters of the order service; the experiment's share is the difference of two scrapes. */
export async function scrapeCatalog(system: SystemUnderTest): Promise<CatalogCounters> {
  const url = system.orderMetricsUrl();
  if (!url) return null;
  try {
    const text = await (await fetch(url, { signal: AbortSignal.timeout(3_000) })).text();
    const sum = (name: string) =>
      text
        .split("\n")
        .filter((line) => line.startsWith(name))
        .reduce((total, line) => total + Number(line.split(" ").at(-1)), 0);
    const guard = "chaoscart_write_guard_readonly_errors_total";
    return {
      lookups: sum("chaoscart_catalog_lookups_total"),
      loads: sum("chaoscart_catalog_db_loads_total"),
      readOnly: text.includes(`# TYPE ${guard}`)
        ? { first: sum(`${guard}{when="first"`), afterRefusal: sum(`${guard}{when="after_refusal"`) }
        : null,
    };
  } catch {
    return null;
  }
}

/** Measured figures that have no phase: recovery time, switchover time, 429s met, catalog load ratio. */
export function measurementsOf(input: {
  ops: readonly HistoryOp[];
  phases: readonly PhaseWindow[];
  slos: readonly PhaseSlo[];
  nemesisOps: readonly NemesisOp[];
  catalogBefore: CatalogCounters;
  catalogAfter: CatalogCounters;
  probes?: readonly ProbeOp[];
}): Record<string, number | null> {
  const { ops, phases, slos, nemesisOps } = input;
  const faultEnd = phases.find((p) => p.phase === "fault")?.end;
  const baseline = slos.find((s) => s.phase === "baseline");
  return {
    recovery_ms: faultEnd !== undefined && baseline ? recoveryTimeMs(ops, faultEnd, baseline) : null,
    switchover_ms: numberDetail(nemesisOps, "switchoverMs"),
    // 429 answers the clients met, retried ones included (see workload/outcome.ts).
    rate_limited: ops.reduce(
      (sum, op) =>
        op.process === "client" && op.type !== "invoke" ? sum + (op.value.rateLimited ?? 0) : sum,
      0,
    ),
    catalog_db_load_ratio: catalogLoadRatio(input.catalogBefore, input.catalogAfter),
    readonly_writes_after_refusal: readOnlyWritesAfterRefusal(input.catalogBefore, input.catalogAfter),
    ...readinessMeasurements(input.probes ?? [], nemesisOps),
  };
}

function numberDetail(ops: readonly NemesisOp[], field: string): number | null {
  for (const op of ops) {
    const value = op.detail[field];
    if (typeof value === "number") return value;
  }
  return null;
}

/** Database loads per catalog lookup during the experiment (unknown SKUs should cause almost none). */
function catalogLoadRatio(before: CatalogCounters, after: CatalogCounters): number | null {
  if (!before || !after) return null; // a restarted order service resets its counters: not measurable
  const lookups = after.lookups - before.lookups;
  const loads = after.loads - before.loads;
  return lookups > 0 && loads >= 0 ? loads / lookups : null;
}

/**
 * Writes the order service sent to its write endpoint after the guard had refused one as read-only
 * (issue 11 item 3). Null when not measurable: counters missing (a target without `order`, an older
 * shop) or reset (a restarted order service).
 */
export function readOnlyWritesAfterRefusal(before: CatalogCounters, after: CatalogCounters): number | null {
  if (!before?.readOnly || !after?.readOnly) return null;
  const count = after.readOnly.afterRefusal - before.readOnly.afterRefusal;
  return count >= 0 && after.readOnly.first >= before.readOnly.first ? count : null;
}
