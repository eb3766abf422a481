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

/** The payment provider's request counters at one moment. */
export interface PaymentCounters {
  /** ms since the run started. */
  time: number;
  /** Logical calls that reached the provider: the first request of an operation on an order. */
  calls: number;
  /** Every request received, retries included. */
  received: number;
}

/**
 * Scrapes the payment provider's request counters; null when they cannot be read (the amplification
 * of a window without two readings is not measured). Both figures come from the provider: the order
 * service's own count of logical calls would include the calls its open breaker failed fast, which
 * never reach the provider and would dilute a storm (measured: 0.18 requests per call with the
 * built-in bug `retry-without-backoff`, whose bursts of ten the breaker then cuts off).
 */
export async function scrapePayment(system: SystemUnderTest, time: number): Promise<PaymentCounters | null> {
  try {
    const text = await (
      await fetch(`${system.payments.url}/metrics`, { signal: AbortSignal.timeout(3_000) })
    ).text();
    return {
      time,
      calls: sumOf(text, "chaoscart_payment_requests_total", 'attempt="first"'),
      received: sumOf(text, "chaoscart_payment_requests_total"),
    };
  } catch {
    return null;
  }
}

function sumOf(text: string, name: string, label = ""): number {
  return text
    .split("\n")
    .filter((line) => line.startsWith(`${name}{`) && line.includes(label))
    .reduce((total, line) => total + Number(line.split(" ").at(-1)), 0);
}

/**
 * Retry amplification: requests the provider received per logical payment call that reached it, per
 * phase (`payment_amplification:<phase>`) and over the whole run. A phase is measured from the
 * readings at its start and at its end; the retries of a call first seen in one phase that arrive in
 * the next count there, which is why a phase needs a few dozen calls before its figure means anything.
 */
export function amplificationOf(
  phases: readonly PhaseWindow[],
  readings: readonly (PaymentCounters | null)[],
): Record<string, number | null> {
  const at = (time: number) => readings.find((r) => r !== null && r.time === time) ?? null;
  const ratio = (from: PaymentCounters | null, to: PaymentCounters | null) => {
    if (!from || !to) return null;
    const calls = to.calls - from.calls;
    const received = to.received - from.received;
    // A restarted process resets its counters; too few calls say nothing.
    return calls >= MIN_CALLS && received >= 0 ? received / calls : null;
  };
  const result: Record<string, number | null> = {};
  for (const phase of phases)
    result[`payment_amplification:${phase.phase}`] = ratio(at(phase.start), at(phase.end));
  const first = phases[0];
  const last = phases.at(-1);
  result.payment_amplification = first && last ? ratio(at(first.start), at(last.end)) : null;
  return result;
}

const MIN_CALLS = 10;

/**
 * Scrapes the payment counters at every phase boundary still ahead; `readings` resolves once all were
 * taken. `cancel` (a run that ends early) leaves the boundaries not reached yet unread.
 */
export function scrapeAtPhaseBoundaries(
  system: SystemUnderTest,
  phases: readonly PhaseWindow[],
  clock: () => number,
): { readings(): Promise<(PaymentCounters | null)[]>; cancel(): void } {
  const times = [...new Set(phases.flatMap((p) => [p.start, p.end]))];
  const pending: { timer: NodeJS.Timeout; resolve: (value: null) => void }[] = [];
  const taken = times.map(
    (time) =>
      new Promise<PaymentCounters | null>((resolve) => {
        const timer = setTimeout(() => resolve(scrapePayment(system, time)), Math.max(0, time - clock()));
        pending.push({ timer, resolve });
      }),
  );
  return {
    readings: () => Promise.all(taken),
    cancel: () => {
      // A fired timer already resolved its promise: resolving it again is a no-op.
      for (const { timer, resolve } of pending) {
        clearTimeout(timer);
        resolve(null);
      }
    },
  };
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
  payment?: readonly (PaymentCounters | null)[];
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
    ...amplificationOf(phases, input.payment ?? []),
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
