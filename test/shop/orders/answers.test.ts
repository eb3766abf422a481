// What POST /orders answers, as the README documents it: which line a 422 unknown_sku names, and
// when a 202 comes. Real PostgreSQL; the order service runs in this process.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { orderEnv, readEnv } from "../../../src/shop/config.ts";
import type { RunningService } from "../../../src/shop/http/listen.ts";
import { startOrderService } from "../../../src/shop/orders/service.ts";
import { startTestDatabase, type TestDatabase } from "../../support/postgres.ts";
import { INTERNAL, SERVICE_TOKEN, startTestShop, type TestShop } from "../../support/shop.ts";

let database: TestDatabase;
let shop: TestShop;

beforeAll(async () => {
  database = await startTestDatabase();
  shop = await startTestShop(database.url);
  await shop.seed([
    { id: "ANS-A", stock: 5 },
    { id: "ANS-B", stock: 5 },
  ]);
});

afterAll(async () => {
  await shop?.close();
  await database?.stop();
});

let keys = 0;
async function post(url: string, items: { sku: string; qty: number }[]) {
  const started = performance.now();
  const response = await fetch(`${url}/orders`, {
    method: "POST",
    headers: {
      ...INTERNAL,
      "content-type": "application/json",
      "idempotency-key": `answers-${Date.now()}-${++keys}`,
    },
    body: JSON.stringify({ userId: "u-answers", items }),
  });
  return {
    status: response.status,
    ms: performance.now() - started,
    location: response.headers.get("location"),
    body: (await response.json()) as Record<string, unknown>,
  };
}

describe("POST /orders: 422 unknown_sku", () => {
  it("names the line the client sent, not an index of the merged item list", async () => {
    // Merged and sorted, these lines are [AAA-NOPE, ANS-B ×2]: the unknown SKU would be index 0 there.
    const answer = await post(shop.order.url, [
      { sku: "ANS-B", qty: 1 },
      { sku: "ANS-B", qty: 1 },
      { sku: "AAA-NOPE", qty: 1 },
    ]);
    expect(answer.status).toBe(422);
    expect(answer.body).toMatchObject({ error: "unknown_sku", field: "body.items.2.sku" });
    expect(answer.body.message).toMatch(/body\.items\.2\.sku: unknown SKU AAA-NOPE/);

    const second = await post(shop.order.url, [
      { sku: "ZZZ-NOPE", qty: 1 },
      { sku: "ANS-B", qty: 1 },
      { sku: "ANS-B", qty: 1 },
    ]);
    expect(second.body).toMatchObject({ error: "unknown_sku", field: "body.items.0.sku" });
  });
});

describe("POST /orders: 202", () => {
  let lonely: RunningService;

  beforeAll(async () => {
    // An order service whose inventory is down (nothing listens on port 9): the saga cannot reserve,
    // decides to cancel, and cannot release either, so its driver stops early.
    lonely = await startOrderService(
      readEnv(orderEnv, {
        CHAOSCART_PORT: "0",
        CHAOSCART_LOG_LEVEL: "silent",
        CHAOSCART_SERVICE_TOKEN: SERVICE_TOKEN,
        CHAOSCART_DATABASE_URL: database.url,
        CHAOSCART_INVENTORY_URL: "http://127.0.0.1:9",
        CHAOSCART_PAYMENT_URL: shop.payment.url,
        CHAOSCART_ORDER_DEADLINE_MS: "20000",
        CHAOSCART_RECOVERY_INTERVAL_MS: "60000",
      }),
    );
  });

  afterAll(async () => {
    await lonely?.close();
  });

  it("comes at once, well before the deadline, when the saga stops early on an unavailable dependency", async () => {
    const answer = await post(lonely.url, [{ sku: "ANS-A", qty: 1 }]);
    expect(answer.status).toBe(202);
    expect(answer.ms).toBeLessThan(10_000); // the deadline is 20 s
    expect(answer.body).toMatchObject({ state: "PENDING" });
    expect(answer.location).toBe(`/orders/${answer.body.id}`);
    // Stored, with its cancellation already decided: the recovery loop finishes it.
    const [row] =
      await database.sql`SELECT state, cancel_reason FROM orders WHERE id = ${answer.body.id as string}`;
    expect(row).toMatchObject({ state: "PENDING", cancel_reason: "inventory_unavailable" });
  });
});
