/**
 * Text helpers shared by the report writers: escaping for HTML/XML, number formats, and the one-line
 * names of hypotheses (the same label in the HTML, JUnit, the terminal and baseline comparisons).
 */
import type { CheckStatus } from "../checkers/check.ts";
import type { HypothesisResult, RunResult, Verdict } from "../run/result.ts";

// Everything outside XML 1.0's Char production (C0 controls other than tab/LF/CR, lone surrogates,
// U+FFFE/F). HTML tolerates some of them, but they are never meaningful in a report, so both drop them.
const INVALID_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/** Escapes text for element content and quoted attribute values, in HTML and XML alike. */
export function escapeXml(text: string): string {
  return text
    .replace(INVALID_XML, "\uFFFD")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** As `escapeXml`, and keeps line breaks inside an attribute (parsers turn raw ones into spaces). */
export function escapeXmlAttr(text: string): string {
  return escapeXml(text).replace(/\r/g, "&#13;").replace(/\n/g, "&#10;").replace(/\t/g, "&#9;");
}

/** Up to 4 significant digits below 1000, whole numbers above: 0.9934, 12.35, 4210. */
export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  if (!Number.isFinite(value)) return value > 0 ? "∞" : "−∞";
  if (Math.abs(value) >= 1000) return String(Math.round(value));
  return String(Number(value.toPrecision(4)));
}

export function formatMs(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  if (Math.abs(value) < 10) return value.toFixed(2);
  if (Math.abs(value) < 100) return value.toFixed(1);
  return String(Math.round(value));
}

/** 0.99873 → "99.87%"; never rounds a shortfall up to "100.00%". */
export function formatPercent(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined) return "—";
  const text = (ratio * 100).toFixed(2);
  if (ratio < 1 && text === "100.00") return ">99.99%";
  return `${text}%`;
}

export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** "≥ 0.99", "≤ 150", "0.5 … 0.9", or "no bound". */
export function boundText(
  h: Pick<HypothesisResult, "min" | "max" | "maxRatioToBaseline" | "tolerance">,
): string {
  if (h.maxRatioToBaseline !== undefined) {
    const absolute =
      h.min !== undefined || h.max !== undefined
        ? `, ${boundText({ ...h, maxRatioToBaseline: undefined })}`
        : "";
    const tolerance = h.tolerance !== undefined ? ` (or + ${formatNumber(h.tolerance)})` : "";
    return `≤ ${formatNumber(h.maxRatioToBaseline)}× baseline${tolerance}${absolute}`;
  }
  if (h.min !== undefined && h.max !== undefined) return `${formatNumber(h.min)} … ${formatNumber(h.max)}`;
  if (h.min !== undefined) return `≥ ${formatNumber(h.min)}`;
  if (h.max !== undefined) return `≤ ${formatNumber(h.max)}`;
  return "no bound";
}

/** "availability (recovery) ≥ 0.99": unique within an experiment as long as the file has no duplicates. */
export function hypothesisLabel(
  h: Pick<HypothesisResult, "metric" | "phase" | "min" | "max" | "maxRatioToBaseline" | "tolerance">,
): string {
  return `${h.metric}${h.phase ? ` (${h.phase})` : ""} ${boundText(h)}`;
}

export function statusText(status: CheckStatus): string {
  return status === "not-checked" ? "not checked" : status;
}

/** A suite fails when any of its experiments does; else it is incomplete when any of them is. */
export function overallVerdict(results: readonly RunResult[]): Verdict {
  if (results.some((r) => r.verdict === "fail")) return "fail";
  return results.some((r) => r.verdict === "incomplete") ? "incomplete" : "pass";
}

/**
 * The deliberate bugs the shop ran with (`verify --shop-bug`), as a warning every report leads with;
 * undefined for a run of the real shop.
 */
export function builtInBugWarning(results: readonly RunResult[]): string | undefined {
  const bugs = [...new Set(results.map((r) => r.settings.builtInBug).filter((b) => b !== undefined))];
  if (bugs.length === 0) return undefined;
  return `BUILT-IN BUG ${bugs.map((b) => `"${b}"`).join(", ")}: this shop was deliberately broken (the lab's regression guard) — this is NOT a verification of the real shop`;
}

export interface StatusCounts {
  pass: number;
  fail: number;
  "not-checked": number;
}

export function countStatuses(items: readonly { status: CheckStatus }[]): StatusCounts {
  const counts: StatusCounts = { pass: 0, fail: 0, "not-checked": 0 };
  for (const item of items) counts[item.status] += 1;
  return counts;
}

/** The capacity verify measured at start (load.ts), as the report states it; undefined when none was. */
export function capacityLine(results: readonly RunResult[]): string | undefined {
  // One figure per lab: verify measures a two-region lab's capacity on that lab.
  const byLab = new Map<string, RunResult>();
  for (const result of results) {
    const lab = String(result.settings.regions ?? "");
    if (typeof result.settings.capacityOrdersPerSec === "number" && !byLab.has(lab)) byLab.set(lab, result);
  }
  if (byLab.size === 0) return undefined;
  const parts = [...byLab].map(([lab, result]) => {
    const ramp = result.settings.capacityRamp;
    return `${lab ? `on the ${lab} lab ` : ""}${result.settings.capacityOrdersPerSec} orders/s${typeof ramp === "string" ? ` (ramp ${ramp})` : ""}`;
  });
  return `capacity measured at start: ${parts.join("; ")}`;
}
