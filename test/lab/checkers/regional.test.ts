// A run on two regions as the runner and `chaoscart check` judge it (registry.ts runChecks over a
// RegionalFinalState): the single-region checks per region on that region's users, the cross-region
// checks once, each failing on the mistake it exists for and "not checked" when it cannot see.
import { describe, expect, it } from "vitest";
import type { FinalState } from "../../../src/lab/checkers/observed.ts";
import { type RegionalFinalState, regionHistory } from "../../../src/lab/checkers/regional.ts";
import type { RegionOrder, RegionState } from "../../../src/lab/checkers/regions.ts";
import { CROSS_REGION_CHECK_NAMES, runChecks } from "../../../src/lab/checkers/registry.ts";
import type { ClientOp, HistoryOp } from "../../../src/lab/history/op.ts";
import { verdictOf } from "../../../src/lab/run/result.ts";
import { SlotTable } from "../../../src/shop/gateway/routing.ts";

const REGIONS = ["east", "west"];
const table = SlotTable.even(REGIONS);
function userIn(region: string, from = 0): string {
  for (let i = from; ; i++) if (table.regionForUser(`u-${i}`) === region) return `u-${i}`;
}
const EAST_USER = userIn("east");
const WEST_USER = userIn("west");

const op = (id: number, type: ClientOp["type"], value: ClientOp["value"]): ClientOp => ({
  type,
  id,
  process: "client",
  kind: "order",
  time: id,
  wall: id,
  value,
});

/** One order per region, each placed by a user homed there and confirmed. */
const history: HistoryOp[] = [
  op(1, "invoke", { idempotencyKey: "k1", userId: EAST_USER, items: [{ sku: "A", qty: 1 }] }),
  op(2, "invoke", { idempotencyKey: "k2", userId: WEST_USER, items: [{ sku: "A", qty: 1 }] }),
  op(1, "ok", { idempotencyKey: "k1", orderId: "1", state: "CONFIRMED" }),
  op(2, "ok", { idempotencyKey: "k2", orderId: "2", state: "CONFIRMED" }),
  { type: "start", process: "nemesis", nemesis: "partition", time: 1, wall: 1, detail: {} },
];

const finalOf = (id: string, key: string, region: string): FinalState => ({
  skus: ["A"],
  orders: [
    {
      id,
      idemKey: key,
      state: "CONFIRMED",
      region,
      total: 500,
      items: [{ sku: "A", qty: 1 }],
      stockReserved: true,
    },
  ],
  inventory: {
    stock: [{ sku: "A", available: 0, reserved: 0, sold: 1, quota: 1 }],
    reservations: [],
    movements: [],
  },
  payments: [{ orderId: id, state: "CAPTURED", captures: 1, amount: 500 }],
});

const regionOrder = (id: string, key: string, userId: string, home: string): RegionOrder => ({
  id,
  userId,
  idemKey: key,
  homeRegion: home,
  state: "CONFIRMED",
  cancelReason: null,
  total: 500,
  payment: "CAPTURED",
  versionHlc: "000000000001000.000000",
  versionRegion: home,
});

function converged(): RegionalFinalState {
  const orders = [regionOrder("1", "k1", EAST_USER, "east"), regionOrder("2", "k2", WEST_USER, "west")];
  const state = (name: string, id: string): RegionState => ({
    name,
    orders: orders.map((o) => ({ ...o })),
    conflicts: [],
    provider: [{ orderId: id, state: "CAPTURED", amount: 500 }],
  });
  return {
    regions: [
      { name: "east", final: finalOf("1", "k1", "east") },
      { name: "west", final: finalOf("2", "k2", "west") },
    ],
    crossRegion: [state("east", "1"), state("west", "2")],
  };
}

const CHECKS = ["no-duplicate", "no-lost-ack", ...CROSS_REGION_CHECK_NAMES];
const failing = (final: RegionalFinalState) =>
  runChecks(CHECKS, history, final)
    .filter((c) => c.status !== "pass")
    .map((c) => `${c.name}: ${c.status}`);
