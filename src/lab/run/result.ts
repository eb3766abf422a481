import type { Check, CheckStatus } from "../checkers/check.ts";
import type { NemesisOp, Phase, ProbeOp } from "../history/op.ts";
import type { FailureKind } from "../slo/failures.ts";
import type { ReplicationRecord } from "./replication-record.ts";

/**
 * `result.json`: the machine-readable outcome of one experiment run. The schema is stable: fields
 * are only ever added (bump `schemaVersion` on any other change).
 */

export interface PhaseWindow {
  phase: Phase;
  /** ms since the run started */
  start: number;
  end: number;
}

export interface PhaseSlo {
  phase: Phase;
  /** Completed client operations in the phase, by outcome. */
  ok: number;
  fail: number;
  info: number;
  /** ok / (ok + fail + info); null when nothing completed. */
  availability: number | null;
  /** Successful business outcomes per second (CONFIRMED orders and successful reads). */
  goodputPerSec: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

export interface SecondBucket {
  /** Whole seconds since the run started. */
  second: number;
  ok: number;
  fail: number;
  info: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

export interface HypothesisResult {
  metric: string;
  phase?: Phase;
  min?: number;
  max?: number;
  maxRatioToBaseline?: number;
  tolerance?: number;
  observed: number | null;
  status: CheckStatus;
  summary: string;
}

export type Verdict = "pass" | "fail" | "incomplete";

/** The verdict of one run (see `RunResult.verdict`): "not checked" is never a pass. */
export function verdictOf(
  checks: readonly { status: CheckStatus }[],
  hypotheses: readonly { status: CheckStatus }[],
  aborted?: unknown,
): Verdict {
  const all = [...checks, ...hypotheses];
  if (aborted || all.some((c) => c.status === "fail")) return "fail";
  return all.some((c) => c.status === "not-checked") ? "incomplete" : "pass";
}

/** Which experiment a run ran: its name, where it came from and the file as written. */
export interface RunExperiment {
  name: string;
  description: string;
  file?: string;
  /** The experiment file as written. */
  definition: string;
}

export interface RunResult {
  schemaVersion: 1;
  experiment: RunExperiment;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  /**
   * `pass` only if every check passed and every hypothesis held, and nothing aborted the run; `fail` if
   * any failed or the run was aborted; otherwise `incomplete`: something the experiment asked for was
   * not checked (e.g. the final state could not be read). Treat anything but `pass` as not passed.
   */
  verdict: Verdict;
  /**
   * Set when a guardrail stopped fault injection early; or, with `atMs` 0 and a reason starting
   * "not run:", when the experiment could not run at all (its faults cannot be injected into the target).
   */
  aborted?: { reason: string; atMs: number };
  phases: PhaseWindow[];
  slos: PhaseSlo[];
  checks: Check[];
  hypotheses: HypothesisResult[];
  timeline: SecondBucket[];
  /** Every nemesis start/stop, in order. */
  faults: NemesisOp[];
  /**
   * Failures and unknown outcomes by phase, kind, HTTP status and error code, with counts and an
   * example op id (added after schemaVersion 1 shipped: absent in older results).
   */
  failures?: FailureKind[];
  /**
   * Every `/healthz` and `/readyz` sample the lab took of each service (added after schemaVersion 1
   * shipped: absent in older results).
   */
  probes?: ProbeOp[];
  /** Measured figures that have no phase: recovery time, switchover time, replica staleness. */
  measurements: Record<string, number | null>;
  settings: Record<string, string | number | boolean>;
  /** Replication as PostgreSQL reported it (requested mode, at start, sampled through the run). */
  replication?: ReplicationRecord;
}
