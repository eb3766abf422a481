import { describe, expect, it } from "vitest";
import { evaluateHypotheses } from "../../../src/lab/experiments/hypotheses.ts";
import { amplificationOf } from "../../../src/lab/experiments/metrics.ts";
import type { PhaseWindow } from "../../../src/lab/run/result.ts";

const PHASES: PhaseWindow[] = [
  { phase: "warmup", start: 0, end: 2_000 },
  { phase: "baseline", start: 2_000, end: 4_000 },
  { phase: "fault", start: 4_000, end: 12_000 },
  { phase: "recovery", start: 12_000, end: 16_000 },
];

describe("retry amplification", () => {
  const storm = amplificationOf(PHASES, [
    { time: 0, calls: 0, received: 0 },
    { time: 2_000, calls: 60, received: 60 },
    { time: 4_000, calls: 120, received: 120 },
    // A retry storm: 240 logical calls reach the provider 1,680 times.
    { time: 12_000, calls: 360, received: 1_800 },
    { time: 16_000, calls: 480, received: 1_926 },
  ]);

  it("is requests received per logical call, per phase and over the run", () => {
    expect(storm["payment_amplification:baseline"]).toBe(1);
    expect(storm["payment_amplification:fault"]).toBe(7);
    expect(storm["payment_amplification:recovery"]).toBeCloseTo(1.05);
    expect(storm.payment_amplification).toBeCloseTo(1_926 / 480);
  });

  it("fails a bound on the phase the hypothesis names", () => {
    const [baseline, fault] = evaluateHypotheses(
      [
        { metric: "payment_amplification", phase: "baseline", max: 1.1 },
        { metric: "payment_amplification", phase: "fault", max: 2 },
      ],
      [],
      storm,
    );
    expect(baseline?.status).toBe("pass");
    expect(fault).toMatchObject({ status: "fail", observed: 7 });
  });

  it("is not measured without both readings, with too few calls, or when a counter went back", () => {
    const gaps = amplificationOf(PHASES, [
      { time: 0, calls: 0, received: 0 },
      null,
      { time: 4_000, calls: 5, received: 5 },
      { time: 12_000, calls: 100, received: 3 }, // the provider restarted
      { time: 16_000, calls: 100, received: 3 },
    ]);
    expect(gaps["payment_amplification:baseline"]).toBeNull();
    expect(gaps["payment_amplification:fault"]).toBeNull();
    expect(gaps["payment_amplification:recovery"]).toBeNull(); // no calls
    const [h] = evaluateHypotheses([{ metric: "payment_amplification", phase: "fault", max: 2 }], [], gaps);
    expect(h?.status).toBe("not-checked");
  });
});
