// The cross-region checks judge one run's orders, as the single-region ones do: on a two-region lab
// shared with the capacity ramp (or an earlier experiment), what those left behind is not the run's.
import { describe, expect, it } from "vitest";
import type { RegionOrder } from "../../../src/lab/checkers/regions.ts";
import { scopeToRun } from "../../../src/lab/experiments/region-state.ts";
import { encode } from "../../../src/shop/domain/ids.ts";

const START = Date.UTC(2026, 5, 1, 12);
const idAt = (ms: number, sequence = 0) => encode({ timestampMs: ms, region: 0, worker: 0, sequence });
const order = (id: string, idemKey: string): RegionOrder => ({
  id,
  userId: "u-1",
  idemKey,
  homeRegion: "east",
  state: "CONFIRMED",
  cancelReason: null,
  total: 500,
  payment: "CAPTURED",
  versionHlc: "000000000001000.000000",
  versionRegion: "east",
});

describe("a region's state limited to one run", () => {
  it("keeps the orders minted since it started or named by it, their conflicts and provider records", () => {
    const before = idAt(START - 60_000);
    const namedBefore = idAt(START - 30_000);
    const keyedBefore = idAt(START - 20_000);
    const during = idAt(START + 5_000);
    const scoped = scopeToRun(
      {
        name: "east",
        orders: [
          order(before, "ramp-1"),
          order(namedBefore, "old-2"),
          order(keyedBefore, "run-3"),
          order(during, "run-4"),
        ],
        conflicts: [
          { kind: "concurrent-versions", orderId: before },
          { kind: "concurrent-versions", orderId: during },
        ],
        provider: [
          { orderId: before, state: "CAPTURED", amount: 500 },
          { orderId: during, state: "CAPTURED", amount: 500 },
          // A payment of an order no region has, minted during the run: exactly what money looks for.
          { orderId: idAt(START + 6_000), state: "CAPTURED", amount: 700 },
        ],
      },
      { since: new Date(START), keys: ["run-3", "run-4"], orderIds: [namedBefore] },
    );
    expect(scoped.orders.map((o) => o.idemKey)).toEqual(["old-2", "run-3", "run-4"]);
    expect(scoped.conflicts.map((c) => c.orderId)).toEqual([during]);
    expect(scoped.provider.map((p) => p.amount)).toEqual([500, 700]);
    expect(scoped.provider[0]?.orderId).toBe(during);
  });
});