const states = (final: RegionalFinalState) => final.crossRegion as RegionState[];
const withCapture = (state: RegionState | undefined, orderId: string) => {
  if (state) state.provider = [...state.provider, { orderId, state: "CAPTURED", amount: 500 }];
};

describe("checks of a run on two regions", () => {
  it("split the history by the user's home region, keeping nemesis ops in each", () => {
    const east = regionHistory(history, "east", REGIONS);
    expect(
      east.filter((o) => o.process === "client").map((o) => (o as ClientOp).value.idempotencyKey),
    ).toEqual(["k1", "k1"]);
    expect(east.some((o) => o.process === "nemesis")).toBe(true);
  });

  it("run the single-region checks per region, named <region>/<check>, and the cross-region ones once", () => {
    const checks = runChecks(CHECKS, history, converged());
    expect(checks.map((c) => `${c.name}: ${c.status}`)).toEqual([
      "east/no-duplicate: pass",
      "west/no-duplicate: pass",
      "east/no-lost-ack: pass",
      "west/no-lost-ack: pass",
      "cross-region-unique-key: pass",
      "cross-region-converged: pass",
      "cross-region-money: pass",
      "conflicts-explained: pass",
    ]);
    expect(verdictOf(checks, [])).toBe("pass");
  });

  it("a single-region check fails in the region where it broke", () => {
    const final = converged();
    const west = final.regions[1]?.final as FinalState;
    west.orders = [];
    expect(failing(final)).toEqual(["west/no-lost-ack: fail"]);
  });

  it("a version missing or different in one region fails cross-region-converged, naming the order", () => {
    const final = converged();
    const [east, west] = states(final);
    if (!east || !west) throw new Error("two regions");
    west.orders = west.orders.filter((o) => o.id !== "1");
    east.orders = east.orders.map((o) => (o.id === "2" ? { ...o, total: 501 } : o));
    expect(failing(final)).toEqual(["cross-region-converged: fail"]);
    const [check] = runChecks(["cross-region-converged"], history, final);
    expect(check?.problems).toEqual([
      "order 1: missing in west",
      "order 2: regions hold different versions (east CONFIRMED/CAPTURED; west CONFIRMED/CAPTURED), differing in total: east 501, west 500",
    ]);
  });

  it("one key placed in both regions fails cross-region-unique-key", () => {
    const final = converged();
    for (const state of states(final)) {
      state.orders = [...state.orders, { ...regionOrder("3", "k1", EAST_USER, "west") }];
    }
    // The duplicate's capture, kept by west's provider, so that only the key is wrong.
    withCapture(states(final)[1], "3");
    expect(failing(final)).toEqual(["cross-region-unique-key: fail"]);
  });

  it("a capture in the other region's provider too fails cross-region-money", () => {
    const final = converged();
    withCapture(states(final)[1], "1");
    expect(failing(final)).toEqual(["cross-region-money: fail"]);
  });

  it("a version written outside the home region with no conflict logged fails conflicts-explained", () => {
    const final = converged();
    for (const state of states(final)) {
      state.orders = state.orders.map((o) => (o.id === "1" ? { ...o, versionRegion: "west" } : o));
    }
    expect(failing(final)).toEqual(["conflicts-explained: fail"]);
    for (const state of states(final)) state.conflicts = [{ kind: "concurrent-versions", orderId: "1" }];
    expect(failing(final)).toEqual([]);
  });

  it("are not checked when the regions could not be read, or in a single-region run", () => {
    const final = { ...converged(), crossRegion: { error: "database: connection refused" } };
    const checks = runChecks(CROSS_REGION_CHECK_NAMES, history, final);
    expect(checks.map((c) => c.status)).toEqual(CROSS_REGION_CHECK_NAMES.map(() => "not-checked"));
    expect(verdictOf(checks, [])).toBe("incomplete");
    const single = runChecks(["cross-region-converged"], history, finalOf("1", "k1", "east"));
    expect(single[0]?.summary).toBe("not checked: a single-region run: no other region to compare with");
  });
});
