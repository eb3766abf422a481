import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestDatabase, type TestDatabase } from "../../support/postgres.ts";
import { INTERNAL, startTestShop, type TestShop } from "../../support/shop.ts";

/**
 * A live driver keeps its orders however long a step takes (its recovery loop renews the leases),
 * so the lease itself can be short and a dead driver's orders are taken over within one lease.
 */

let database: TestDatabase;
let shop: TestShop;
const LEASE_MS = 1_000;

beforeAll(async () => {
  database = await startTestDatabase();
  shop = await startTestShop(database.url, {
    CHAOSCART_ORDER_LEASE_MS: String(LEASE_MS),
    CHAOSCART_RECOVERY_INTERVAL_MS: "200",
    CHAOSCART_PAYMENT_TIMEOUT_MS: "10000",
  });
});

afterAll(async () => {
  await shop?.close();
  await database?.stop();
});

it("renews the lease of an order whose step outlasts the lease, keeping it with its driver", async () => {
  await shop.seed([{ id: "LEASE-1", stock: 5 }]);
  await shop.setPaymentFaults({ latencyMs: 3 * LEASE_MS });
  try {
    const placing = fetch(`${shop.order.url}/orders`, {
      method: "POST",
      headers: { ...INTERNAL, "content-type": "application/json", "idempotency-key": "lease-order-1" },
      body: JSON.stringify({ userId: "lease-user", items: [{ sku: "LEASE-1", qty: 1 }] }),
    });
    await new Promise((r) => setTimeout(r, 2 * LEASE_MS)); // the authorize is still on its way
    const [order] = await database.sql<{ state: string; leaseHeld: boolean }[]>`
      SELECT state, lease_until > now() AS "leaseHeld" FROM orders WHERE idem_key = 'lease-order-1'`;
    expect(order).toMatchObject({ state: "RESERVED", leaseHeld: true });
    await placing;
  } finally {
    await shop.setPaymentFaults({ latencyMs: 0 });
  }
});
