import { parseDuration } from "../duration.ts";
import type { PhaseWindow } from "../run/result.ts";
import type { Experiment, FaultStep } from "./schema.ts";

/**
 * The fault schedule (Jepsen's nemesis generator): the experiment's faults as operations in time
 * order, and the phase windows they imply. A generator, so a later schedule (random faults) can decide
 * each operation as it goes; the runner only plays what it yields.
 */

/** How long a fault with no duration is considered to last, for the phase windows. */
export const INSTANT_FAULT_MS = 5_000;

/** One operation of the schedule: start `fault` at `at` ms into the workload. */
export interface FaultOp {
  at: number;
  fault: FaultStep;
}

export function* faultSchedule(experiment: Experiment): Generator<FaultOp> {
  // A stable sort: faults at the same time start in the order the file lists them.
  for (const fault of [...experiment.faults].sort((a, b) => a.at - b.at)) yield { at: fault.at, fault };
}

/** Starts each operation of the schedule at its time; `stop()` cancels the ones not started yet. */
export function playSchedule(ops: Iterable<FaultOp>, start: (op: FaultOp) => void): { stop(): void } {
  const timers = [...ops].map((op) => setTimeout(() => start(op), op.at));
  return {
    stop: () => {
      for (const timer of timers) clearTimeout(timer);
    },
  };
}

/** warmup → baseline → fault → recovery, from the schedule; without faults the whole run is baseline. */
export function phaseWindows(experiment: Experiment): PhaseWindow[] {
  const { warmup, duration } = experiment.workload;
  const end = duration;
  const windows: PhaseWindow[] = [{ phase: "warmup", start: 0, end: warmup }];
  if (experiment.faults.length === 0) return [...windows, { phase: "baseline", start: warmup, end }];
  const faultStart = Math.max(warmup, Math.min(...experiment.faults.map((f) => f.at)));
  const faultEnd = Math.min(
    end,
    Math.max(
      ...experiment.faults.map(
        (f) => f.at + (f.duration ?? numberField(f, "restartAfter") ?? INSTANT_FAULT_MS),
      ),
    ),
  );
  return [
    ...windows,
    { phase: "baseline", start: warmup, end: faultStart },
    { phase: "fault", start: faultStart, end: faultEnd },
    { phase: "recovery", start: faultEnd, end },
  ];
}

/** A numeric parameter of a fault, written as a number or a duration (`500ms`, `2s`, `1m`). */
export function numberField(fault: FaultStep, name: string): number | undefined {
  const value = (fault as Record<string, unknown>)[name];
  return typeof value === "number" ? value : parseDuration(value);
}
