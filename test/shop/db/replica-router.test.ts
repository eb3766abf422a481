import pino from "pino";
import postgres from "postgres";
import { Registry } from "prom-client";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ReplicaRouter } from "../../../src/shop/db/replica-router.ts";
import { lockWaiters, startTestDatabase, type TestDatabase } from "../../support/postgres.ts";

let database: TestDatabase;

beforeAll(async () => {
  database = await startTestDatabase();
});

afterAll(async () => {
  await database?.stop();
});

it("keeps one heartbeat write in flight while the primary stalls, not one per interval", async () => {
  const primary = postgres(database.url, { max: 10, onnotice: () => {} });
  // The same database stands in for the replica: only the primary's writes matter here.
  const replica = postgres(database.url, { max: 2, onnotice: () => {} });
  const router = new ReplicaRouter(
    primary,
    replica,
    { region: "east", maxStalenessMs: 500, heartbeatMs: 20 },
    pino({ level: "silent" }),
    new Registry(),
  );
  const waiting = () => lockWaiters(database.sql, "INSERT INTO replica_heartbeat");
  try {
    let stalled = -1;
    // The primary stalls: the heartbeat table is locked for 600 ms (30 heartbeat intervals).
    await database.sql.begin(async (tx) => {
      await tx`LOCK TABLE replica_heartbeat IN EXCLUSIVE MODE`;
      router.start();
      await new Promise((r) => setTimeout(r, 600));
      stalled = await waiting();
    });
    expect(stalled).toBe(1);
    await new Promise((r) => setTimeout(r, 200)); // unlocked: the heartbeat goes on
    expect(router.currentStalenessMs).toBeDefined();
  } finally {
    router.stop();
    await Promise.all([primary.end({ timeout: 2 }), replica.end({ timeout: 2 })]);
  }
});
