/**
 * The HTML report: one self-contained file (inline CSS and SVG, no script, nothing fetched — a CSP
 * meta tag forbids it), readable offline and attachable to a CI run. A pure function of the results.
 */
import type { Check } from "../checkers/check.ts";
import { holdsOf } from "../checkers/registry.ts";
import type { NemesisOp } from "../history/op.ts";
import type { HypothesisResult, PhaseSlo, PhaseWindow, RunResult, Verdict } from "../run/result.ts";
import { describeFailureKind, type FailureKind } from "../slo/failures.ts";
import { renderChart } from "./chart.ts";
import { faultWindows } from "./fault-windows.ts";
import {
  boundText,
  builtInBugWarning,
  capacityLine,
  countStatuses,
  escapeXml as esc,
  formatMs,
  formatNumber,
  formatPercent,
  formatSeconds,
  overallVerdict,
  statusText,
} from "./format.ts";
import { readinessStrips } from "./readiness-strips.ts";

export function renderHtml(input: RunResult | readonly RunResult[]): string {
  const results: readonly RunResult[] = Array.isArray(input) ? input : [input as RunResult];
  const verdict = overallVerdict(results);
  const suite = results.length !== 1;
  const ids = results.map((result, index) => sectionId(result, index));
  const bug = builtInBugWarning(results) ? "BUILT-IN BUG — " : "";
  const title = suite
    ? `${bug}ChaosCart report — ${results.length} experiments — ${verdict.toUpperCase()}`
    : `${bug}ChaosCart report — ${results[0]?.experiment.name ?? ""} — ${verdict.toUpperCase()}`;
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    // Nothing may be fetched: not a font, not an image, not a script, even if some text slipped through.
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">",
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${esc(title)}</title>`,
    `<style>${CSS}</style>`,
    "</head>",
    "<body>",
    header(results, verdict),
    suite ? suiteSummary(results, ids) : "",
    ...results.map((result, index) => experimentSection(result, ids[index] ?? `experiment-${index}`)),
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

function sectionId(result: RunResult, index: number): string {
  const slug = result.experiment.name
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return `experiment-${index + 1}${slug ? `-${slug}` : ""}`;
}

function header(results: readonly RunResult[], verdict: Verdict): string {
  const failed = results.filter((r) => r.verdict === "fail").length;
  const incomplete = results.filter((r) => r.verdict === "incomplete").length;
  const passed = results.length - failed - incomplete;
  const what =
    results.length === 1
      ? esc(results[0]?.experiment.name ?? "")
      : `${results.length} experiments: ${passed} passed, ${failed} failed${incomplete ? `, ${incomplete} incomplete` : ""}`;
  const aborted = results
    .filter((r) => r.aborted)
    .map(
      (r) =>
        `<p class="aborted" data-testid="aborted">ABORTED: ${esc(r.aborted?.reason ?? "")}${
          results.length === 1 ? "" : ` <span class="muted">(${esc(r.experiment.name)})</span>`
        }</p>`,
    );
  const first = results[0];
  const capacity = capacityLine(results);
  const when =
    (first ? `<p class="muted">started ${esc(first.startedAt)}</p>` : "") +
    (capacity ? `<p class="muted" data-testid="capacity">${esc(capacity)}</p>` : "");
  const warning = builtInBugWarning(results);
  const bug = warning ? `<p class="aborted banner" data-testid="built-in-bug">${esc(warning)}</p>` : "";
  return [
    `<header class="top ${verdict}">`,
    `<div class="verdict ${verdict}" data-testid="verdict" data-verdict="${verdict}">${verdict.toUpperCase()}</div>`,
    `<div class="headline"><h1>ChaosCart verify — ${what}</h1>${bug}${when}${aborted.join("")}</div>`,
    "</header>",
  ].join("");
}

function suiteSummary(results: readonly RunResult[], ids: readonly string[]): string {
  const rows = results.map((result, index) => {
    const checks = countStatuses(result.checks);
    const hypotheses = countStatuses(result.hypotheses);
    return `<tr data-testid="suite-row" data-verdict="${result.verdict}">
<td><a href="#${esc(ids[index] ?? "")}">${esc(result.experiment.name)}</a></td>
<td>${verdictBadge(result.verdict)}${result.aborted ? ' <span class="badge aborted">aborted</span>' : ""}</td>
<td>${counts(checks)}</td><td>${counts(hypotheses)}</td><td class="num">${formatSeconds(result.durationMs)}</td></tr>`;
  });
  return `<section class="summary"><h2>Experiments</h2>
<table data-testid="suite-summary"><thead><tr><th>experiment</th><th>verdict</th><th>checks</th><th>hypotheses</th><th>duration</th></tr></thead>
<tbody>${rows.join("\n")}</tbody></table></section>`;
}

function counts(c: ReturnType<typeof countStatuses>): string {
  const parts = [`<span class="pass">${c.pass} pass</span>`];
  if (c.fail) parts.push(`<span class="fail">${c.fail} fail</span>`);
  if (c["not-checked"]) parts.push(`<span class="not-checked">${c["not-checked"]} not checked</span>`);
  return parts.join(" · ");
}

function verdictBadge(verdict: Verdict): string {
  return `<span class="badge ${verdict}">${verdict.toUpperCase()}</span>`;
}

function experimentSection(result: RunResult, id: string): string {
  const { experiment } = result;
  return [
    `<section class="experiment" id="${esc(id)}" data-testid="experiment" data-verdict="${result.verdict}">`,
    `<h2>${esc(experiment.name)} ${verdictBadge(result.verdict)}</h2>`,
    `<p class="description" data-testid="description">${esc(experiment.description)}</p>`,
    result.aborted
      ? `<p class="aborted banner">ABORTED at ${formatSeconds(result.aborted.atMs)}: ${esc(result.aborted.reason)}</p>`
      : "",
    `<p class="muted">${experiment.file ? `${esc(experiment.file)} · ` : ""}${esc(result.startedAt)} → ${esc(result.finishedAt)} · ${formatSeconds(result.durationMs)}</p>`,
    "<h3>Invariants</h3>",
    checksTable(result.checks),
    "<h3>Hypotheses</h3>",
    hypothesesTable(result.hypotheses),
    "<h3>SLOs per phase</h3>",
    sloTable(result.slos, result.phases),
    "<h3>Per second</h3>",
    charts(result),
    "<h3>Failures and unknown outcomes by kind</h3>",
    failuresTable(result.failures),
    "<h3>Readiness</h3>",
    result.probes
      ? readinessStrips(result.probes, result.faults, result.durationMs)
      : '<p class="muted">Not recorded (a result from before readiness was sampled).</p>',
    "<h3>Fault log</h3>",
    faultLog(result.faults),
    "<h3>Measurements</h3>",
    measurements(result.measurements),
    "<h3>Settings</h3>",
    settings(result.settings),
    "<h3>Experiment definition</h3>",
    `<pre class="definition" data-testid="definition">${esc(experiment.definition)}</pre>`,
    "</section>",
  ].join("\n");
}

function statusCell(status: Check["status"]): string {
  return `<td class="status ${status}">${status === "fail" ? "FAIL" : statusText(status)}</td>`;
}

/** What the named invariant asserts (from the checker registry), as a tooltip on its name. */
function holds(name: string): string {
  const what = holdsOf(name);
  return what ? ` title="${esc(`holds when: ${what}`)}"` : "";
}

function checksTable(checks: readonly Check[]): string {
  if (checks.length === 0) return '<p class="muted">No invariants were checked.</p>';
  const rows = checks.map((check) => {
    // For a not-checked check the problems are the reason, already in the summary.
    const problems =
      check.status === "fail" && check.problems.length > 0
        ? `<details><summary>${check.problems.length} problem(s)</summary><ul>${check.problems
            .map((p) => `<li>${esc(p)}</li>`)
            .join("")}</ul></details>`
        : "";
    return `<tr class="${check.status}" data-testid="check-row" data-check="${esc(check.name)}" data-status="${check.status}">
<td class="name"${holds(check.name)}>${esc(check.name)}</td>${statusCell(check.status)}<td>${esc(check.summary)}${problems}</td></tr>`;
  });
  return `<table class="checks" data-testid="checks"><thead><tr><th>invariant</th><th>status</th><th>detail</th></tr></thead>
<tbody>${rows.join("\n")}</tbody></table>`;
}

function hypothesesTable(hypotheses: readonly HypothesisResult[]): string {
  if (hypotheses.length === 0) return '<p class="muted">No hypotheses.</p>';
  const rows = hypotheses.map(
    (
      h,
    ) => `<tr class="${h.status}" data-testid="hypothesis-row" data-metric="${esc(h.metric)}" data-status="${h.status}">
<td class="name">${esc(h.metric)}</td><td>${esc(h.phase ?? "whole run")}</td><td class="num">${esc(boundText(h))}</td>
<td class="num">${esc(formatNumber(h.observed))}</td>${statusCell(h.status)}<td>${esc(h.summary)}</td></tr>`,
  );
  return `<table class="hypotheses" data-testid="hypotheses"><thead><tr><th>metric</th><th>phase</th><th>bound</th><th>observed</th><th>status</th><th>detail</th></tr></thead>
<tbody>${rows.join("\n")}</tbody></table>`;
}

function sloTable(slos: readonly PhaseSlo[], phases: readonly PhaseWindow[]): string {
  if (slos.length === 0) return '<p class="muted">No SLO figures.</p>';
  const rows = slos.map((slo) => {
    const window = phases.find((p) => p.phase === slo.phase);
    const span = window
      ? ` <span class="muted">${(window.start / 1000).toFixed(1)}–${(window.end / 1000).toFixed(1)} s</span>`
      : "";
    return `<tr data-testid="slo-row" data-phase="${esc(slo.phase)}">
<td class="name">${esc(slo.phase)}${span}</td><td class="num">${slo.ok}</td><td class="num">${slo.fail}</td><td class="num">${slo.info}</td>
<td class="num">${formatPercent(slo.availability)}</td><td class="num">${formatNumber(slo.goodputPerSec)}</td>
<td class="num">${formatMs(slo.p50Ms)}</td><td class="num">${formatMs(slo.p99Ms)}</td><td class="num">${formatMs(slo.maxMs)}</td></tr>`;
  });
  return `<table class="slos" data-testid="slos"><thead><tr><th>phase</th><th>ok</th><th>fail</th><th>info</th><th>availability</th><th>goodput/s</th><th>p50 ms</th><th>p99 ms</th><th>max ms</th></tr></thead>
<tbody>${rows.join("\n")}</tbody></table>`;
}

function charts(result: RunResult): string {
  const lastSecond = result.timeline.reduce((max, b) => Math.max(max, b.second + 1), 0);
  const seconds = Math.max(1, Math.ceil(result.durationMs / 1000), lastSecond);
  const perSecond = <T>(pick: (b: RunResult["timeline"][number]) => T, empty: T): T[] => {
    const values = new Array<T>(seconds).fill(empty);
    for (const bucket of result.timeline) {
      if (bucket.second >= 0 && bucket.second < seconds) values[bucket.second] = pick(bucket);
    }
    return values;
  };
  const common = {
    seconds,
    faults: faultWindows(result.faults),
    phases: result.phases,
    ...(result.aborted ? { abortAtMs: result.aborted.atMs } : {}),
  };
  const figures = [
    {
      ...common,
      id: "throughput",
      title: "Throughput: successful operations per second",
      unit: "ok/s",
      kind: "line" as const,
      series: [{ label: "ok", color: "#1a7f37", values: perSecond((b) => b.ok, 0) }],
    },
    {
      ...common,
      id: "errors",
      title: "Errors per second: fail (definitely not done) and info (outcome unknown)",
      unit: "ops/s",
      kind: "stacked-bars" as const,
      series: [
        { label: "fail", color: "#cf222e", values: perSecond((b) => b.fail, 0) },
        { label: "info", color: "#bf8700", values: perSecond((b) => b.info, 0) },
      ],
    },
    {
      ...common,
      id: "latency",
      title: "Latency per second (from the intended send time)",
      unit: "ms",
      kind: "line" as const,
      series: [
        { label: "p50", color: "#0969da", values: perSecond<number | null>((b) => b.p50Ms, null) },
        { label: "p99", color: "#8250df", values: perSecond<number | null>((b) => b.p99Ms, null) },
      ],
    },
  ];
  return `<div class="charts">${figures
    .map(
      (spec) =>
        `<figure class="chart-figure">${renderChart(spec)}<figcaption>${esc(spec.title)} ${spec.series
          .map((s) => `<span class="key"><i style="background:${s.color}"></i>${esc(s.label)}</span>`)
          .join(
            "",
          )}<span class="key"><i class="fault-key"></i>fault window</span><span class="key"><i class="phase-key"></i>phase boundary</span></figcaption></figure>`,
    )
    .join("\n")}</div>`;
}

function failuresTable(failures: readonly FailureKind[] | undefined): string {
  if (!failures) return '<p class="muted">Not recorded (a result from before failures were grouped).</p>';
  if (failures.length === 0) return '<p class="muted">No failures and no unknown outcomes.</p>';
  const rows = failures.map(
    (f) =>
      `<tr data-testid="failure-kind" title="${esc(describeFailureKind(f))}"><td>${esc(f.phase)}</td><td class="${f.outcome === "fail" ? "fail" : "not-checked"}">${f.outcome}</td><td>${esc(f.kind)}</td><td class="num">${f.status ?? "—"}</td><td>${esc(f.error)}</td><td class="num">${f.count}</td><td class="num">${f.exampleOpId}</td></tr>`,
  );
  return `<table class="failures" data-testid="failures"><thead><tr><th>phase</th><th>outcome</th><th>operation</th><th>HTTP status</th><th>error</th><th>count</th><th>example op id</th></tr></thead>
<tbody>${rows.join("\n")}</tbody></table>`;
}

function faultLog(faults: readonly NemesisOp[]): string {
  if (faults.length === 0) return '<p class="muted">No faults were injected.</p>';
  const rows = faults.map((op) => {
    const failed = "error" in op.detail;
    const noop = op.detail.noop === true;
    return `<tr class="${op.type}${failed ? " failed" : ""}${noop ? " noop" : ""}" data-testid="fault-row" data-type="${op.type}">
<td class="num" title="${esc(wallTime(op.wall))}">${(op.time / 1000).toFixed(3)} s</td><td class="name">${esc(op.nemesis)}</td>
<td>${op.type}${failed ? ' <span class="fail">failed</span>' : ""}${noop ? ' <span class="muted">no-op</span>' : ""}</td><td><code>${esc(json(op.detail))}</code></td></tr>`;
  });
  return `<table class="faults" data-testid="fault-log"><thead><tr><th>time since start</th><th>nemesis</th><th>action</th><th>detail</th></tr></thead>
<tbody>${rows.join("\n")}</tbody></table>`;
}

function measurements(values: Readonly<Record<string, number | null>>): string {
  const entries = Object.entries(values);
  if (entries.length === 0) return '<p class="muted">No measurements.</p>';
  const rows = entries.map(
    ([key, value]) =>
      `<tr data-testid="measurement-row"><td class="name">${esc(key)}</td><td class="num">${
        value === null
          ? '<span class="not-checked">not measured</span>'
          : `${esc(formatNumber(value))}${/Ms$/.test(key) ? " ms" : ""}`
      }</td></tr>`,
  );
  return `<table class="kv" data-testid="measurements"><tbody>${rows.join("\n")}</tbody></table>`;
}

function settings(values: Readonly<Record<string, string | number | boolean>>): string {
  const entries = Object.entries(values);
  if (entries.length === 0) return '<p class="muted">No settings recorded.</p>';
  const rows = entries.map(
    ([key, value]) => `<tr><td class="name">${esc(key)}</td><td>${esc(String(value))}</td></tr>`,
  );
  return `<table class="kv" data-testid="settings"><tbody>${rows.join("\n")}</tbody></table>`;
}

function json(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function wallTime(epochMs: number): string {
  const date = new Date(epochMs);
  return Number.isNaN(date.getTime()) ? "" : date.toISOString();
}

const CSS = `
:root { --pass: #1a7f37; --fail: #cf222e; --nc: #6e7781; --info: #bf8700; --line: #d0d7de; --bg-soft: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #1f2328; background: #fff; }
header.top { display: flex; gap: 24px; align-items: center; padding: 20px 28px; border-bottom: 4px solid var(--line); color: #1f2328; }
header.top.pass { border-color: var(--pass); background: #dafbe1; }
header.top.fail { border-color: var(--fail); background: #ffebe9; }
header.top.incomplete { border-color: var(--info); background: #fff8c5; }
.verdict { font-size: 56px; font-weight: 800; letter-spacing: 2px; line-height: 1; }
.verdict.pass { color: var(--pass); } .verdict.fail { color: var(--fail); } .verdict.incomplete { color: var(--info); }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 32px 0 4px; padding-top: 12px; border-top: 1px solid var(--line); }
h3 { font-size: 15px; margin: 20px 0 6px; }
section { padding: 0 28px; max-width: 1200px; }
.muted { color: var(--nc); margin: 2px 0; }
.aborted { color: #fff; background: var(--fail); display: inline-block; padding: 2px 10px; border-radius: 4px; font-weight: 700; margin: 6px 0 0; }
.aborted.banner { display: block; }
.aborted .muted { color: #ffebe9; }
.description { font-size: 15px; margin: 4px 0; white-space: pre-wrap; }
table { border-collapse: collapse; margin: 4px 0 8px; min-width: 50%; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--bg-soft); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.name { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; white-space: nowrap; }
td.status { font-weight: 700; white-space: nowrap; text-transform: uppercase; font-size: 12px; vertical-align: middle; }
td.status.pass { color: var(--pass); }
td.status.fail { color: #fff; background: var(--fail); }
td.status.not-checked { color: var(--nc); background: #eaeef2; font-style: italic; }
tr.fail td { background-color: #fff5f5; } tr.fail td.status { background: var(--fail); }
tr.not-checked td { color: var(--nc); background-color: #f6f8fa; font-style: italic; }
tr.failed td { background-color: #fff8e5; }
span.pass { color: var(--pass); } span.fail { color: var(--fail); } span.not-checked { color: var(--nc); font-style: italic; }
.badge { font-size: 12px; font-weight: 700; padding: 1px 8px; border-radius: 10px; vertical-align: middle; color: #fff; }
.badge.pass, .badge.fail, .badge.incomplete, .badge.aborted { color: #fff; }
.badge.pass { background: var(--pass); } .badge.fail { background: var(--fail); } .badge.incomplete { background: var(--info); } .badge.aborted { background: #57606a; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
code { word-break: break-all; }
pre.definition { background: var(--bg-soft); border: 1px solid var(--line); padding: 10px; overflow: auto; }
details summary { cursor: pointer; color: var(--fail); }
.charts { display: flex; flex-direction: column; gap: 12px; }
figure.chart-figure { margin: 0; }
svg.chart { display: block; width: 100%; max-width: 880px; height: auto; font-size: 11px; }
svg .grid { stroke: #eaeef2; } svg .axis { stroke: #8c959f; } svg .frame { stroke: #8c959f; }
svg .tick, svg .unit { fill: #57606a; } svg .unit { font-weight: 600; }
svg .fault-window { fill: #fb8500; fill-opacity: 0.16; stroke: #fb8500; stroke-opacity: 0.5; }
svg .fault-window.failed { fill: #cf222e; }
svg .fault-label { fill: #9a4a00; font-weight: 600; }
svg .fault-label, svg .abort-label, svg .phase-label { paint-order: stroke; stroke: #fff; stroke-width: 3px; stroke-linejoin: round; }
svg .phase-boundary { stroke: #57606a; stroke-dasharray: 4 3; }
svg .phase-label { fill: #57606a; font-style: italic; }
svg .abort { stroke: var(--fail); stroke-width: 2; } svg .abort-label { fill: var(--fail); font-weight: 700; }
svg .no-data { fill: var(--nc); font-size: 14px; }
svg .hover rect { fill: transparent; } svg .hover rect:hover { fill: #0969da; fill-opacity: 0.08; }
figcaption { color: #57606a; font-size: 12px; }
.key { margin-left: 12px; white-space: nowrap; }
.key i { display: inline-block; width: 12px; height: 10px; margin-right: 4px; vertical-align: baseline; }
.key i.fault-key { background: #fb8500; opacity: 0.35; }
.key i.phase-key { border-left: 2px dashed #57606a; width: 2px; }
@media print { header.top { break-after: avoid; } section.experiment { break-before: page; } }
`;
