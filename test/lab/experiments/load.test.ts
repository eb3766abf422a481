import { describe, expect, it } from "vitest";
import { capacityOf, nextStep, RAMP, type RampStep } from "../../../src/lab/experiments/capacity.ts";
import { evaluateHypotheses } from "../../../src/lab/experiments/hypotheses.ts";
import { orderShare, resolveLoad, usesCapacity } from "../../../src/lab/experiments/load.ts";
import { parseExperiment } from "../../../src/lab/experiments/loader.ts";
import { phaseWindows } from "../../../src/lab/experiments/schedule.ts";
import { builtInSuite } from "../../../src/lab/experiments/suite.ts";
import type { PhaseSlo } from "../../../src/lab/run/result.ts";

const relative = parseExperiment(
  `name: rel
description: relative load
workload: { rate: 40%, duration: 20s, hotSkus: 3, stockPerSku: 50%, multiItemShare: 0 }
hypothesis:
  - { metric: p99_ms, phase: fault, maxRatioToBaseline: 1.15 }
`,
  "rel.yaml",
).experiment;

describe("load relative to the measured capacity", () => {
  it("resolves `rate: 40%` to orders at 40 % of capacity, and stock to a share of the hot demand", () => {
    expect(usesCapacity(relative)).toBe(true);
    const load = resolveLoad(relative, 100);
    // Orders are 0.8 of the default mix: 40 orders/s means 50 arrivals/s.
    expect(load.rate).toBe(50);
    // 40 orders/s × 20 s × 0.9 hot / 3 SKUs = 240 units of each hot SKU; half of it is stocked.
    expect(load.hotDemandPerSku).toBeCloseTo(240);
    expect(load.stockPerSku).toBe(120);
    expect(load.capacity).toBe(100);
  });
  it("refuses a relative rate without a measured capacity", () => {
    expect(() => resolveLoad(relative, undefined)).toThrow(/capacity, which was not measured/);
  });
  /**
   * Experiments that run below the suite's 40 %, or never sell out, each with the reason written in its
   * file (the definition must say so): a deliberate, reviewed exception, not a drift.
   */
  const BELOW_40: Record<string, { reason: RegExp; sellsOut: boolean }> = {
    "db-latency": { reason: /not the suite's 40 %/, sellsOut: true },
    "reservation-expiry": { reason: /not the suite's 40 %/, sellsOut: true },
    "payment-brownout": { reason: /A fixed rate, not a share of capacity, and no sell-out/, sellsOut: false },
  };

  it("runs below 40 % of capacity, or without a sell-out, only where the experiment file says why", () => {
    for (const { experiment, source } of builtInSuite()) {
      const exception = BELOW_40[experiment.name];
      if (exception) expect(source, experiment.name).toMatch(exception.reason);
    }
  });

  it("every built-in experiment runs at ≥ 40 % of capacity and its demand exceeds its stock", () => {
    for (const { experiment } of builtInSuite()) {
      if (BELOW_40[experiment.name]) continue;
      for (const capacity of [20, 100, 400]) {
        const load = resolveLoad(experiment, capacity);
        const ordersPerSec = load.rate * orderShare(experiment.workload);
        expect(ordersPerSec / capacity, experiment.name).toBeGreaterThanOrEqual(0.399);
        expect(load.stockPerSku, experiment.name).toBeLessThan(0.75 * load.hotDemandPerSku);
      }
    }
  });
  it("every built-in experiment with faults sells out before its fault phase ends, at the expected rate", () => {
    for (const { experiment } of builtInSuite()) {
      if (BELOW_40[experiment.name]?.sellsOut === false) continue;
      const load = resolveLoad(experiment, 100);
      const soldOutAt = (load.stockPerSku / load.hotDemandPerSku) * experiment.workload.duration;
      const fault = phaseWindows(experiment).find((p) => p.phase === "fault");
      if (fault) expect(soldOutAt, experiment.name).toBeLessThanOrEqual(fault.end);
    }
  });
});

describe("capacity ramp", () => {
  const step = (offered: number, goodput: number, p99Ms = 50, errors = 0): RampStep => ({
    offered,
    goodput,
    p99Ms,
    errors,
  });
  it("raises the rate while goodput grows and p99 stays bounded", () => {
    expect(nextStep([])).toBe(RAMP.startRate);
    expect(nextStep([step(40, 40)])).toBe(72);
    expect(nextStep([step(40, 40), step(72, 71)])).toBe(130);
  });
  it("runs a step that would end the ramp once more, and ends it only if the repeat fails too", () => {
    const flat = [step(40, 40), step(72, 71), step(130, 75)];
    expect(nextStep(flat)).toBe(130);
    expect(nextStep([...flat, step(130, 74)])).toMatch(/goodput stopped growing at 130\/s .*\(twice\)/);
    expect(nextStep([...flat, step(130, 126)])).toBe(234);
    expect(capacityOf([...flat, step(130, 74)], "x").ordersPerSec).toBe(75);
    const slow = [step(40, 40), step(72, 60, 1_500)];
    expect(nextStep(slow)).toBe(72);
    expect(nextStep([...slow, step(72, 60, 1_600)])).toMatch(/p99 1600 ms > 1000 ms/);
    const refused = [step(40, 40), step(72, 60, 100, 10)];
    expect(nextStep(refused)).toBe(72);
    expect(nextStep([...refused, step(72, 60, 100, 10)])).toMatch(/10 errors at 72\/s/);
    expect(nextStep([...refused, step(72, 72)])).toBe(130);
  });
  it("counts rates, not repeats, against its step budget", () => {
    expect(nextStep([1, 2, 3, 4, 5].map((i) => step(i * 40, i * 40)))).toMatch(/still below the knee/);
    const withRepeat = [step(40, 40), step(72, 40, 1_500), step(72, 72), step(130, 130)];
    expect(nextStep(withRepeat)).toBe(234);
  });
});

describe("latency relative to the run's baseline", () => {
  const slo = (phase: PhaseSlo["phase"], p99Ms: number | null) => ({ phase, p99Ms }) as PhaseSlo;
  const [hypothesis] = relative.hypothesis;
  if (!hypothesis) throw new Error("fixture has a hypothesis");
  it("holds within the ratio, fails beyond it, says not checked without a baseline", () => {
    const held = evaluateHypotheses([hypothesis], [slo("baseline", 100), slo("fault", 110)], {});
    expect(held[0]).toMatchObject({ status: "pass", observed: 110 });
    expect(held[0]?.summary).toMatch(/1\.10× the baseline's 100, expected ≤ 1\.15×/);
    const failed = evaluateHypotheses([hypothesis], [slo("baseline", 100), slo("fault", 130)], {});
    expect(failed[0]?.status).toBe("fail");
    const alone = evaluateHypotheses([hypothesis], [slo("baseline", null), slo("fault", 130)], {});
    expect(alone[0]?.status).toBe("not-checked");
  });
  it("lets a small figure rise by its tolerance whatever the ratio, and no further", () => {
    const tolerant = { ...hypothesis, tolerance: 20 };
    const jitter = evaluateHypotheses([tolerant], [slo("baseline", 48.4), slo("fault", 61.7)], {});
    expect(jitter[0]?.status).toBe("pass");
    expect(jitter[0]?.summary).toMatch(/1\.27× .* or at most 20 above it/);
    const slowed = evaluateHypotheses([tolerant], [slo("baseline", 48.4), slo("fault", 70)], {});
    expect(slowed[0]?.status).toBe("fail");
    const large = evaluateHypotheses([tolerant], [slo("baseline", 400), slo("fault", 440)], {});
    expect(large[0]?.status).toBe("pass");
    expect(() =>
      parseExperiment(
        "name: t\ndescription: d\nhypothesis:\n  - { metric: p99_ms, phase: fault, max: 9, tolerance: 5 }\n",
        "t.yaml",
      ),
    ).toThrow(/tolerance needs maxRatioToBaseline/);
  });
});
