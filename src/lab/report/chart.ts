/**
 * Per-second charts as inline SVG: lines or stacked bars over the run's seconds, fault windows shaded
 * and labelled, phase boundaries and the abort marked. Hand-written rather than a chart library so the
 * report stays one file that needs no network and no script (a library would have to be inlined whole).
 */
import type { PhaseWindow } from "../run/result.ts";
import type { FaultWindow } from "./fault-windows.ts";
import { escapeXml, formatNumber } from "./format.ts";

export interface Series {
  label: string;
  color: string;
  /** One value per second (index = second since the start); null = nothing to plot. */
  values: readonly (number | null)[];
}

export interface ChartSpec {
  /** Goes into `data-testid="chart-<id>"`. */
  id: string;
  title: string;
  unit: string;
  kind: "line" | "stacked-bars";
  /** Seconds on the x axis. */
  seconds: number;
  series: readonly Series[];
  faults: readonly FaultWindow[];
  phases: readonly PhaseWindow[];
  abortAtMs?: number;
}

const WIDTH = 880;
const HEIGHT = 220;
const LEFT = 58;
const RIGHT = 14;
const TOP = 30;
const BOTTOM = 30;
const PLOT_W = WIDTH - LEFT - RIGHT;
const PLOT_H = HEIGHT - TOP - BOTTOM;
/** Above this many seconds the per-second hover boxes are left out to keep the file small. */
const MAX_HOVER_SECONDS = 1800;

const r = (n: number) => Math.round(n * 10) / 10;

/** A "nice" axis maximum and step: 0–1–2–3–4 × {1, 2, 2.5, 5} × 10^k. */
export function niceScale(max: number, ticks = 4): { max: number; step: number } {
  if (!(max > 0) || !Number.isFinite(max)) return { max: 1, step: 0.25 };
  const raw = max / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude;
  return { max: step * Math.ceil(max / step - 1e-9), step };
}

function timeStep(seconds: number): number {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
  return steps.find((s) => seconds / s <= 12) ?? 7200;
}

export function renderChart(spec: ChartSpec): string {
  const seconds = Math.max(1, spec.seconds);
  const x = (second: number) => LEFT + (Math.min(Math.max(second, 0), seconds) / seconds) * PLOT_W;
  const totals = spec.kind === "stacked-bars" ? stackedTotals(spec.series, seconds) : null;
  const peak = Math.max(0, ...(totals ?? spec.series.flatMap((s) => s.values.map((v) => v ?? 0))));
  const scale = niceScale(peak);
  const y = (value: number) => TOP + PLOT_H - (value / scale.max) * PLOT_H;
  const hasData = spec.series.some((s) => s.values.some((v) => v !== null));

  const parts: string[] = [];
  parts.push(
    `<svg class="chart" data-testid="chart-${escapeXml(spec.id)}" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="${escapeXml(spec.title)}">`,
  );
  parts.push(`<title>${escapeXml(spec.title)}</title>`);

  // Grid and y axis.
  for (let value = 0; value <= scale.max + scale.step / 2; value += scale.step) {
    const yy = r(y(value));
    parts.push(`<line class="grid" x1="${LEFT}" x2="${LEFT + PLOT_W}" y1="${yy}" y2="${yy}"/>`);
    parts.push(
      `<text class="tick" x="${LEFT - 6}" y="${yy + 4}" text-anchor="end">${escapeXml(formatNumber(value))}</text>`,
    );
  }
  parts.push(
    `<text class="unit" x="${LEFT - 6}" y="${TOP - 12}" text-anchor="end">${escapeXml(spec.unit)}</text>`,
  );

  // x axis.
  const step = timeStep(seconds);
  for (let second = 0; second <= seconds; second += step) {
    const xx = r(x(second));
    parts.push(`<line class="axis" x1="${xx}" x2="${xx}" y1="${TOP + PLOT_H}" y2="${TOP + PLOT_H + 4}"/>`);
    parts.push(
      `<text class="tick" x="${xx}" y="${TOP + PLOT_H + 16}" text-anchor="middle">${second}s</text>`,
    );
  }

  // Fault windows, under the data.
  spec.faults.forEach((fault, index) => {
    const endMs = fault.end ?? seconds * 1000;
    const x1 = x(fault.start / 1000);
    const width = Math.max(2, x(endMs / 1000) - x1);
    const span = `${(fault.start / 1000).toFixed(1)}–${fault.end === null ? "end" : `${(fault.end / 1000).toFixed(1)} s`}`;
    const label = `${fault.nemesis}${fault.failed ? " (start failed)" : ""}${fault.end === null ? " (never stopped)" : ""}`;
    parts.push(
      `<rect class="fault-window${fault.failed ? " failed" : ""}" data-testid="fault-window" data-nemesis="${escapeXml(fault.nemesis)}" x="${r(x1)}" y="${TOP}" width="${r(width)}" height="${PLOT_H}"><title>${escapeXml(`${label}: ${span}`)}</title></rect>`,
    );
    parts.push(
      `<text class="fault-label" x="${r(x1 + 3)}" y="${TOP + 11 + (index % 3) * 11}">${escapeXml(label)}</text>`,
    );
  });

  // Phase boundaries: a dashed line where each phase begins, its name beside it.
  for (const phase of spec.phases) {
    const xx = r(x(phase.start / 1000));
    if (phase.start > 0) {
      parts.push(
        `<line class="phase-boundary" data-testid="phase-boundary" data-phase="${escapeXml(phase.phase)}" x1="${xx}" x2="${xx}" y1="${TOP - 14}" y2="${TOP + PLOT_H}"/>`,
      );
    }
    parts.push(`<text class="phase-label" x="${xx + 3}" y="${TOP - 5}">${escapeXml(phase.phase)}</text>`);
  }

  // Data.
  if (spec.kind === "stacked-bars") parts.push(...stackedBars(spec.series, seconds, x, y));
  else for (const series of spec.series) parts.push(...line(series, seconds, x, y));
  if (!hasData) {
    parts.push(
      `<text class="no-data" x="${LEFT + PLOT_W / 2}" y="${TOP + PLOT_H / 2}" text-anchor="middle">no data</text>`,
    );
  }

  if (spec.abortAtMs !== undefined) {
    const xx = r(x(spec.abortAtMs / 1000));
    parts.push(
      `<line class="abort" data-testid="abort-marker" x1="${xx}" x2="${xx}" y1="${TOP}" y2="${TOP + PLOT_H}"/>`,
    );
    parts.push(
      `<text class="abort-label" x="${xx - 3}" y="${TOP + PLOT_H - 6}" text-anchor="end">abort</text>`,
    );
  }

  parts.push(`<rect class="frame" x="${LEFT}" y="${TOP}" width="${PLOT_W}" height="${PLOT_H}" fill="none"/>`);
  if (seconds <= MAX_HOVER_SECONDS) parts.push(...hoverBoxes(spec, seconds, x));
  parts.push("</svg>");
  return parts.join("");
}

