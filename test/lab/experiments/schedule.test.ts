// The fault schedule (issue 10 §3): the experiment's faults as operations in time order, played on
// timers and cancellable; overload is one more fault kind, played without a fault injector.
import { describe, expect, it, vi } from "vitest";
import { isNemesis } from "../../../src/lab/experiments/fault-kinds.ts";
import { parseExperiment } from "../../../src/lab/experiments/loader.ts";
import {
  type FaultOp,
  faultSchedule,
  phaseWindows,
  playSchedule,
} from "../../../src/lab/experiments/schedule.ts";

const loaded = parseExperiment(
  `name: two-faults
description: d
workload: { rate: 5, duration: 30s, warmup: 2s }
faults:
  - { at: 12s, action: overload, factor: 3, duration: 4s }
  - { at: 5s, action: kill, target: inventory, restartAfter: 3s }
  - { at: 12s, action: pause, target: orders, duration: 2s }
`,
  "two-faults.yaml",
);

describe("the fault schedule", () => {
  it("yields the faults in time order, file order for ties", () => {
    const ops = [...faultSchedule(loaded.experiment)];
    expect(ops.map((op) => [op.at, op.fault.action])).toEqual([
      [5_000, "kill"],
      [12_000, "overload"],
      [12_000, "pause"],
    ]);
  });

  it("overload is a fault kind of its own: it needs no fault injector", () => {
    expect(loaded.experiment.faults.filter(isNemesis).map((f) => f.action)).toEqual(["kill", "pause"]);
  });

  it("plays each operation at its time; stop() cancels the rest", () => {
    vi.useFakeTimers();
    try {
      const started: string[] = [];
      const play = playSchedule(faultSchedule(loaded.experiment), (op: FaultOp) =>
        started.push(op.fault.action),
      );
      vi.advanceTimersByTime(6_000);
      expect(started).toEqual(["kill"]);
      play.stop();
      vi.advanceTimersByTime(20_000);
      expect(started).toEqual(["kill"]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("derives the phase windows from the schedule", () => {
    expect(phaseWindows(loaded.experiment)).toEqual([
      { phase: "warmup", start: 0, end: 2_000 },
      { phase: "baseline", start: 2_000, end: 5_000 },
      { phase: "fault", start: 5_000, end: 16_000 },
      { phase: "recovery", start: 16_000, end: 30_000 },
    ]);
  });
});
