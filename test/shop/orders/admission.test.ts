import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestDatabase, type TestDatabase } from "../../support/postgres.ts";
import { INTERNAL, startTestShop, type TestShop } from "../../support/shop.ts";

let database: TestDatabase;
let shop: TestShop;

beforeAll(async () => {
  database = await startTestDatabase();
  shop = await startTestShop(database.url, {
    CHAOSCART_ORDER_MAX_IN_FLIGHT: "3",
    CHAOSCART_PAYMENT_TIMEOUT_MS: "5000",
  });
});

afterAll(async () => {
  await shop?.close();
  await database?.stop();
});

it("refuses orders beyond the in-flight limit with 429 + Retry-After, writing nothing for them", async () => {
  await shop.seed([{ id: "ADMIT-1", stock: 100 }]);
  // Every saga waits 1.5 s on the provider, so the first orders are still in flight when the rest arrive.
  await shop.setPaymentFaults({ latencyMs: 1500 });
  const replies = await Promise.all(
    Array.from({ length: 8 }, async (_, i) => {
      const response = await fetch(`${shop.order.url}/orders`, {
        method: "POST",
        headers: { ...INTERNAL, "content-type": "application/json", "idempotency-key": `admit-key-${i}` },
        body: JSON.stringify({ userId: `u${i}`, items: [{ sku: "ADMIT-1", qty: 1 }] }),
      });
      return {
        key: `admit-key-${i}`,
        status: response.status,
        retryAfter: response.headers.get("retry-after"),
      };
    }),
  );
  await shop.setPaymentFaults({ latencyMs: 0 });
  const refused = replies.filter((r) => r.status === 429);
  const admitted = replies.filter((r) => r.status !== 429);
  expect(admitted).toHaveLength(3);
  expect(refused).toHaveLength(5);
  expect(refused.every((r) => r.retryAfter === "1")).toBe(true);
  const stored = await database.sql<{ idem_key: string }[]>`SELECT idem_key FROM orders`;
  expect(stored.map((r) => r.idem_key).sort()).toEqual(admitted.map((r) => r.key).sort());
});
