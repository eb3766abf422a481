import type { HypothesisResult, PhaseSlo } from "../run/result.ts";
import type { Hypothesis } from "./schema.ts";

/** Per-phase metrics come from the SLO table; the rest from run-wide measurements. */
function observe(h: Hypothesis, slos: readonly PhaseSlo[], measurements: Record<string, number | null>) {
  if (!h.phase) return measurements[h.metric] ?? null;
  // A measurement taken per phase is keyed `<metric>:<phase>`.
  const perPhase = measurements[`${h.metric}:${h.phase}`];
  if (perPhase !== undefined) return perPhase;
  const slo = slos.find((s) => s.phase === h.phase);
  if (!slo) return null;
  switch (h.metric) {
    case "availability":
      return slo.availability;
    case "error_rate":
      return slo.availability === null ? null : 1 - slo.availability;
    case "goodput":
      return slo.goodputPerSec;
    case "p50_ms":
      return slo.p50Ms;
    case "p99_ms":
      return slo.p99Ms;
    case "max_ms":
      return slo.maxMs;
    default:
      return measurements[h.metric] ?? null;
  }
}

export function evaluateHypotheses(
  hypotheses: readonly Hypothesis[],
  slos: readonly PhaseSlo[],
  measurements: Record<string, number | null>,
): HypothesisResult[] {
  return hypotheses.map((h) => {
    const observed = observe(h, slos, measurements);
    const where = `${h.metric}${h.phase ? ` (${h.phase})` : ""}`;
    const bound = [h.min !== undefined ? `≥ ${h.min}` : "", h.max !== undefined ? `≤ ${h.max}` : ""]
      .filter(Boolean)
      .join(", ");
    if (observed === null || Number.isNaN(observed)) {
      return {
        ...h,
        observed: null,
        status: "not-checked" as const,
        summary: `${where}: not measured in this run`,
      };
    }
    let ok = (h.min === undefined || observed >= h.min) && (h.max === undefined || observed <= h.max);
    // Infinity: what was awaited never happened in the run (e.g. readiness never turned red).
    const shown = Number.isFinite(observed) ? Number(observed.toFixed(4)) : "never (within the run)";
    let summary = `${where} = ${shown}${bound ? `, expected ${bound}` : ""}`;
    if (h.maxRatioToBaseline !== undefined) {
      const base = observe({ metric: h.metric, phase: "baseline" }, slos, measurements);
      if (base === null || Number.isNaN(base) || base <= 0) {
        return {
          ...h,
          observed,
          status: "not-checked" as const,
          summary: `${where}: no baseline ${h.metric} in this run to compare with`,
        };
      }
      const ratio = observed / base;
      const rise = observed - base;
      ok &&= ratio <= h.maxRatioToBaseline || (h.tolerance !== undefined && rise <= h.tolerance);
      summary += `, ${ratio.toFixed(2)}× the baseline's ${Number(base.toFixed(1))}, expected ≤ ${h.maxRatioToBaseline}×`;
      if (h.tolerance !== undefined) summary += ` or at most ${h.tolerance} above it`;
    }
    return { ...h, observed, status: ok ? ("pass" as const) : ("fail" as const), summary };
  });
}
