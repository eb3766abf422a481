import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { orderEnv, readEnv } from "../../../src/shop/config.ts";
import type { RunningService } from "../../../src/shop/http/listen.ts";
import { startOrderService } from "../../../src/shop/orders/service.ts";
import { startTestDatabase, type TestDatabase } from "../../support/postgres.ts";
import { INTERNAL, SERVICE_TOKEN, startTestShop, type TestShop } from "../../support/shop.ts";

let database: TestDatabase;
let shop: TestShop;
let replica: postgres.Sql;

beforeAll(async () => {
  database = await startTestDatabase({ replica: true, replication: "async" });
  const replicaUrl = database.cluster.replica?.url as string;
  replica = postgres(replicaUrl, { max: 2, onnotice: () => {} });
  shop = await startTestShop(database.url, {
    CHAOSCART_REPLICA_URL: replicaUrl,
    CHAOSCART_REPLICA_MAX_STALENESS_MS: "500",
    CHAOSCART_REPLICA_HEARTBEAT_MS: "100",
    CHAOSCART_INVENTORY_TIMEOUT_MS: "5000",
  });
  await shop.seed([{ id: "REPL-1", stock: 10 }]);
});

afterAll(async () => {
  if (replica) await replica`SELECT pg_wal_replay_resume()`.catch(() => {});
  await replica?.end({ timeout: 1 });
  await shop?.close();
  await database?.stop();
});

const LAB_TOKEN = "readonly-test-lab-token";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function order(userId: string, key = `k-${userId}-${Date.now()}`) {
  const response = await fetch(`${shop.order.url}/orders`, {
    method: "POST",
    headers: { ...INTERNAL, "content-type": "application/json", "idempotency-key": key },
    body: JSON.stringify({ userId, items: [{ sku: "REPL-1", qty: 1 }] }),
  });
  const body = (await response.json()) as { id: string; state: string; error?: string };
  if (body.id) owners.set(body.id, userId);
  return { status: response.status, body };
}

/** Order id → the user who placed it (an order is read back by its owner only). */
const owners = new Map<string, string>();

async function read(id: string, consistency?: "strong") {
  const response = await fetch(`${shop.order.url}/orders/${id}`, {
    headers: {
      ...INTERNAL,
      "x-user-id": owners.get(id) ?? "",
      ...(consistency ? { "x-consistency": consistency } : {}),
    },
  });
  return {
    servedBy: response.headers.get("x-served-by"),
    staleness: Number(response.headers.get("x-staleness-ms")),
    body: await response.json(),
  };
}

describe("replica-aware reads", () => {
  it("serves reads from a fresh replica, the primary for read-your-writes, and the primary while replay is paused", async () => {
    const placed = await order("fresh");
    expect(placed.body.state).toBe("CONFIRMED");
    await database.cluster.waitForReplicaCatchUp(10_000);
    await sleep(300);
    const fromReplica = await read(placed.body.id);
    expect(fromReplica.servedBy).toBe("replica");
    expect(fromReplica.staleness).toBeLessThanOrEqual(500);
    expect((await read(placed.body.id, "strong")).servedBy).toBe("primary");

    await replica`SELECT pg_wal_replay_pause()`;
    try {
      await sleep(1_200); // staleness grows past the 500 ms bound while the primary keeps writing heartbeats
      const paused = await read(placed.body.id);
      expect(paused.servedBy).toBe("primary");
      // Stock decisions never used the replica: orders placed now still sell exactly what is left.
      const results = await Promise.all(Array.from({ length: 15 }, (_, i) => order(`paused-${i}`)));
      const confirmed = results.filter((r) => r.body.state === "CONFIRMED").length;
      expect(confirmed).toBe(9); // 10 units, one sold above
      const [stock] = await database.sql`SELECT available, sold FROM stock WHERE sku_id = 'REPL-1'`;
      expect(stock).toMatchObject({ available: 0, sold: 10 });
      // The paused replica still shows the old stock: deciding from it would have oversold.
      const [stale] = await replica`SELECT sold FROM stock WHERE sku_id = 'REPL-1'`;
      expect(stale?.sold).toBe(1);
    } finally {
      await replica`SELECT pg_wal_replay_resume()`;
    }
    await database.cluster.waitForReplicaCatchUp(10_000);
    await sleep(400);
    expect((await read(placed.body.id)).servedBy).toBe("replica");
  });
});

