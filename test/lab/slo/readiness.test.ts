// Readiness hypotheses and failure kinds (issue 11 items 3 and 8) on hand-built histories.
import { describe, expect, it } from "vitest";
import { evaluateHypotheses } from "../../../src/lab/experiments/hypotheses.ts";
import { readOnlyWritesAfterRefusal } from "../../../src/lab/experiments/metrics.ts";
import type { NemesisOp, ProbeOp } from "../../../src/lab/history/op.ts";
import { describeFailureKind, failureKinds } from "../../../src/lab/slo/failures.ts";
import { readinessMeasurements, targetService } from "../../../src/lab/slo/readiness.ts";
import { HistoryBuilder } from "./history-builder.ts";

const NEMESIS = "readonly-endpoint east/order->primary";
const fault = (start: number, stop: number): NemesisOp[] => [
  { type: "start", process: "nemesis", nemesis: NEMESIS, time: start, wall: start, detail: {} },
  { type: "stop", process: "nemesis", nemesis: NEMESIS, time: stop, wall: stop, detail: {} },
];

/** `/readyz` samples of east/order every 300 ms over [0, until), `unready` in the given windows. */
function samples(until: number, unready: [number, number][], service = "east/order"): ProbeOp[] {
  const ops: ProbeOp[] = [];
  for (let time = 0; time < until; time += 300) {
    const down = unready.some(([a, b]) => time >= a && time < b);
    ops.push({
      type: "probe",
      process: "probe",
      service,
      endpoint: "readyz",
      status: down ? "down" : "up",
      httpStatus: down ? 503 : 200,
      time,
      wall: time,
    });
  }
  return ops;
}

const HYPOTHESES = [
  { metric: "unready_after_fault_ms" as const, max: 2000 },
  { metric: "ready_after_heal_ms" as const, max: 3000 },
];

describe("readiness hypotheses", () => {
  it("names the service a fault targets", () => {
    expect(targetService(NEMESIS)).toBe("east/order");
    expect(targetService("kill east/inventory")).toBe("east/inventory");
    expect(targetService("replica-lag east")).toBeUndefined();
  });

  it("hold when the write path turns unready during the fault and ready after the heal", () => {
    const m = readinessMeasurements(samples(20_000, [[8_900, 14_800]]), fault(8_000, 14_000));
    expect(m).toEqual({ unready_after_fault_ms: 1_000, ready_after_heal_ms: 1_000 });
    expect(evaluateHypotheses(HYPOTHESES, [], m).map((h) => h.status)).toEqual(["pass", "pass"]);
  });

  it("fail when readiness never goes red during the fault", () => {
    const m = readinessMeasurements(samples(20_000, []), fault(8_000, 14_000));
    expect(m.unready_after_fault_ms).toBe(Number.POSITIVE_INFINITY);
    const [unready] = evaluateHypotheses(HYPOTHESES, [], m);
    expect(unready?.status).toBe("fail");
    expect(unready?.summary).toContain("never");
  });

  it("fail when the service turns unready too late or stays unready after the heal", () => {
    const late = readinessMeasurements(samples(20_000, [[12_000, 14_500]]), fault(8_000, 14_000));
    expect(evaluateHypotheses(HYPOTHESES, [], late)[0]?.status).toBe("fail");
    const stuck = readinessMeasurements(samples(20_000, [[8_900, 30_000]]), fault(8_000, 14_000));
    expect(stuck.ready_after_heal_ms).toBe(Number.POSITIVE_INFINITY);
    expect(evaluateHypotheses(HYPOTHESES, [], stuck)[1]?.status).toBe("fail");
  });

  it("are not measured without samples of the targeted service (never a pass)", () => {
    const m = readinessMeasurements(samples(20_000, [], "east/inventory"), fault(8_000, 14_000));
    expect(m).toEqual({ unready_after_fault_ms: null, ready_after_heal_ms: null });
    expect(evaluateHypotheses(HYPOTHESES, [], m).map((h) => h.status)).toEqual([
      "not-checked",
      "not-checked",
    ]);
  });
});

