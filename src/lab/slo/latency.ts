import { build } from "hdr-histogram-js";

export interface LatencySummary {
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

/**
 * p50 and p99 from an HDR histogram (microsecond resolution, 3 significant digits, so within 0.1%),
 * max exact. All nulls for no values.
 */
export function latencySummary(valuesMs: readonly number[]): LatencySummary {
  if (valuesMs.length === 0) return { p50Ms: null, p99Ms: null, maxMs: null };
  const histogram = build({ lowestDiscernibleValue: 1, numberOfSignificantValueDigits: 3, autoResize: true });
  let max = Number.NEGATIVE_INFINITY;
  for (const value of valuesMs) {
    histogram.recordValue(Math.max(1, Math.round(value * 1000)));
    if (value > max) max = value;
  }
  const at = (percentile: number) => round(histogram.getValueAtPercentile(percentile) / 1000);
  const summary = { p50Ms: at(50), p99Ms: at(99), maxMs: round(max) };
  histogram.destroy();
  return summary;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
