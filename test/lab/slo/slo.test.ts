import { describe, expect, it } from "vitest";
import type { PhaseWindow } from "../../../src/lab/run/result.ts";
import { completions } from "../../../src/lab/slo/completions.ts";
import { errorRate } from "../../../src/lab/slo/error-rate.ts";
import { latencySummary } from "../../../src/lab/slo/latency.ts";
import { sloByPhase } from "../../../src/lab/slo/phases.ts";
import { recoveryTimeMs } from "../../../src/lab/slo/recovery.ts";
import { timeline } from "../../../src/lab/slo/timeline.ts";
import { HistoryBuilder } from "./history-builder.ts";

describe("latencySummary", () => {
  it("p50/p99 from the HDR histogram within 0.1%, max exact, nulls for nothing", () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    const summary = latencySummary(values);
    expect(summary.p50Ms).toBeCloseTo(50, 1);
    expect(summary.p99Ms).toBeCloseTo(99, 1);
    expect(summary.maxMs).toBe(100);
    expect(latencySummary([0.25]).p50Ms).toBeCloseTo(0.25, 3);
    expect(latencySummary([])).toEqual({ p50Ms: null, p99Ms: null, maxMs: null });
  });
});

describe("completions", () => {
  it("places each op at its intended time and treats a missing completion as info", () => {
    const history = new HistoryBuilder().op("ok", 900, 1500).dangling(3000).nemesis("start", 100).build();
    const ops = completions(history);
    expect(ops).toHaveLength(2);
    expect(ops[0]).toMatchObject({ type: "ok", intended: 900, completed: 2400, latencyMs: 1500 });
    expect(ops[1]).toMatchObject({
      type: "info",
      intended: 3000,
      completed: undefined,
      latencyMs: undefined,
    });
  });
});

describe("timeline", () => {
  it("counts per second of intended time, fills empty seconds, and has per-second percentiles", () => {
    const history = new HistoryBuilder()
      .op("ok", 100, 10)
      .op("ok", 200, 30)
      .op("fail", 900, 20)
      // Intended in second 1 but completed in second 4: it belongs to second 1, with its long latency.
      .op("info", 1500, 2500)
      .op("ok", 3100, 5)
      .build();
    const buckets = timeline(history);
    expect(buckets.map((b) => b.second)).toEqual([0, 1, 2, 3]);
    expect(buckets[0]).toMatchObject({ second: 0, ok: 2, fail: 1, info: 0 });
    expect(buckets[0]?.p50Ms).toBeCloseTo(20, 1);
    expect(buckets[0]?.p99Ms).toBeCloseTo(30, 1);
    expect(buckets[1]).toMatchObject({ ok: 0, fail: 0, info: 1 });
    expect(buckets[1]?.p99Ms).toBeCloseTo(2500, -1);
    expect(buckets[2]).toEqual({ second: 2, ok: 0, fail: 0, info: 0, p50Ms: null, p99Ms: null });
    expect(buckets[3]).toMatchObject({ ok: 1 });
  });

  it("is empty for a history without client ops", () => {
    expect(timeline(new HistoryBuilder().nemesis("start", 5).build())).toEqual([]);
  });

  it("does not count an overloaded arrival's (absent) latency", () => {
    const history = new HistoryBuilder().op("info", 100, null, { error: "client overloaded" }).build();
    expect(timeline(history)).toEqual([{ second: 0, ok: 0, fail: 0, info: 1, p50Ms: null, p99Ms: null }]);
  });
});

