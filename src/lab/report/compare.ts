/**
 * `verify --baseline result.json`: what got worse since an earlier run. Per experiment present in both
 * runs: checks and hypotheses that passed then and fail now, availability down by more than 1
 * percentage point and p99 up by more than 15 % in any phase (BACKGROUND: "p99 increase ≤ 15%").
 */
import { readFile } from "node:fs/promises";
import { z } from "zod";
import type { Phase } from "../history/op.ts";
import type { HypothesisResult, PhaseSlo, RunResult } from "../run/result.ts";
import { formatMs, hypothesisLabel } from "./format.ts";

export interface Regression {
  experiment: string;
  kind: "check" | "hypothesis" | "availability" | "p99";
  /** The check name, the hypothesis label, or the phase for SLO regressions. */
  subject: string;
  phase?: Phase;
  before: string | number | null;
  now: string | number | null;
  message: string;
}

export interface RegressionLimits {
  /** Largest tolerated availability drop, in percentage points. */
  availabilityDropPp: number;
  /** Largest tolerated relative p99 increase (0.15 = +15 %). */
  p99Increase: number;
}

export const DEFAULT_LIMITS: RegressionLimits = { availabilityDropPp: 1, p99Increase: 0.15 };

// Float noise must not turn "exactly at the limit" into a regression.
const EPSILON = 1e-9;

export function compareToBaseline(
  current: readonly RunResult[],
  baseline: readonly RunResult[],
  limits: RegressionLimits = DEFAULT_LIMITS,
): Regression[] {
  const before = new Map<string, RunResult>();
  for (const result of baseline)
    if (!before.has(result.experiment.name)) before.set(result.experiment.name, result);
  const regressions: Regression[] = [];
  for (const now of current) {
    const then = before.get(now.experiment.name);
    if (!then) continue;
    const experiment = now.experiment.name;

    const checksThen = new Map(then.checks.map((c) => [c.name, c]));
    for (const check of now.checks) {
      if (check.status === "fail" && checksThen.get(check.name)?.status === "pass") {
        regressions.push({
          experiment,
          kind: "check",
          subject: check.name,
          before: "pass",
          now: "fail",
          message: `${experiment}: check ${check.name} passed in the baseline and fails now: ${check.summary}`,
        });
      }
    }

    const hypothesesThen = new Map(then.hypotheses.map((h) => [hypothesisKey(h), h]));
    for (const h of now.hypotheses) {
      const old = hypothesesThen.get(hypothesisKey(h));
      if (h.status === "fail" && old?.status === "pass") {
        const label = hypothesisLabel(h);
        regressions.push({
          experiment,
          kind: "hypothesis",
          subject: label,
          ...(h.phase ? { phase: h.phase } : {}),
          before: old.observed,
          now: h.observed,
          message: `${experiment}: hypothesis ${label} held in the baseline (observed ${old.observed ?? "none"}) and fails now (observed ${h.observed ?? "none"})`,
        });
      }
    }

    const slosThen = new Map(then.slos.map((s) => [s.phase, s]));
    for (const slo of now.slos) {
      const old = slosThen.get(slo.phase);
      if (old) regressions.push(...sloRegressions(experiment, old, slo, limits));
    }
  }
  return regressions;
}

function hypothesisKey(h: Pick<HypothesisResult, "metric" | "phase" | "min" | "max">): string {
  return JSON.stringify([h.metric, h.phase ?? null, h.min ?? null, h.max ?? null]);
}

function sloRegressions(
  experiment: string,
  then: PhaseSlo,
  now: PhaseSlo,
  limits: RegressionLimits,
): Regression[] {
  const out: Regression[] = [];
  const phase = now.phase;
  if (then.availability !== null && now.availability !== null) {
    const dropPp = (then.availability - now.availability) * 100;
    if (dropPp > limits.availabilityDropPp + EPSILON) {
      out.push({
        experiment,
        kind: "availability",
        subject: phase,
        phase,
        before: then.availability,
        now: now.availability,
        message: `${experiment}: availability in ${phase} fell from ${pct(then.availability)} to ${pct(now.availability)} (−${dropPp.toFixed(2)} pp; allowed ${limits.availabilityDropPp} pp)`,
      });
    }
  }
  if (then.p99Ms !== null && now.p99Ms !== null && then.p99Ms > 0) {
    const increase = now.p99Ms / then.p99Ms - 1;
    if (increase > limits.p99Increase + EPSILON) {
      out.push({
        experiment,
        kind: "p99",
        subject: phase,
        phase,
        before: then.p99Ms,
        now: now.p99Ms,
        message: `${experiment}: p99 in ${phase} rose from ${formatMs(then.p99Ms)} ms to ${formatMs(now.p99Ms)} ms (+${(increase * 100).toFixed(1)}%; allowed ${Math.round(limits.p99Increase * 100)}%)`,
      });
    }
  }
  return out;
}

function pct(ratio: number): string {
  return `${(ratio * 100).toFixed(2)}%`;
}

// Only what the comparison reads is required: result.json only ever gains fields, so an older file
// that lacks a newer field is still a valid baseline.
const status = z.enum(["pass", "fail", "not-checked"]);
const runResultShape = z.looseObject({
  schemaVersion: z.literal(1),
  experiment: z.looseObject({ name: z.string() }),
  verdict: z.enum(["pass", "fail", "incomplete"]),
  checks: z.array(z.looseObject({ name: z.string(), status, summary: z.string() })),
  hypotheses: z.array(
    z.looseObject({
      metric: z.string(),
      phase: z.string().optional(),
      min: z.number().optional(),
      max: z.number().optional(),
      observed: z.number().nullable(),
      status,
    }),
  ),
  slos: z.array(
    z.looseObject({ phase: z.string(), availability: z.number().nullable(), p99Ms: z.number().nullable() }),
  ),
});
const suiteShape = z.looseObject({ schemaVersion: z.literal(1), experiments: z.array(runResultShape) });

/** Reads a result.json of either shape (one experiment, or a suite) as a list of results. */
export async function loadBaseline(path: string): Promise<RunResult[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new Error(`cannot read baseline ${path}: ${(error as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new Error(`baseline ${path} is not a ChaosCart result: not JSON (${(error as Error).message})`);
  }
  const isSuite = typeof data === "object" && data !== null && "experiments" in data;
  const parsed = (isSuite ? suiteShape : runResultShape).safeParse(data);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 3)
      .map((issue) => `${issue.path.length ? issue.path.join(".") : "(top level)"}: ${issue.message}`)
      .join("; ");
    throw new Error(
      `baseline ${path} is not a ChaosCart result (a result.json written by chaoscart verify): ${issues}`,
    );
  }
  // Validated above for every field the comparison reads; the rest is carried as written.
  return isSuite ? (data as { experiments: RunResult[] }).experiments : [data as RunResult];
}
