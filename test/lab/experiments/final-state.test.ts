// The final-state reader against real PostgreSQL and the real payment simulator (issue 9 §8): one
// snapshot of the database, each source read on its own, the provider's view not filtered by the
// orders the shop has.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkInventoryLedger } from "../../../src/lab/checkers/inventory-ledger.ts";
import { checkMoney } from "../../../src/lab/checkers/money.ts";
import { isUnreadable, readFinalState } from "../../../src/lab/experiments/final-state.ts";
import { readEnv } from "../../../src/shop/config.ts";
import { SnowflakeGenerator } from "../../../src/shop/domain/ids.ts";
import type { RunningService } from "../../../src/shop/http/listen.ts";
import { paymentSimEnv } from "../../../src/shop/payments/config.ts";
import { startPaymentSimService } from "../../../src/shop/payments/service.ts";
import { startTestDatabase, type TestDatabase } from "../../support/postgres.ts";

const TOKEN = "final-state-test-token";
const SERVICE_TOKEN = "final-state-test-service-token";
let database: TestDatabase;
let provider: RunningService;
const ids = new SnowflakeGenerator(0, 1);

beforeAll(async () => {
  database = await startTestDatabase();
  provider = await startPaymentSimService(
    readEnv(paymentSimEnv, {
      CHAOSCART_PORT: "0",
      CHAOSCART_ADMIN_TOKEN: TOKEN,
      CHAOSCART_SERVICE_TOKEN: SERVICE_TOKEN,
      CHAOSCART_LOG_LEVEL: "silent",
    }),
  );
}, 120_000);

afterAll(async () => {
  await provider?.close();
  await database?.stop();
});

async function seedSku(sku: string, quota: number) {
  const { sql } = database;
  await sql`INSERT INTO sku (id, name) VALUES (${sku}, ${sku})`;
  await sql`INSERT INTO stock (sku_id, region, available, reserved, sold, quota)
            VALUES (${sku}, 'east', ${quota}, 0, 0, ${quota})`;
  await sql`INSERT INTO stock_movement (order_id, sku_id, region, kind, qty) VALUES (NULL, ${sku}, 'east', 'seed', ${quota})`;
}

async function insertOrder(id: string, key: string, sku: string) {
  await database.sql`
    INSERT INTO orders (id, user_id, idem_key, request_hash, home_region, state, items, total, hlc)
    VALUES (${id}, 'u-1', ${key}, 'h', 'east', 'PENDING', ${database.sql.json([{ sku, qty: 1 }])}, 500, '0')`;
}

const read = (skus: string[], since: Date, token = TOKEN) =>
  readFinalState({
    databaseUrl: database.url,
    region: "east",
    skus,
    since,
    keys: [],
    paymentUrl: provider.url,
    token,
  });

describe("readFinalState", () => {
  it("reads the inventory tables and the orders in one snapshot", async () => {
    await seedSku("SNAP-A", 10);
    const since = new Date();
    const orderId = ids.next();
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    // A reservation lands while the reader is part-way through: it holds the ledger table locked, the
    // reader blocks on it, and the reservation commits before the reader gets the table.
    const writer = database.sql.begin(async (tx) => {
      await tx`LOCK TABLE stock_movement IN ACCESS EXCLUSIVE MODE`;
      await released;
      await tx`INSERT INTO reservation (order_id, sku_id, region, qty, state, expires_at)
               VALUES (${orderId}, 'SNAP-A', 'east', 1, 'HELD', now() + interval '1 minute')`;
      await tx`INSERT INTO stock_movement (order_id, sku_id, region, kind, qty)
               VALUES (${orderId}, 'SNAP-A', 'east', 'reserve', 1)`;
      await tx`UPDATE stock SET available = available - 1, reserved = reserved + 1 WHERE sku_id = 'SNAP-A'`;
      await tx`INSERT INTO orders (id, user_id, idem_key, request_hash, home_region, state, items, total, hlc)
               VALUES (${orderId}, 'u-1', 'snap-k1', 'h', 'east', 'RESERVED',
                       ${tx.json([{ sku: "SNAP-A", qty: 1 }])}, 500, '0')`;
    });
    const reading = read(["SNAP-A"], since);
    for (let i = 0; ; i++) {
      const [row] = await database.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND relation = 'stock_movement'::regclass`;
      if (row?.n) break;
      if (i > 200) throw new Error("the reader never waited for the ledger table");
      await new Promise((r) => setTimeout(r, 25));
    }
    release();
    await writer;
    const final = await reading;
    if (isUnreadable(final.inventory) || isUnreadable(final.orders)) throw new Error("database unreadable");
    expect(checkInventoryLedger(final.inventory)).toEqual({ valid: true, problems: [] });
    // Everything as of one moment, before the reservation: no reservation, no order, no movement of it.
    expect(final.inventory.reservations).toEqual([]);
    expect(final.orders).toEqual([]);
  });

  it("reads a SKU split into stock buckets as one row, its figures summed", async () => {
    await seedSku("BUCKETS-A", 6);
    await database.sql`INSERT INTO stock (sku_id, region, bucket, available, reserved, sold, quota)
                       VALUES ('BUCKETS-A', 'east', 1, 2, 1, 1, 4)`;
    await database.sql`INSERT INTO stock_movement (order_id, sku_id, region, kind, qty)
                       VALUES (NULL, 'BUCKETS-A', 'east', 'seed', 4)`;
    const final = await read(["BUCKETS-A"], new Date());
    if (isUnreadable(final.inventory)) throw new Error("database unreadable");
    expect(final.inventory.stock).toEqual([
      { sku: "BUCKETS-A", available: 8, reserved: 1, sold: 1, quota: 10 },
    ]);
  });

  it("an unreadable provider leaves the database's sources readable", async () => {
    await seedSku("SRC-A", 5);
    const since = new Date();
    await insertOrder(ids.next(), "src-k1", "SRC-A");
    const final = await read(["SRC-A"], since, "not-the-token");
    expect(final.payments).toEqual({ error: expect.stringMatching(/payment provider: .*answered 401/) });
    expect(isUnreadable(final.orders) ? final.orders : final.orders.map((o) => o.idemKey)).toEqual([
      "src-k1",
    ]);
    expect(isUnreadable(final.inventory) ? final.inventory : final.inventory.stock.map((s) => s.sku)).toEqual(
      ["SRC-A"],
    );
  });

  it("keeps the provider's payments of orders the shop does not have, minted since the run started", async () => {
    const before = ids.next(); // an earlier run's order
    await new Promise((r) => setTimeout(r, 5));
    const since = new Date();
    const lost = ids.next();
    for (const orderId of [before, lost]) {
      const response = await fetch(`${provider.url}/payments/${orderId}/authorize`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${SERVICE_TOKEN}` },
        body: JSON.stringify({ amount: 700 }),
      });
      expect(response.status).toBeLessThan(300);
    }
    const final = await read([], since);
    if (isUnreadable(final.payments) || isUnreadable(final.orders)) throw new Error("unreadable");
    expect(final.payments.map((p) => p.orderId)).toEqual([lost]);
    expect(checkMoney(final.orders, final.payments).problems).toEqual([
      `open authorization of 700 for ${lost}, an order the shop does not have`,
    ]);
  });
});
