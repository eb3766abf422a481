/**
 * JUnit XML for CI: one <testsuite> per experiment, one <testcase> per check and per hypothesis. A
 * not-checked property is <skipped>, never a pass. Checks have no duration of their own, so test cases
 * carry time="0" and each suite the run's duration.
 */
import type { RunResult } from "../run/result.ts";
import { escapeXmlAttr as attr, countStatuses, escapeXml, hypothesisLabel } from "./format.ts";

interface Case {
  classname: string;
  name: string;
  status: "pass" | "fail" | "not-checked";
  message: string;
  body: string;
}

export function renderJunit(results: readonly RunResult[]): string {
  const suites = results.map(suiteOf);
  const total = (pick: (s: Suite) => number) => suites.reduce((sum, s) => sum + pick(s), 0);
  const time = results.reduce((sum, r) => sum + r.durationMs, 0) / 1000;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="chaoscart verify" tests="${total((s) => s.cases.length)}" failures="${total((s) => s.failures)}" errors="0" skipped="${total((s) => s.skipped)}" time="${seconds(time)}">`,
    ...suites.map((s) => s.xml),
    "</testsuites>",
    "",
  ].join("\n");
}

interface Suite {
  cases: Case[];
  failures: number;
  skipped: number;
  xml: string;
}

function suiteOf(result: RunResult): Suite {
  const name = result.experiment.name;
  const cases: Case[] = [
    ...result.checks.map((check) => ({
      classname: `${name}.checks`,
      name: check.name,
      status: check.status,
      message: check.summary,
      body: check.problems.join("\n"),
    })),
    ...result.hypotheses.map((h) => ({
      classname: `${name}.hypotheses`,
      name: hypothesisLabel(h),
      status: h.status,
      message: h.summary,
      body: `observed: ${h.observed ?? "none"}\n${h.summary}`,
    })),
  ];
  // verify exits non-zero on any verdict but pass; CI must not show green when no case explains why
  // (an incomplete run's cases are only skipped ones).
  if (result.verdict !== "pass" && !cases.some((c) => c.status === "fail")) {
    const skipped = cases.filter((c) => c.status === "not-checked").map((c) => c.name);
    const why = result.aborted
      ? `aborted: ${result.aborted.reason}`
      : result.verdict === "incomplete"
        ? `not checked: ${skipped.join(", ")}`
        : "no check or hypothesis failed";
    cases.push({
      classname: name,
      name: "verdict",
      status: "fail",
      message: `verdict ${result.verdict} (${why})`,
      body: why,
    });
  }
  const counts = countStatuses(cases);
  const properties = [
    property("verdict", result.verdict),
    ...(result.experiment.file ? [property("file", result.experiment.file)] : []),
    ...(result.aborted
      ? [property("aborted", result.aborted.reason), property("abortedAtMs", String(result.aborted.atMs))]
      : []),
    ...Object.entries(result.measurements).map(([k, v]) =>
      property(`measurement.${k}`, v === null ? "" : String(v)),
    ),
    ...Object.entries(result.settings).map(([k, v]) => property(`setting.${k}`, String(v))),
  ];
  const xml = [
    `  <testsuite name="${attr(name)}" tests="${cases.length}" failures="${counts.fail}" errors="0" skipped="${counts["not-checked"]}" time="${seconds(result.durationMs / 1000)}" timestamp="${attr(timestamp(result.startedAt))}">`,
    `    <properties>${properties.join("")}</properties>`,
    ...cases.map(testcase),
    `    <system-out>${escapeXml(systemOut(result))}</system-out>`,
    "  </testsuite>",
  ].join("\n");
  return { cases, failures: counts.fail, skipped: counts["not-checked"], xml };
}

function testcase(c: Case): string {
  const open = `    <testcase classname="${attr(c.classname)}" name="${attr(c.name)}" time="0"`;
  if (c.status === "pass") return `${open}/>`;
  if (c.status === "not-checked") {
    const message = c.message.startsWith("not checked") ? c.message : `not checked: ${c.message}`;
    return `${open}><skipped message="${attr(message)}"/></testcase>`;
  }
  return `${open}><failure message="${attr(c.message)}" type="${c.classname.endsWith(".hypotheses") ? "hypothesis" : "invariant"}">${escapeXml(c.body)}</failure></testcase>`;
}

function property(name: string, value: string): string {
  return `<property name="${attr(name)}" value="${attr(value)}"/>`;
}

function systemOut(result: RunResult): string {
  const lines = [`${result.experiment.name}: ${result.verdict}`, result.experiment.description];
  if (result.aborted) lines.push(`ABORTED at ${result.aborted.atMs} ms: ${result.aborted.reason}`);
  for (const slo of result.slos) {
    lines.push(
      `${slo.phase}: ok ${slo.ok} fail ${slo.fail} info ${slo.info} availability ${slo.availability ?? "-"} p99 ${slo.p99Ms ?? "-"} ms`,
    );
  }
  return lines.join("\n");
}

function seconds(value: number): string {
  return Number.isFinite(value) ? value.toFixed(3) : "0";
}

/** JUnit's timestamp is ISO 8601 without a zone (and is read as UTC by most tools). */
function timestamp(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toISOString().slice(0, 19);
}
