import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ASSERTION_FAILED, pipelinedTransaction } from "../../../src/shop/db/pipelined.ts";
import { createPool } from "../../../src/shop/db/pool.ts";
import { startTestDatabase, type TestDatabase } from "../../support/postgres.ts";

let database: TestDatabase;

beforeAll(async () => {
  database = await startTestDatabase();
  await database.sql`CREATE TABLE pipelined_probe (tag text PRIMARY KEY, at timestamptz NOT NULL)`;
});

afterAll(() => database?.stop());

const rowsTagged = (tag: string) => database.sql`SELECT tag FROM pipelined_probe WHERE tag = ${tag}`;

describe("pipelined transaction", () => {
  it("runs the first statements and the committed ones in one transaction", async () => {
    const began = await pipelinedTransaction(database.sql, async (tx, commitWith) => {
      const [[first]] = await Promise.all([tx<{ at: Date }[]>`SELECT now() AS at, pg_sleep(0.02)`]);
      // The COMMIT is created before these statements are awaited: they must still go out first.
      await commitWith([
        tx`SELECT pg_sleep(0.02)`,
        tx`INSERT INTO pipelined_probe (tag, at) VALUES ('one-transaction', now())`,
      ]);
      return first?.at;
    });
    const [row] = await database.sql<
      { at: Date }[]
    >`SELECT at FROM pipelined_probe WHERE tag = 'one-transaction'`;
    expect(row?.at).toEqual(began); // now() is the transaction's start: one transaction
  });

  it("writes nothing when an assertion ahead of the COMMIT fails", async () => {
    const failed = pipelinedTransaction(database.sql, async (tx, commitWith) => {
      await commitWith([
        tx`INSERT INTO pipelined_probe (tag, at) VALUES ('asserted', now())`,
        tx`SELECT chaoscart_assert(false, 'the plan went stale')`,
        tx`INSERT INTO pipelined_probe (tag, at) VALUES ('behind-the-assertion', now())`,
      ]);
    });
    await expect(failed).rejects.toMatchObject({ code: ASSERTION_FAILED, message: "the plan went stale" });
    expect(await rowsTagged("asserted")).toEqual([]);
    expect(await rowsTagged("behind-the-assertion")).toEqual([]);
  });

  it("commits when the body returns without commitWith, and rolls back when it throws", async () => {
    await pipelinedTransaction(database.sql, async (tx) => {
      await tx`INSERT INTO pipelined_probe (tag, at) VALUES ('implicit-commit', now())`;
    });
    expect(await rowsTagged("implicit-commit")).toHaveLength(1);
    await expect(
      pipelinedTransaction(database.sql, async (tx) => {
        await tx`INSERT INTO pipelined_probe (tag, at) VALUES ('thrown', now())`;
        throw new Error("changed my mind");
      }),
    ).rejects.toThrow("changed my mind");
    expect(await rowsTagged("thrown")).toEqual([]);
    // The connection went back to the pool outside any transaction.
    const [state] =
      await database.sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'idle in transaction'`;
    expect(state?.n).toBe(0);
  });
});

describe("a pipelined transaction whose connection dies", () => {
  it("fails, and the pool serves the next query on a new connection (no dead connection handed out again)", async () => {
    // One connection, so the next query can only go where the transaction's connection went.
    const db = createPool(database.url, { max: 1, applicationName: "pipelined-dies" });
    try {
      await db`SELECT 1`;
      const failed = pipelinedTransaction(db, async (tx) => {
        const [me] = await tx<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
        await database.sql`SELECT pg_terminate_backend(${me?.pid ?? 0})`;
        await tx`SELECT 1`;
      });
      const outcome = await Promise.race([
        failed.then(
          () => "committed",
          (error: { code?: string }) => error.code,
        ),
        new Promise((resolve) => setTimeout(() => resolve("still running after 5 s"), 5_000)),
      ]);
      expect(outcome).toMatch(/CONNECTION_CLOSED|ECONNRESET|57P01/);
      const next = await Promise.race([
        db<{ one: number }[]>`SELECT 1 AS one`.then(
          ([row]) => row?.one,
          (error: Error) => error.message,
        ),
        new Promise((resolve) => setTimeout(() => resolve("no answer within 5 s"), 5_000)),
      ]);
      expect(next).toBe(1);
    } finally {
      await db.end({ timeout: 1 });
    }
  });
});