describe("writes to a read-only endpoint after the first refusal", () => {
  const at = (first: number, afterRefusal: number) => ({
    lookups: 0,
    loads: 0,
    readOnly: { first, afterRefusal },
  });
  const bound = [{ metric: "readonly_writes_after_refusal" as const, max: 0 }];

  it("holds when only the first write was refused", () => {
    const m = { readonly_writes_after_refusal: readOnlyWritesAfterRefusal(at(0, 0), at(1, 0)) };
    expect(evaluateHypotheses(bound, [], m)[0]?.status).toBe("pass");
  });

  it("fails for a shop that keeps sending writes", () => {
    const m = { readonly_writes_after_refusal: readOnlyWritesAfterRefusal(at(0, 0), at(1, 37)) };
    expect(m.readonly_writes_after_refusal).toBe(37);
    expect(evaluateHypotheses(bound, [], m)[0]?.status).toBe("fail");
  });

  it("is not measured when the counters are missing or were reset", () => {
    expect(readOnlyWritesAfterRefusal(null, at(1, 0))).toBeNull();
    expect(readOnlyWritesAfterRefusal({ lookups: 0, loads: 0, readOnly: null }, at(1, 0))).toBeNull();
    expect(readOnlyWritesAfterRefusal(at(3, 9), at(0, 1))).toBeNull();
  });
});

describe("failure kinds", () => {
  it("groups failures and unknown outcomes by phase, status and error, with counts and an example op", () => {
    const h = new HistoryBuilder()
      .op("ok", 0, 10, { phase: "baseline" })
      .op("fail", 100, 10, { phase: "fault", error: "rate_limited" })
      .op("fail", 200, 10, { phase: "fault", error: "rate_limited" })
      .op("info", 300, 10, { phase: "fault", error: "timeout after 2000 ms" })
      .op("fail", 400, 10, { phase: "recovery", error: "rate_limited" })
      .dangling(500);
    // The builder records no status: set the 429s' and check both ways of grouping.
    for (const op of h.ops)
      if (op.process === "client" && op.value.error === "rate_limited") op.value.status = 429;
    const kinds = failureKinds(h.ops);
    expect(kinds).toEqual([
      {
        phase: "fault",
        outcome: "fail",
        kind: "order",
        status: 429,
        error: "rate_limited",
        count: 2,
        exampleOpId: 2,
      },
      {
        phase: "fault",
        outcome: "info",
        kind: "order",
        error: "timeout after 2000 ms",
        count: 1,
        exampleOpId: 4,
      },
      {
        phase: "recovery",
        outcome: "fail",
        kind: "order",
        status: 429,
        error: "rate_limited",
        count: 1,
        exampleOpId: 5,
      },
      {
        phase: "unknown",
        outcome: "info",
        kind: "order",
        error: "no completion recorded",
        count: 1,
        exampleOpId: 6,
      },
    ]);
    expect(kinds[0] && describeFailureKind(kinds[0])).toBe(
      "fault fail order 429 rate_limited ×2 (e.g. op 2)",
    );
  });

  it("is empty for a run without failures", () => {
    expect(failureKinds(new HistoryBuilder().op("ok", 0).op("ok", 10).ops)).toEqual([]);
  });

  it("leaves out the sold-out gate's refusals (answers), but not an unknown outcome that ended in one", () => {
    const h = new HistoryBuilder()
      .op("fail", 0, 10, { phase: "fault", error: "sold_out", status: 409 })
      .op("info", 10, 10, { phase: "fault", error: "sold_out", status: 409 });
    expect(failureKinds(h.ops)).toMatchObject([
      { outcome: "info", status: 409, error: "sold_out", count: 1 },
    ]);
  });
});
