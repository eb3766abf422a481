import { notChecked } from "../checkers/check.ts";
import type { FinalState, Unreadable } from "../checkers/observed.ts";
import type { RegionalFinalState } from "../checkers/regional.ts";
import { runChecks } from "../checkers/registry.ts";
import type { HistoryOp, NemesisOp, ProbeOp } from "../history/op.ts";
import { type PhaseWindow, type RunResult, verdictOf } from "../run/result.ts";
import { failureKinds, sloByPhase, timeline } from "../slo/index.ts";
import type { ConvergenceRecord } from "./convergence.ts";
import { evaluateHypotheses } from "./hypotheses.ts";
import type { Amount, ResolvedLoad } from "./load.ts";
import type { LoadedExperiment } from "./loader.ts";
import { type CatalogCounters, measurementsOf, type PaymentCounters } from "./metrics.ts";
import { type RelayCounters, relayMeasurements } from "./relay-metrics.ts";
import { type ReplicationRecord, replicationMeasurements } from "./replication.ts";
import type { Experiment, FaultStep } from "./schema.ts";
import type { SystemUnderTest } from "./system.ts";

/** Result assembly: from what a run recorded to its `RunResult` (SLOs, measurements, checks, verdict). */

export function about({ experiment, file, source }: LoadedExperiment): RunResult["experiment"] {
  return { name: experiment.name, description: experiment.description, file, definition: source };
}

/** The settings a result records: the experiment's, overridden by the system's. */
export function settingsOf(
  experiment: Experiment,
  system: SystemUnderTest,
  load: ResolvedLoad,
): RunResult["settings"] {
  return {
    replication: experiment.topology.replication,
    rate: load.rate,
    ...(load.capacity === undefined
      ? {}
      : {
          capacityOrdersPerSec: load.capacity,
          rateOfCapacity: `${describeShare(experiment.workload.rate)} (orders/s)`,
        }),
    arrival: experiment.workload.arrival,
    durationMs: experiment.workload.duration,
    users: experiment.workload.users,
    hotSkus: experiment.workload.hotSkus,
    stockPerSku: load.stockPerSku,
    stockBuckets: experiment.workload.stockBuckets,
    hotDemandPerSku: Math.round(load.hotDemandPerSku),
    fsync: "on",
    synchronous_commit: "on",
    ...system.settings,
  };
}

export function assembleResult(run: {
  loaded: LoadedExperiment;
  system: SystemUnderTest;
  started: Date;
  aborted: RunResult["aborted"];
  phases: PhaseWindow[];
  ops: readonly HistoryOp[];
  nemesisOps: NemesisOp[];
  final: FinalState | RegionalFinalState | Unreadable;
  catalogBefore: CatalogCounters;
  catalogAfter: CatalogCounters;
  payment?: readonly (PaymentCounters | null)[];
  replication?: ReplicationRecord;
  convergence?: ConvergenceRecord;
  relays?: { before: RelayCounters | null; after: RelayCounters | null };
  load: ResolvedLoad;
}): RunResult {
  const { experiment } = run.loaded;
  const { ops, phases, aborted } = run;
  const slos = sloByPhase(ops, phases);
  const probes = ops.filter((op): op is ProbeOp => op.process === "probe");
  const measurements = {
    ...measurementsOf({ ...run, slos, probes }),
    ...replicationMeasurements(run.replication),
    ...(run.convergence
      ? {
          convergence_ms: run.convergence.convergedAfterMs,
          convergence_differing_rows: run.convergence.differingRows,
        }
      : {}),
    ...(run.relays ? relayMeasurements(run.relays.before, run.relays.after) : {}),
  };
  const checks = runChecks(experiment.checks, ops, run.final);
  const hypotheses = evaluateHypotheses(experiment.hypothesis, slos, measurements);
  const finished = new Date();
  return {
    schemaVersion: 1,
    experiment: about(run.loaded),
    startedAt: run.started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs: finished.getTime() - run.started.getTime(),
    verdict: verdictOf(checks, hypotheses, aborted),
    ...(aborted ? { aborted } : {}),
    phases,
    slos,
    checks,
    hypotheses,
    timeline: timeline(ops),
    failures: failureKinds(ops),
    probes,
    faults: run.nemesisOps,
    measurements,
    settings: settingsOf(experiment, run.system, run.load),
    ...(run.replication ? { replication: run.replication } : {}),
  };
}

/** The result of an experiment that could not run: its faults cannot be injected into this system. */
export function notRun(
  loaded: LoadedExperiment,
  system: SystemUnderTest,
  started: Date,
  nemeses: readonly FaultStep[],
): RunResult {
  const faults = nemeses.map((f) => `${f.action} ${f.target ?? ""}`.trim()).join(", ");
  const reason = `not run: ${system.noFaultsReason ?? "this system cannot inject faults"} (faults: ${faults})`;
  return failedSetup(loaded, system, started, reason, "its faults cannot be injected into this system");
}

/** The result of an experiment whose setup failed: nothing ran, so every check is "not checked". */
export function failedSetup(
  loaded: LoadedExperiment,
  system: SystemUnderTest,
  started: Date,
  reason: string,
  because: string,
  extra: Pick<RunResult, "replication"> = {},
): RunResult {
  const why = `the experiment did not run: ${because}`;
  const { experiment } = loaded;
  return {
    schemaVersion: 1,
    experiment: about(loaded),
    startedAt: started.toISOString(),
    finishedAt: started.toISOString(),
    durationMs: 0,
    verdict: "fail",
    aborted: { reason, atMs: 0 },
    phases: [],
    slos: [],
    checks: experiment.checks.map((name) => notChecked(name, why)),
    hypotheses: experiment.hypothesis.map((h) => ({
      ...h,
      observed: null,
      status: "not-checked" as const,
      summary: `not checked: ${why}`,
    })),
    timeline: [],
    faults: [],
    measurements: {},
    settings: { ...system.settings },
    ...extra,
  };
}

function describeShare(amount: Amount): string {
  return typeof amount === "number" ? String(amount) : `${Math.round(amount.share * 1000) / 10} %`;
}