function stackedTotals(series: readonly Series[], seconds: number): number[] {
  const totals: number[] = [];
  for (let second = 0; second < seconds; second++) {
    totals.push(series.reduce((sum, s) => sum + (s.values[second] ?? 0), 0));
  }
  return totals;
}

function stackedBars(
  series: readonly Series[],
  seconds: number,
  x: (second: number) => number,
  y: (value: number) => number,
): string[] {
  const out: string[] = [];
  const gap = PLOT_W / seconds > 4 ? 1 : 0;
  const base = new Array<number>(seconds).fill(0);
  for (const s of series) {
    const rects: string[] = [];
    for (let second = 0; second < seconds; second++) {
      const value = s.values[second] ?? 0;
      const below = base[second] ?? 0;
      if (value > 0) {
        const x1 = x(second) + gap / 2;
        const top = y(below + value);
        rects.push(
          `<rect x="${r(x1)}" y="${r(top)}" width="${r(Math.max(0.5, x(second + 1) - x(second) - gap))}" height="${r(y(below) - top)}"/>`,
        );
      }
      base[second] = below + value;
    }
    out.push(`<g class="series" data-series="${escapeXml(s.label)}" fill="${s.color}">${rects.join("")}</g>`);
  }
  return out;
}

function line(
  series: Series,
  seconds: number,
  x: (second: number) => number,
  y: (value: number) => number,
): string[] {
  let path = "";
  const dots: string[] = [];
  for (let second = 0; second < seconds; second++) {
    const value = series.values[second] ?? null;
    if (value === null) continue;
    const previous = second > 0 ? (series.values[second - 1] ?? null) : null;
    const next = series.values[second + 1] ?? null;
    const px = r(x(second + 0.5));
    const py = r(y(value));
    path += `${previous === null ? "M" : "L"}${px} ${py}`;
    // A lone point between gaps draws no line segment: show it as a dot.
    if (previous === null && (next === null || second + 1 >= seconds)) {
      dots.push(`<circle cx="${px}" cy="${py}" r="2.5"/>`);
    }
  }
  return [
    `<g class="series" data-series="${escapeXml(series.label)}"><path d="${path}" fill="none" stroke="${series.color}" stroke-width="1.8" stroke-linejoin="round"/><g fill="${series.color}">${dots.join("")}</g></g>`,
  ];
}

/** Invisible one-second columns whose tooltip gives that second's figures. */
function hoverBoxes(spec: ChartSpec, seconds: number, x: (second: number) => number): string[] {
  const out: string[] = ['<g class="hover">'];
  for (let second = 0; second < seconds; second++) {
    const figures = spec.series.map((s) => `${s.label} ${formatNumber(s.values[second] ?? null)}`).join(", ");
    out.push(
      `<rect x="${r(x(second))}" y="${TOP}" width="${r(x(second + 1) - x(second))}" height="${PLOT_H}"><title>${escapeXml(`${second}–${second + 1} s: ${figures} ${spec.unit}`)}</title></rect>`,
    );
  }
  out.push("</g>");
  return out;
}
