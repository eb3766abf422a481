import fc from "fast-check";
import type { Sql } from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyDecision, type OrderVersion, versionKey } from "../../../src/shop/domain/conflicts.ts";
import { formatHlc } from "../../../src/shop/domain/hlc.ts";
import type { CancelReason, OrderState } from "../../../src/shop/domain/order.ts";
import { applyOrderCopies, type OrderCopy } from "../../../src/shop/relay/order-copies.ts";
import { startTestDatabase, type TestDatabase } from "../../support/postgres.ts";

/**
 * The relay's apply statement resolves versions in SQL by migration 007's chaoscart_version_key;
 * every region must rank versions exactly as the pure rule does (src/shop/domain/conflicts.ts).
 */

let database: TestDatabase;
let sql: Sql;

beforeAll(async () => {
  database = await startTestDatabase();
  sql = database.sql;
});

afterAll(async () => {
  await database?.stop();
});

const STATES: OrderState[] = ["PENDING", "RESERVED", "PAID", "CONFIRMED", "CANCELLED"];
const REASONS: (CancelReason | null)[] = [
  null,
  "sold_out",
  "unknown_sku",
  "inventory_unavailable",
  "payment_declined",
  "payment_unavailable",
  "reservation_expired",
];
const PAYMENTS: OrderVersion["payment"][] = [null, "AUTHORIZED", "CAPTURED", "VOIDED", "REFUNDED"];

/** Every state, reason and payment, with HLCs and region names that sort near each other. */
function allVersions(): Omit<OrderVersion, "id">[] {
  const versions: Omit<OrderVersion, "id">[] = [];
  for (const state of STATES)
    for (const cancelReason of REASONS)
      for (const payment of PAYMENTS)
        for (const [hlc, region] of [
          ["000001700000000.000000", "east"],
          ["000001700000000.000001", "east-2"],
          ["000001699999999.999999", "west"],
        ] as const)
          versions.push({ state, cancelReason, payment, hlc, region });
  return versions;
}

describe("chaoscart_version_key (migration 007)", () => {
  it("builds the same key as versionKey() for every state, cancel reason and payment", async () => {
    const versions = allVersions();
    const rows = await sql<{ key: string }[]>`
      SELECT chaoscart_version_key(v.state, v.cancel_reason, v.payment, v.hlc, v.region) AS key
      FROM jsonb_to_recordset(${JSON.stringify(versions.map((v, n) => ({ ...v, cancel_reason: v.cancelReason, n })))}::text::jsonb)
        AS v(state text, cancel_reason text, payment text, hlc text, region text, n bigint)
      ORDER BY n`;
    expect(rows.map((r) => r.key)).toEqual(versions.map(versionKey));
  });

  it('orders keys in SQL (COLLATE "C") as JavaScript compares them', async () => {
    const keys = allVersions().map(versionKey);
    const rows = await sql<{ key: string }[]>`
      SELECT k AS key FROM unnest(${keys}::text[]) AS k ORDER BY k COLLATE "C"`;
    expect(rows.map((r) => r.key)).toEqual([...keys].sort());
  });
});

/** An order copy carrying `v` (the fields the rule does not read are fixed). */
function copyOf(id: string, v: Omit<OrderVersion, "id">): OrderCopy {
  return {
    id,
    userId: `user-${id}`,
    idemKey: `user-${id}:key`,
    homeRegion: "east",
    state: v.state,
    cancelReason: v.cancelReason,
    items: [],
    total: 100,
    hlc: "000000000000001.000000",
    versionHlc: v.hlc,
    versionRegion: v.region,
    createdAt: new Date(0),
    payment: v.payment && { state: v.payment, amount: 100, providerRef: null },
  };
}

describe("the relay's apply statement", () => {
  it("decides as applyDecision() does: which version stays, and whether it is a logged conflict", async () => {
    // Versions the orders table admits: a cancellation has its reason, a confirmation none.
    const version = fc
      .record({
        state: fc.constantFrom(...STATES),
        cancelReason: fc.constantFrom(...REASONS),
        payment: fc.constantFrom(...PAYMENTS),
        hlc: fc
          .record({ wallMs: fc.integer({ min: 0, max: 3 }), logical: fc.integer({ min: 0, max: 2 }) })
          .map(formatHlc),
        region: fc.constantFrom("east", "west"),
      })
      .filter((v) =>
        v.state === "CANCELLED"
          ? v.cancelReason !== null
          : v.state !== "CONFIRMED" || v.cancelReason === null,
      );
    let n = 0;
    let txid = 1;
    await fc.assert(
      fc.asyncProperty(version, version, async (held, incoming) => {
        const id = `decide-${++n}`;
        for (const v of [held, incoming])
          await applyOrderCopies(sql, {
            source: "decide",
            copies: [copyOf(id, v)],
            position: { txid: String(txid++), id: "1" },
            sourceAt: new Date(),
            resolvedBy: "test",
          });
        const decision = applyDecision({ id, ...held }, { id, ...incoming });
        const winner = decision.action === "replace" ? incoming : held;
        const [row] = await sql`
          SELECT o.state, o.cancel_reason AS "cancelReason", p.state AS payment, o.version_hlc AS hlc,
                 o.version_region AS region,
                 (SELECT count(*)::int FROM conflict_log WHERE order_id = o.id) AS logged
          FROM orders o LEFT JOIN payment p ON p.order_id = o.id WHERE o.id = ${id}`;
        expect(row).toEqual({ ...winner, logged: decision.action !== "insert" && decision.conflict ? 1 : 0 });
      }),
      { numRuns: 300 },
    );
  });
});
