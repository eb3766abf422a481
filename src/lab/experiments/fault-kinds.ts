import type { NemesisEvent } from "../nemeses/nemesis.ts";
import { runWorkload, type WorkloadOptions } from "../workload/index.ts";
import { INSTANT_FAULT_MS, numberField } from "./schedule.ts";
import type { FaultStep } from "./schema.ts";
import type { FaultInjector } from "./system.ts";

/**
 * The kinds of fault a schedule can hold. Most are nemeses, started through the system's fault
 * injector; a workload fault (overload) is played by the runner's own process. Each kind starts a
 * fault and resolves to its description; a rejection means the fault could not be injected.
 */

/** The workload a workload fault adds to (the run's, without its rate and duration). */
export type BaseWorkload = Omit<WorkloadOptions, "rate" | "durationMs">;

interface WorkloadFaultContext {
  workload: BaseWorkload;
  /** The experiment's steady rate, per second. */
  rate: number;
  record: (event: NemesisEvent) => void;
}

type WorkloadFault = (
  fault: FaultStep,
  context: WorkloadFaultContext,
) => { description: string; done: Promise<void> };

/** The overload fault: extra open-loop load on top of the workload for the fault's duration. */
const overload: WorkloadFault = (fault, { workload, rate, record }) => {
  const factor = numberField(fault, "factor") ?? 5;
  const durationMs = fault.duration ?? INSTANT_FAULT_MS;
  const name = `overload ×${factor}`;
  record({ nemesis: name, action: "start", at: Date.now(), detail: { factor, durationMs } });
  const done = runWorkload({
    ...workload,
    rate: rate * (factor - 1),
    durationMs,
    keyPrefix: `${workload.keyPrefix}-burst`,
    ...(workload.seed === undefined ? {} : { seed: (workload.seed + 1) >>> 0 }),
  })
    .then(() => {})
    .finally(() => record({ nemesis: name, action: "stop", at: Date.now(), detail: {} }));
  return { description: `${name} for ${durationMs} ms`, done };
};

const WORKLOAD_FAULTS: Record<string, WorkloadFault> = { overload };

/** A fault that needs the system's fault injector (every kind but the workload faults). */
export function isNemesis(fault: FaultStep): boolean {
  return !Object.hasOwn(WORKLOAD_FAULTS, fault.action);
}

/** Starts the faults of one run, whatever their kind, and heals them. */
export class FaultPlayer {
  private readonly running: Promise<void>[] = [];

  constructor(
    private readonly injector: FaultInjector,
    private readonly context: WorkloadFaultContext,
  ) {}

  start(fault: FaultStep): Promise<string> {
    const workloadFault = WORKLOAD_FAULTS[fault.action];
    if (workloadFault) {
      const { description, done } = workloadFault(fault, this.context);
      this.running.push(done);
      return Promise.resolve(description);
    }
    const { at: _at, ...spec } = fault as Record<string, unknown>;
    return this.injector.start(spec);
  }

  /** Waits for the faults this process plays itself (overload's extra load) to end. */
  async finished(): Promise<void> {
    await Promise.allSettled(this.running);
  }

  healAll(): Promise<void> {
    return this.injector.healAll();
  }
}
