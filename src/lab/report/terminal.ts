/**
 * The short summary `verify` prints: one line per experiment, then what failed or could not be checked
 * under it, then a total. ANSI colour only when asked (the caller knows whether stdout is a TTY).
 */
import type { RunResult } from "../run/result.ts";
import { describeFailureKind } from "../slo/failures.ts";
import { builtInBugWarning, capacityLine, countStatuses, formatSeconds, hypothesisLabel } from "./format.ts";

export interface SummaryOptions {
  color: boolean;
}

const FAILURE_KINDS_SHOWN = 5;

const CODES = { red: 31, green: 32, yellow: 33, grey: 90, bold: 1 } as const;

export function renderSummary(results: readonly RunResult[], { color }: SummaryOptions): string {
  const paint = (style: keyof typeof CODES, text: string) =>
    color ? `\u001b[${CODES[style]}m${text}\u001b[0m` : text;
  const lines: string[] = [];
  const warning = builtInBugWarning(results);
  if (warning) lines.push(paint("bold", paint("yellow", warning)));
  for (const result of results) {
    const verdict =
      result.verdict === "pass"
        ? paint("green", "PASS")
        : result.verdict === "incomplete"
          ? paint("bold", paint("yellow", "INCOMPLETE"))
          : paint("bold", paint("red", "FAIL"));
    const checks = countStatuses(result.checks);
    const hypotheses = countStatuses(result.hypotheses);
    const tally = `checks ${checks.pass}/${result.checks.length} passed, hypotheses ${hypotheses.pass}/${result.hypotheses.length} held`;
    let line = `${verdict}  ${clean(result.experiment.name)}  ${paint("grey", `(${formatSeconds(result.durationMs)}; ${tally})`)}`;
    if (result.aborted) line += `  ${paint("red", `ABORTED: ${clean(result.aborted.reason)}`)}`;
    lines.push(line);
    for (const check of result.checks) {
      if (check.status === "fail")
        lines.push(`  ${paint("red", "✗ check")} ${clean(check.name)}: ${clean(check.summary)}`);
    }
    for (const h of result.hypotheses) {
      if (h.status === "fail")
        lines.push(`  ${paint("red", "✗ hypothesis")} ${clean(hypothesisLabel(h))}: ${clean(h.summary)}`);
    }
    // Why it failed: the most frequent failure kinds of a run that did not pass.
    if (result.verdict !== "pass" && result.failures && result.failures.length > 0) {
      const top = [...result.failures].sort((a, b) => b.count - a.count).slice(0, FAILURE_KINDS_SHOWN);
      for (const f of top) lines.push(`  ${paint("grey", "· errors")} ${clean(describeFailureKind(f))}`);
      const rest = result.failures.length - top.length;
      if (rest > 0)
        lines.push(`  ${paint("grey", `· errors: ${rest} more kind(s) in result.json (failures)`)}`);
    }
    for (const check of result.checks) {
      if (check.status === "not-checked") {
        lines.push(`  ${paint("yellow", "? not checked")} ${clean(check.name)}: ${clean(check.summary)}`);
      }
    }
    for (const h of result.hypotheses) {
      if (h.status === "not-checked") {
        lines.push(`  ${paint("yellow", "? not checked")} ${clean(hypothesisLabel(h))}: ${clean(h.summary)}`);
      }
    }
  }
  const failed = results.filter((r) => r.verdict === "fail").length;
  const incomplete = results.filter((r) => r.verdict === "incomplete").length;
  const checks = countStatuses(results.flatMap((r) => r.checks));
  const hypotheses = countStatuses(results.flatMap((r) => r.hypotheses));
  const unfinished = incomplete > 0 ? `, ${incomplete} incomplete (something not checked)` : "";
  const headline =
    failed > 0
      ? paint("bold", paint("red", `FAIL: ${failed} of ${results.length} experiment(s) failed${unfinished}`))
      : incomplete > 0
        ? paint(
            "bold",
            paint("yellow", `INCOMPLETE: ${incomplete} of ${results.length} experiment(s) not fully checked`),
          )
        : paint("bold", paint("green", `PASS: all ${results.length} experiment(s) passed`));
  if (warning) lines.push(paint("bold", paint("yellow", warning)));
  const capacity = capacityLine(results);
  if (capacity) lines.push(clean(capacity));
  lines.push(
    `${headline} — checks: ${checks.pass} pass / ${checks.fail} fail / ${checks["not-checked"]} not checked; hypotheses: ${hypotheses.pass} held / ${hypotheses.fail} failed / ${hypotheses["not-checked"]} not checked`,
  );
  return lines.join("\n");
}

/** One line of user-supplied text, with no control characters (no stray escapes reach the terminal). */
function clean(text: string, max = 200): string {
  const line = text.replace(/[^\u0020-\u007E\u00A0-\u{10FFFF}]+/gu, " ").trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
