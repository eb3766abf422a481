import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPool, type Db } from "../../../src/shop/db/pool.ts";
import { startTestDatabase, type TestDatabase } from "../../support/postgres.ts";

let database: TestDatabase;
let pool: Db;

beforeAll(async () => {
  database = await startTestDatabase();
  pool = createPool(database.url, { max: 1, applicationName: "chaoscart-test" });
});

afterAll(async () => {
  await pool?.end();
  await database?.stop();
});

describe("service pool: session settings", () => {
  it("runs without JIT, whatever the server's default", async () => {
    // The server's default, as a session not opened by createPool sees it: the setting must be the pool's.
    const [server] = await database.sql<
      { jit: string }[]
    >`SELECT reset_val AS jit FROM pg_settings WHERE name = 'jit'`;
    expect(server?.jit).toBe("on");
    const [session] = await pool<{ jit: string }[]>`SHOW jit`;
    expect(session?.jit).toBe("off");
  });
});
