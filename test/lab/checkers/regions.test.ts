import { describe, expect, it } from "vitest";
import {
  checkConflictsExplained,
  checkConverged,
  checkMoneyAcrossRegions,
  checkUniqueKeys,
  type RegionOrder,
  type RegionState,
} from "../../../src/lab/checkers/regions.ts";

/** Each check passes on converged regions and fails on a state that violates its invariant. */

const order = (id: string, home: string, over: Partial<RegionOrder> = {}): RegionOrder => ({
  id,
  userId: `user-${id}`,
  idemKey: `key-${id}`,
  homeRegion: home,
  state: "CONFIRMED",
  cancelReason: null,
  total: 500,
  payment: "CAPTURED",
  versionHlc: "000000000001000.000000",
  versionRegion: home,
  ...over,
});

function converged(): RegionState[] {
  const orders = [
    order("1", "east"),
    order("2", "west"),
    order("3", "east", { state: "CANCELLED", cancelReason: "payment_declined", payment: null }),
  ];
  return [
    { name: "east", orders, conflicts: [], provider: [{ orderId: "1", state: "CAPTURED", amount: 500 }] },
    {
      name: "west",
      orders: orders.map((o) => ({ ...o })),
      conflicts: [],
      provider: [{ orderId: "2", state: "CAPTURED", amount: 500 }],
    },
  ];
}

describe("cross-region checks", () => {
  it("all pass on converged regions", () => {
    for (const check of [checkUniqueKeys, checkConverged, checkMoneyAcrossRegions, checkConflictsExplained]) {
      expect(check(converged())).toEqual({ valid: true, problems: [] });
    }
  });

  it("unique key: two orders for one user and key, one per region", () => {
    const [east, west] = converged() as [RegionState, RegionState];
    const twin = order("9", "west", { userId: "user-1", idemKey: "key-1" });
    west.orders = [...west.orders, twin];
    expect(checkUniqueKeys([east, west]).problems).toEqual(["user user-1 key key-1: 2 orders (1, 9)"]);
  });

  it("converged: an order missing in a region, or held in two versions", () => {
    const [east, west] = converged() as [RegionState, RegionState];
    west.orders = west.orders
      .filter((o) => o.id !== "2")
      .map((o) => (o.id === "1" ? { ...o, state: "PAID" } : o));
    expect(checkConverged([east, west]).problems).toEqual([
      "order 1: regions hold different versions (east CONFIRMED/CAPTURED; west PAID/CAPTURED), differing in state: east CONFIRMED, west PAID",
      "order 2: missing in west",
    ]);
  });

  it("money: a capture in both regions' providers, and one for an order its home cancelled", () => {
    const [east, west] = converged() as [RegionState, RegionState];
    west.provider = [
      ...west.provider,
      { orderId: "1", state: "CAPTURED", amount: 500 },
      { orderId: "3", state: "CAPTURED", amount: 500 },
    ];
    expect(checkMoneyAcrossRegions([east, west]).problems).toEqual([
      "order 1 (CONFIRMED in east): providers keep 1000, expected 500",
      "order 3 (CANCELLED in east): providers keep 500, expected 0",
    ]);
  });

  it("conflicts explained: a version from outside the home region with nothing logged", () => {
    const [east, west] = converged() as [RegionState, RegionState];
    const stale = (o: RegionOrder) => (o.id === "3" ? { ...o, versionRegion: "west" } : o);
    east.orders = east.orders.map(stale);
    west.orders = west.orders.map(stale);
    expect(checkConflictsExplained([east, west]).problems).toEqual([
      "order 3: a version written outside its home region, with no conflict logged",
    ]);
    east.conflicts = [
      { kind: "concurrent-versions", orderId: "3" },
      { kind: "concurrent-versions", orderId: "404" },
    ];
    expect(checkConflictsExplained([east, west]).problems).toEqual([
      "east: conflict log names order 404, which no region has",
    ]);
  });
});
