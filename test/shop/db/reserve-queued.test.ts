// porsager/postgres#1195, patched in patches/postgres+3.4.9.patch: a reserve() queued for a busy pool
// whose connection then dies was handed to that connection's reconnect and dropped there; it never
// settled. In the lab this stalled an inventory lane for good after connection resets on its
// database link (its batches wait for a reserved connection): the order service's breaker kept
// reopening for 10-20 s after the fault healed, and the sale did not sell out. Real PostgreSQL; the
// connection dies by pg_terminate_backend.
import postgres, { type Sql } from "postgres";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createPool } from "../../../src/shop/db/pool.ts";
import { startTestDatabase, type TestDatabase } from "../../support/postgres.ts";

let database: TestDatabase;
beforeAll(async () => {
  database = await startTestDatabase();
});
afterAll(() => database?.stop());

const within = <T>(promise: Promise<T>, ms: number) =>
  Promise.race([promise, new Promise<"still waiting">((r) => setTimeout(() => r("still waiting"), ms))]);

/** Holds the pool's only connection reserved, queues a second reserve, then kills the first's backend. */
async function strandedReserve(sql: Sql): Promise<unknown> {
  const holder = await sql.reserve();
  const [{ pid }] = (await holder`SELECT pg_backend_pid() AS pid`) as unknown as [{ pid: number }];
  const reserving = sql.reserve();
  await new Promise((r) => setTimeout(r, 100)); // queued: the only connection is reserved
  await database.sql`SELECT pg_terminate_backend(${pid})`;
  await new Promise((r) => setTimeout(r, 200)); // the client sees its connection close
  holder.release();
  const reserved = await within(reserving, 5_000);
  if (reserved !== "still waiting") {
    const [{ one }] = (await reserved`SELECT 1 AS one`) as unknown as [{ one: number }];
    expect(one).toBe(1);
    reserved.release();
  }
  return reserved;
}

it("a reserve queued behind the pool's only connection gets a connection after that one dies", async () => {
  const pool = createPool(database.url, { max: 1 });
  try {
    expect(await strandedReserve(pool)).not.toBe("still waiting");
  } finally {
    await pool.end({ timeout: 1 });
  }
});

it("the same with postgres.js's default options, not only the shop's pool", async () => {
  const sql = postgres(database.url, { max: 1, onnotice: () => {} });
  try {
    expect(await strandedReserve(sql)).not.toBe("still waiting");
  } finally {
    await sql.end({ timeout: 1 });
  }
});
