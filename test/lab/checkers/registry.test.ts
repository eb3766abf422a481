// runChecks over hand-built final states: which checks run when a source is unreadable or nothing was
// observed, and the run's verdict when something asked for was not checked (issue 9 §4, §8).
import { describe, expect, it } from "vitest";
import { defineChecker, runChecker } from "../../../src/lab/checkers/checker.ts";
import { CHECKERS, runChecks } from "../../../src/lab/checkers/registry.ts";
import type { FinalState } from "../../../src/lab/experiments/final-state.ts";
import { CHECK_NAMES } from "../../../src/lab/experiments/schema.ts";
import type { ClientOp } from "../../../src/lab/history/op.ts";
import { verdictOf } from "../../../src/lab/run/result.ts";

const history: ClientOp[] = [
  {
    type: "invoke",
    id: 1,
    process: "client",
    kind: "order",
    time: 1,
    wall: 1,
    value: { idempotencyKey: "k1" },
  },
  {
    type: "ok",
    id: 1,
    process: "client",
    kind: "order",
    time: 2,
    wall: 2,
    value: { idempotencyKey: "k1", orderId: "1", state: "CONFIRMED" },
  },
  {
    type: "invoke",
    id: 2,
    process: "client",
    kind: "order",
    time: 3,
    wall: 3,
    value: { idempotencyKey: "k2", items: [{ sku: "A", qty: 1 }] },
  },
  {
    type: "ok",
    id: 2,
    process: "client",
    kind: "order",
    time: 4,
    wall: 4,
    value: { idempotencyKey: "k2", orderId: "2", state: "CANCELLED", cancelReason: "sold_out" },
  },
];

/**
 * One CONFIRMED order of the only unit of A, sold, committed and captured, and one refused sold_out
 * after it: every check passes.
 */
function consistent(): FinalState {
  return {
    skus: ["A"],
    orders: [
      {
        id: "1",
        idemKey: "k1",
        state: "CONFIRMED",
        total: 500,
        items: [{ sku: "A", qty: 1 }],
        stockReserved: true,
      },
      {
        id: "2",
        idemKey: "k2",
        state: "CANCELLED",
        total: 500,
        items: [{ sku: "A", qty: 1 }],
        stockReserved: false,
      },
    ],
    inventory: {
      stock: [{ sku: "A", available: 0, reserved: 0, sold: 1, quota: 1 }],
      reservations: [{ orderId: "1", sku: "A", qty: 1, state: "COMMITTED" }],
      movements: [
        { orderId: null, sku: "A", kind: "seed", qty: 1, at: 0 },
        { orderId: "1", sku: "A", kind: "reserve", qty: 1, at: 1 },
        { orderId: "1", sku: "A", kind: "commit", qty: 1, at: 2 },
      ],
    },
    payments: [{ orderId: "1", state: "CAPTURED", captures: 1, amount: 500 }],
  };
}

const statuses = (final: Parameters<typeof runChecks>[2]) =>
  Object.fromEntries(runChecks([...CHECK_NAMES], history, final).map((c) => [c.name, c.status]));

describe("runChecks", () => {
  it("passes every check on a consistent final state", () => {
    const checks = runChecks([...CHECK_NAMES], history, consistent());
    expect(checks.filter((c) => c.status !== "pass")).toEqual([]);
    expect(verdictOf(checks, [])).toBe("pass");
  });

  it("an unreadable provider makes only money not checked", () => {
    const final = {
      ...consistent(),
      payments: { error: "payment provider: GET /admin/payments answered 503" },
    };
    const result = statuses(final);
    expect(result.money).toBe("not-checked");
    expect(Object.entries(result).filter(([name]) => name !== "money")).toEqual(
      CHECK_NAMES.filter((n) => n !== "money").map((n) => [n, "pass"]),
    );
  });

  it("no stock row read while orders are CONFIRMED: the stock checks are not checked, never passed", () => {
    const final = { ...consistent(), inventory: { stock: [], reservations: [], movements: [] } };
    const result = statuses(final);
    for (const name of [
      "no-oversell",
      "conservation",
      "terminal-sagas",
      "order-coverage",
      "no-lost-reservation",
    ])
      expect(result[name], name).toBe("not-checked");
    expect(runChecks(["no-oversell"], history, final)[0]?.summary).toMatch(
      /no stock row read for 1 SKU\(s\) .*\(A\)/,
    );
    expect(result["no-lost-ack"]).toBe("pass");
  });

  it("a final state that could not be read at all: every check not checked, the verdict incomplete", () => {
    const checks = runChecks([...CHECK_NAMES], history, { error: "connect ECONNREFUSED" });
    expect(checks.every((c) => c.status === "not-checked")).toBe(true);
    expect(verdictOf(checks, [])).toBe("incomplete");
  });
});

describe("the checker protocol", () => {
  it("the schema's check names are the registry's", () => {
    expect([...CHECK_NAMES]).toEqual(CHECKERS.map((c) => c.name));
  });

  it("a checker that throws is not checked, with the error, and the others still run", () => {
    const broken = defineChecker({
      name: "broken",
      holds: "never",
      needs: ["orders"],
      check: () => {
        throw new Error("boom");
      },
    });
    const check = runChecker(broken, history, consistent());
    expect(check.status).toBe("not-checked");
    expect(check.summary).toContain("boom");
    expect(runChecks(["no-duplicate"], history, consistent())[0]?.status).toBe("pass");
  });

  it("a checker can answer unknown itself, never a pass", () => {
    const blind = defineChecker({
      name: "blind",
      holds: "-",
      needs: [],
      check: () => ({ notChecked: "nothing to see" }),
    });
    expect(runChecker(blind, history, consistent())).toMatchObject({
      status: "not-checked",
      summary: "not checked: nothing to see",
    });
  });

  it("an unknown check name is not checked", () => {
    expect(runChecks(["no-such"], history, consistent())[0]?.status).toBe("not-checked");
  });
});

describe("verdictOf", () => {
  const pass = { status: "pass" as const };
  const fail = { status: "fail" as const };
  const unknown = { status: "not-checked" as const };
  it("is pass only when everything asked for passed", () => {
    expect(verdictOf([pass], [pass])).toBe("pass");
    expect(verdictOf([pass, unknown], [pass])).toBe("incomplete");
    expect(verdictOf([pass], [unknown])).toBe("incomplete");
  });
  it("is fail when anything failed or the run was aborted, whatever else was not checked", () => {
    expect(verdictOf([fail, unknown], [])).toBe("fail");
    expect(verdictOf([pass], [fail])).toBe("fail");
    expect(verdictOf([pass], [pass], { reason: "interrupted", atMs: 1 })).toBe("fail");
  });
});
