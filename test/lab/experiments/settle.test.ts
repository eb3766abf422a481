// The settle window: wait at least the settle time, longer while sagas are still ending, give up
// when they stop ending (stuck) or at the hard limit. A virtual clock, no database.
import { describe, expect, it } from "vitest";
import { describeSettle, waitForSagas } from "../../../src/lab/experiments/settle.ts";

/** A virtual clock: sleep advances it; `inFlight(t)` says how many orders are in flight at t. */
function scenario(inFlight: (t: number) => number) {
  let t = 0;
  const looks: number[] = [];
  return {
    looks,
    options: {
      now: () => t,
      sleep: async (ms: number) => {
        t += ms;
      },
      inFlight: async () => {
        looks.push(t);
        return inFlight(t);
      },
    },
  };
}

describe("settle", () => {
  it("waits the settle time even when nothing is in flight", async () => {
    const s = scenario(() => 0);
    const outcome = await waitForSagas({ ...s.options, settleMs: 5_000 });
    expect(outcome).toMatchObject({ settled: true, reason: "settled", inFlight: 0 });
    expect(outcome.waitedMs).toBeGreaterThanOrEqual(5_000);
    expect(outcome.waitedMs).toBeLessThan(6_000);
  });

  it("keeps waiting past 45 s while orders are still ending (a slow recovery is not a stuck one)", async () => {
    // 181 orders in flight, one ends every 400 ms: all done after ~72 s.
    const s = scenario((t) => Math.max(0, 181 - Math.floor(t / 400)));
    const outcome = await waitForSagas({ ...s.options, settleMs: 5_000 });
    expect(outcome).toMatchObject({ settled: true, reason: "settled", inFlight: 0, inFlightAtStart: 176 });
    expect(outcome.waitedMs).toBeGreaterThan(45_000);
    expect(describeSettle(outcome)).toMatch(/^settled in 72\.\d s \(176 order\(s\) in flight/);
  });

  it("gives up at 45 s, as before, when no order ends at all", async () => {
    const s = scenario(() => 181);
    const outcome = await waitForSagas({ ...s.options, settleMs: 5_000 });
    expect(outcome).toMatchObject({ settled: false, reason: "stalled", inFlight: 181 });
    expect(outcome.waitedMs).toBeGreaterThanOrEqual(45_000);
    expect(outcome.waitedMs).toBeLessThan(46_000);
    expect(describeSettle(outcome)).toContain("181 order(s) still in flight");
  });

  it("gives up once orders stop ending for the stall time", async () => {
    // Progress until 50 s (down to 81), then stuck: gives up 30 s after the last progress.
    const s = scenario((t) => Math.max(81, 181 - Math.floor(t / 500)));
    const outcome = await waitForSagas({ ...s.options, settleMs: 5_000 });
    expect(outcome).toMatchObject({ settled: false, reason: "stalled", inFlight: 81 });
    expect(outcome.waitedMs).toBeGreaterThanOrEqual(80_000);
    expect(outcome.waitedMs).toBeLessThan(81_000);
  });

  it("never waits beyond the limit", async () => {
    // One order ends every 2 s, forever.
    const s = scenario((t) => 1_000 - Math.floor(t / 2_000));
    const outcome = await waitForSagas({ ...s.options, settleMs: 5_000, limitMs: 120_000 });
    expect(outcome).toMatchObject({ settled: false, reason: "limit" });
    expect(outcome.waitedMs).toBeGreaterThanOrEqual(120_000);
    expect(outcome.waitedMs).toBeLessThan(121_000);
  });

  it("waits an experiment's own long settle time before giving up", async () => {
    const s = scenario(() => 3);
    const outcome = await waitForSagas({ ...s.options, settleMs: 60_000 });
    expect(outcome.reason).toBe("stalled");
    expect(outcome.waitedMs).toBeGreaterThanOrEqual(60_000);
  });
});
