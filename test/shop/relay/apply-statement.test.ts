import type { Sql } from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPool, type Db } from "../../../src/shop/db/pool.ts";
import { formatHlc } from "../../../src/shop/domain/hlc.ts";
import type { OrderState } from "../../../src/shop/domain/order.ts";
import { applyOrderCopies, type OrderCopy } from "../../../src/shop/relay/order-copies.ts";
import { holdTransaction, startTestDatabase, type TestDatabase, tableScans } from "../../support/postgres.ts";

/**
 * How the relay's apply statement (order-copies.ts APPLY_BATCH) reaches the rows it changes: by
 * index, whatever the size of the region's tables, and in id order, whatever the batch's order.
 */

let database: TestDatabase;
const pools: Db[] = [];

beforeAll(async () => {
  database = await startTestDatabase();
});

afterAll(async () => {
  await Promise.all(pools.map((pool) => pool.end()));
  await database?.stop();
});

function pool(applicationName: string): Db {
  const created = createPool(database.url, { max: 1, applicationName });
  pools.push(created);
  return created;
}

const STEPS: OrderState[] = ["PENDING", "RESERVED", "PAID", "CONFIRMED"];

function copy(id: string, step: number, region = "east"): OrderCopy {
  return {
    id,
    userId: `user-${id}`,
    idemKey: `user-${id}:key`,
    homeRegion: region,
    state: STEPS[step] ?? "CONFIRMED",
    cancelReason: null,
    items: [{ sku: "S", qty: 1, price: 100 }],
    total: 100,
    hlc: formatHlc({ wallMs: 1, logical: 0 }),
    versionHlc: formatHlc({ wallMs: 1_000 + step, logical: 0 }),
    versionRegion: region,
    createdAt: new Date(0),
    payment:
      step >= 2 ? { state: step >= 3 ? "CAPTURED" : "AUTHORIZED", amount: 100, providerRef: null } : null,
  };
}

let position = 0;
function batch(source: string, copies: OrderCopy[]) {
  position += 1;
  return {
    source,
    copies,
    position: { txid: "1", id: String(position) },
    sourceAt: new Date(),
    resolvedBy: `test ${source}`,
  };
}

describe("the relay's apply statement", () => {
  it("reads the orders and payments it changes by index, never a scan, however many the region holds", async () => {
    await database.sql`
      INSERT INTO orders (id, user_id, idem_key, request_hash, home_region, state, items, total, hlc, created_at)
      SELECT 'held-' || g, 'user-held-' || g, 'user-held-' || g || ':key', '', 'east', 'CONFIRMED', '[]', 100,
             ${formatHlc({ wallMs: 1, logical: 0 })}, now()
      FROM generate_series(1, 3000) g`;
    await database.sql`
      INSERT INTO payment (order_id, state, amount) SELECT 'held-' || g, 'CAPTURED', 100 FROM generate_series(1, 3000) g`;
    await database.sql`ANALYZE orders`;
    await database.sql`ANALYZE payment`;
    const relay = await pool("chaoscart-relay-scan").reserve();
    const sequentialScans = async () => {
      const scans = await tableScans(relay as unknown as Sql, ["orders", "payment"]);
      return { orders: scans.orders?.seq, payment: scans.payment?.seq };
    };
    try {
      // Past the plan cache's first five executions: from then on the statement may run its
      // generic plan, which does not know how many copies a batch carries.
      for (let n = 0; n < 8; n++)
        await applyOrderCopies(
          relay as unknown as Db,
          batch("east", [copy(`warm-${n}`, 0), copy(`held-${n + 1}`, 3)]),
        );
      const before = await sequentialScans();
      for (let n = 0; n < 4; n++) {
        const step = 1 + (n % 3);
        await applyOrderCopies(
          relay as unknown as Db,
          batch("east", [copy(`warm-${n}`, step), copy(`new-${n}`, 0), copy(`held-${n + 100}`, step)]),
        );
      }
      expect(await sequentialScans()).toEqual(before);
    } finally {
      relay.release();
    }
  });

  it("locks orders in id order: two batches naming the same orders in opposite orders do not deadlock", async () => {
    // x < y. A holder keeps y; the batch naming y first queues for it before the other batch
    // starts. Locking in batch order, the first would then hold y and wait for x, which the
    // second took while waiting for y: a deadlock once the holder lets go.
    const [x, y] = ["lock-a", "lock-b"];
    await applyOrderCopies(database.sql, batch("east", [copy(x, 0), copy(y, 0)]));
    const first = pool("test-apply-first");
    const second = pool("test-apply-second");
    const holder = await holdTransaction(
      pool("test-holder"),
      (tx) => tx`SELECT 1 FROM orders WHERE id = ${y} FOR UPDATE`,
    );
    const waitingFor = async (applicationName: string) => {
      for (let attempt = 0; attempt < 500; attempt++) {
        const [row] = await database.sql`
          SELECT 1 FROM pg_stat_activity WHERE application_name = ${applicationName} AND wait_event_type = 'Lock'`;
        if (row) return;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      throw new Error(`${applicationName} never waited for a lock`);
    };
    const yFirst = applyOrderCopies(first, batch("north", [copy(y, 2, "north"), copy(x, 2, "north")]));
    await waitingFor("test-apply-first");
    const xFirst = applyOrderCopies(second, batch("south", [copy(x, 1, "south"), copy(y, 1, "south")]));
    await waitingFor("test-apply-second");
    await holder.commit();
    const outcomes = await Promise.allSettled([yFirst, xFirst]);
    expect(
      outcomes.map((outcome) => (outcome.status === "rejected" ? String(outcome.reason) : "applied")),
    ).toEqual(["applied", "applied"]);
  });
});