describe("read-only write endpoint", () => {
  it("refuses to become ready when the write endpoint is the replica, and says why", async () => {
    let service: RunningService | undefined;
    try {
      service = await startOrderService(
        readEnv(orderEnv, {
          CHAOSCART_DATABASE_URL: database.cluster.replica?.url,
          CHAOSCART_PORT: "0",
          CHAOSCART_LOG_LEVEL: "silent",
          CHAOSCART_INVENTORY_URL: shop.inventory.url,
          CHAOSCART_PAYMENT_URL: shop.payment.url,
          CHAOSCART_SERVICE_TOKEN: SERVICE_TOKEN,
          CHAOSCART_LAB_TOKEN: LAB_TOKEN,
        }),
      );
      const ready = await fetch(`${service.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { reason: string }).reason).toMatch(
        /CHAOSCART_DATABASE_URL points at a read-only server \(pg_is_in_recovery\(\) = true\)/,
      );
      const started = performance.now();
      const write = await fetch(`${service.url}/orders`, {
        method: "POST",
        headers: { ...INTERNAL, "content-type": "application/json", "idempotency-key": "readonly-key-1" },
        body: JSON.stringify({ userId: "ro", items: [{ sku: "REPL-1", qty: 1 }] }),
      });
      expect(write.status).toBe(503);
      expect(await write.json()).toMatchObject({ error: "read_only_endpoint" });
      expect(performance.now() - started).toBeLessThan(3_000); // refused at once, not after the 5 s connect timeout
      // The lab routes are outside the write guard's context: the lab reaches a read-only service.
      const lab = await fetch(`${service.url}/lab/clock`, {
        method: "PUT",
        headers: { authorization: `Bearer ${LAB_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ offsetMs: 5 }),
      });
      expect(lab.status).toBe(200);
      expect(await lab.json()).toMatchObject({ offsetMs: 5 });
    } finally {
      await service?.close();
    }
  });

  it("detects a primary turning read-only at run time, fails writes fast, and recovers when it is writable again", async () => {
    await shop.seed([{ id: "RO-1", stock: 5 }]);
    await database.sql`ALTER SYSTEM SET default_transaction_read_only = on`;
    await database.sql`SELECT pg_reload_conf()`;
    const key = `ro-runtime-${Date.now()}`;
    try {
      await sleep(200);
      const body = JSON.stringify({ userId: "rt", items: [{ sku: "RO-1", qty: 1 }] });
      const post = () =>
        fetch(`${shop.order.url}/orders`, {
          method: "POST",
          headers: { ...INTERNAL, "content-type": "application/json", "idempotency-key": key },
          body,
        });
      const first = await post();
      expect(first.status).toBe(503);
      expect(first.headers.get("retry-after")).toBe("1");
      const ready = await fetch(`${shop.order.url}/readyz`);
      expect(ready.status).toBe(503);
      // Refused at once from now on: the guard counts one read-only error, and no write after it.
      expect((await post()).status).toBe(503);
      const metrics = await (await fetch(`${shop.order.url}/metrics`)).text();
      expect(metrics).toMatch(
        /chaoscart_write_guard_readonly_errors_total\{when="first",service="order"\} 1\n/,
      );
      expect(metrics).toMatch(
        /chaoscart_write_guard_readonly_errors_total\{when="after_refusal",service="order"\} 0\n/,
      );
    } finally {
      await database.sql`ALTER SYSTEM RESET default_transaction_read_only`;
      await database.sql`SELECT pg_reload_conf()`;
    }
    // The guard re-checks and the client's retry with the same key goes through.
    const deadline = Date.now() + 10_000;
    while ((await fetch(`${shop.order.url}/readyz`)).status !== 200 && Date.now() < deadline)
      await sleep(200);
    expect((await fetch(`${shop.order.url}/readyz`)).status).toBe(200);
    const retry = await fetch(`${shop.order.url}/orders`, {
      method: "POST",
      headers: { ...INTERNAL, "content-type": "application/json", "idempotency-key": key },
      body: JSON.stringify({ userId: "rt", items: [{ sku: "RO-1", qty: 1 }] }),
    });
    expect(retry.status).toBe(201);
    expect(await retry.json()).toMatchObject({ state: "CONFIRMED" });
  });
});