describe("sloByPhase", () => {
  const phases: PhaseWindow[] = [
    { phase: "baseline", start: 0, end: 2000 },
    { phase: "fault", start: 2000, end: 4000 },
    { phase: "recovery", start: 4000, end: 6000 },
  ];

  it("availability, goodput and latency per phase; an empty phase has availability null", () => {
    const history = new HistoryBuilder()
      .op("ok", 100, 10) // CONFIRMED order: goodput
      .op("ok", 200, 20, { state: "CANCELLED" }) // available, but not goodput
      .op("ok", 300, 30, { kind: "catalog-read" }) // goodput
      .op("ok", 400, 40, { kind: "order-read", state: "PAID" }) // goodput
      .op("fail", 1990, 5)
      // Intended in the baseline, still running when the fault began: it met the fault.
      .op("info", 1990, 2000)
      // Intended in the fault, completed in recovery: stays in the fault window.
      .op("ok", 3900, 500)
      .build();
    const [baseline, fault, recovery] = sloByPhase(history, phases);
    expect(baseline).toMatchObject({ phase: "baseline", ok: 4, fail: 1, info: 0, goodputPerSec: 1.5 });
    expect(baseline?.availability).toBeCloseTo(4 / 5);
    expect(baseline?.maxMs).toBe(40);
    expect(baseline?.p50Ms).toBeCloseTo(20, 1);
    expect(fault).toMatchObject({ ok: 1, info: 1, availability: 0.5, maxMs: 2000 });
    for (const slo of [recovery]) {
      expect(slo).toMatchObject({ ok: 0, fail: 0, info: 0, availability: null, goodputPerSec: 0 });
      expect(slo).toMatchObject({ p50Ms: null, p99Ms: null, maxMs: null });
    }
  });

  it("counts a lost completion as info, and a zero-length phase has zero goodput", () => {
    const history = new HistoryBuilder().op("ok", 2100).dangling(2200).build();
    const [fault, empty] = sloByPhase(history, [
      { phase: "fault", start: 2000, end: 4000 },
      { phase: "settle", start: 4000, end: 4000 },
    ]);
    expect(fault).toMatchObject({ ok: 1, info: 1, availability: 0.5, goodputPerSec: 0.5 });
    expect(empty).toMatchObject({ availability: null, goodputPerSec: 0 });
  });
});

describe("recoveryTimeMs", () => {
  const baseline: PhaseWindow = { phase: "baseline", start: 0, end: 5000 };

  function run(afterFault: [ok: number, errors: number][]) {
    const builder = new HistoryBuilder();
    for (let s = 0; s < 5; s++) builder.second(s * 1000, 100, "ok");
    afterFault.forEach(([ok, errors], i) => {
      const from = 10_000 + i * 1000;
      builder.second(from, ok, "ok");
      builder.second(from + 1, errors, "info", 2000);
    });
    return builder.build();
  }

  it("is the start of the first 3 consecutive seconds back within 1 point of the baseline", () => {
    const history = run([
      [0, 100],
      [99, 1], // 0.99: within 1 point of 1.0
      [50, 50], // relapse: the streak starts over
      [100, 0],
      [99, 1],
      [100, 0],
      [100, 0],
    ]);
    expect(recoveryTimeMs(history, 10_000, baseline)).toBe(3000);
  });

  it("is 0 when the system is fine at once, and accepts a baseline rate", () => {
    const history = run([
      [100, 0],
      [100, 0],
      [100, 0],
    ]);
    expect(recoveryTimeMs(history, 10_000, baseline)).toBe(0);
    expect(recoveryTimeMs(history, 10_000, 1)).toBe(0);
    const [baselineSlo] = sloByPhase(history, [baseline]);
    expect(baselineSlo?.availability).toBe(1);
    expect(recoveryTimeMs(history, 10_000, baselineSlo ?? 0)).toBe(0);
  });

  it("needs the rate within the tolerance: 98.9% is not back from a 100% baseline", () => {
    const history = run([
      [989, 11],
      [989, 11],
      [989, 11],
    ]);
    expect(recoveryTimeMs(history, 10_000, baseline)).toBeNull();
    expect(recoveryTimeMs(history, 10_000, baseline, { tolerance: 0.02 })).toBe(0);
  });

  it("is null when it never recovers, or not for long enough", () => {
    expect(
      recoveryTimeMs(
        run([
          [10, 90],
          [20, 80],
          [30, 70],
          [40, 60],
        ]),
        10_000,
        baseline,
      ),
    ).toBeNull();
    expect(
      recoveryTimeMs(
        run([
          [0, 100],
          [100, 0],
          [100, 0],
        ]),
        10_000,
        baseline,
      ),
    ).toBeNull();
    expect(recoveryTimeMs(run([]), 10_000, baseline)).toBeNull();
  });

  it("does not count an empty second as recovered", () => {
    const history = run([
      [100, 0],
      [0, 0],
      [100, 0],
      [100, 0],
      [100, 0],
    ]);
    expect(recoveryTimeMs(history, 10_000, baseline)).toBe(2000);
  });

  it("measures from the fault's end, not from whole seconds of the run", () => {
    const builder = new HistoryBuilder();
    builder.second(0, 10, "ok");
    builder.second(10_000, 10, "info").second(10_500, 10, "info"); // still failing until 11 000
    for (let s = 11; s < 15; s++) builder.second(s * 1000, 10, "ok");
    // Fault ended at 10 500: the window [10 500, 11 500) still has failures, [11 500, …) is clean.
    expect(recoveryTimeMs(builder.build(), 10_500, { phase: "baseline", start: 0, end: 1000 })).toBe(1000);
  });

  it("is null when the baseline has no ops to compare with", () => {
    const history = run([
      [100, 0],
      [100, 0],
      [100, 0],
    ]);
    expect(recoveryTimeMs(history, 10_000, { phase: "baseline", start: 50_000, end: 60_000 })).toBeNull();
    const [empty] = sloByPhase(history, [{ phase: "baseline", start: 50_000, end: 60_000 }]);
    expect(recoveryTimeMs(history, 10_000, empty ?? 0)).toBeNull();
  });
});

