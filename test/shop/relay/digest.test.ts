import postgres, { type Sql } from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "../../../src/shop/db/migrate.ts";
import {
  compareTable,
  differingBuckets,
  differingRows,
  ORDERS_DIGEST,
} from "../../../src/shop/relay/digest.ts";
import { startTestDatabase, type TestDatabase } from "../../support/postgres.ts";

/** Two "regions" as two databases of one test cluster, each with the shop schema. */
let database: TestDatabase;
let east: Sql;
let west: Sql;

beforeAll(async () => {
  database = await startTestDatabase();
  east = database.sql;
  await east`CREATE DATABASE west`;
  const url = new URL(database.url);
  url.pathname = "/west";
  west = postgres(url.toString(), { max: 2, onnotice: () => {} });
  await migrate(west);
});

afterAll(async () => {
  await west?.end({ timeout: 2 });
  await database?.stop();
});

async function insertOrders(sql: Sql, ids: readonly number[], state = "CONFIRMED") {
  for (const id of ids) {
    await sql`INSERT INTO orders (id, user_id, idem_key, request_hash, home_region, state, items, total, hlc)
              VALUES (${String(id)}, 'u', ${`key-${id}`}, 'h', 'east', ${state},
                      ${sql.json([{ sku: "A", qty: 1, price: 100 }])}, 100, '000000000000001.000000')`;
  }
}

describe("digest comparison (pure)", () => {
  it("names the buckets that differ or that one side lacks", () => {
    const a = new Map([
      [0, "x"],
      [1, "y"],
      [3, "q"],
    ]);
    const b = new Map([
      [0, "x"],
      [1, "z"],
      [2, "w"],
    ]);
    expect(differingBuckets(a, b)).toEqual([1, 2, 3]);
  });

  it("sorts rows into missing, unknown and differing", () => {
    const a = new Map([
      ["1", "a"],
      ["2", "b"],
      ["3", "c"],
    ]);
    const b = new Map([
      ["2", "b"],
      ["3", "X"],
      ["4", "d"],
    ]);
    expect(differingRows(a, b)).toEqual({ missingAtTarget: ["1"], unknownAtSource: ["4"], differing: ["3"] });
  });
});

describe("comparing a table between two databases", () => {
  it("finds no difference between equal tables, whatever the insert order", async () => {
    const ids = Array.from({ length: 40 }, (_, i) => 1_000 + i);
    await insertOrders(east, ids);
    await insertOrders(west, [...ids].reverse());
    // Local bookkeeping (leases) does not count.
    await west`UPDATE orders SET lease_owner = 'west-1', lease_until = now()`;
    const result = await compareTable(east, west, ORDERS_DIGEST, 16);
    expect(result.bucketsDiffering).toEqual([]);
  });

  it("finds every missing, extra and changed row, looking only into the buckets that differ", async () => {
    await west`DELETE FROM orders WHERE id = '1003'`;
    await west`UPDATE orders SET state = 'CANCELLED', cancel_reason = 'sold_out' WHERE id = '1007'`;
    await insertOrders(west, [9_999]);
    const result = await compareTable(east, west, ORDERS_DIGEST, 16);
    expect(result.rows).toEqual({
      missingAtTarget: ["1003"],
      unknownAtSource: ["9999"],
      differing: ["1007"],
    });
    expect(result.bucketsDiffering.length).toBeGreaterThan(0);
    expect(result.bucketsDiffering.length).toBeLessThanOrEqual(3);
  });
});