describe("errorRate", () => {
  it("is the share of fail + info among ops completed in the window ending at a time", () => {
    const history = new HistoryBuilder()
      .op("ok", 0, 100) // completes at 100
      .op("fail", 1000, 100) // 1100
      .op("info", 1500, 1000) // 2500
      .op("ok", 2000, 600) // 2600
      .op("info", 2700, null, { error: "client overloaded" }) // 2700
      .dangling(2800) // in flight: not counted
      .build();
    expect(errorRate(history, 1000, 1100)).toBe(1); // (100, 1100]: the ok at 100 is just outside
    expect(errorRate(history, 1001, 1100)).toBe(0.5);
    expect(errorRate(history, 1000)).toBeCloseTo(2 / 3); // at the last op (2800): 2500, 2600, 2700
    expect(errorRate(history, 500, 2600)).toBe(0.5);
    expect(errorRate(history, 100_000)).toBeCloseTo(3 / 5);
    expect(errorRate(history, 100, 5000)).toBeNull();
    expect(errorRate([], 1000)).toBeNull();
  });
});

describe("the sold-out gate's refusals", () => {
  const gated = { error: "sold_out", status: 409 } as const;
  it("count as answers for availability, and not as errors for the guardrail", () => {
    const history = new HistoryBuilder()
      .op("ok", 100)
      .op("fail", 200, 10, gated)
      .op("fail", 300, 10, { error: "overloaded", status: 429 })
      .op("info", 400, 10, gated) // an earlier attempt may have placed the order: unknown
      .op("fail", 500, 10, { kind: "order-read", error: "sold_out", status: 409 }).ops;
    const [all] = sloByPhase(history, [{ phase: "baseline", start: 0, end: 1000 }]);
    expect(all).toMatchObject({ ok: 1, fail: 3, info: 1, availability: 2 / 5 });
    expect(errorRate(history, 1000, 1000)).toBe(3 / 5);
  });

  it("count as answers for recovery: a sale that sells out after the fault still recovers", () => {
    const builder = new HistoryBuilder();
    for (let s = 0; s < 5; s++) builder.second(s * 1000, 10, "ok");
    builder.second(10_000, 10, "info", 2000); // the first second after the fault: no answers
    for (let s = 11; s < 15; s++) {
      for (let i = 0; i < 10; i++) builder.op("fail", s * 1000 + i * 100, 5, gated); // sold out
    }
    expect(recoveryTimeMs(builder.build(), 10_000, { phase: "baseline", start: 0, end: 5000 })).toBe(1000);
  });
});
