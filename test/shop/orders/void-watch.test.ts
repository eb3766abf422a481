import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestDatabase, type TestDatabase } from "../../support/postgres.ts";
import { ADMIN_TOKEN, INTERNAL, startTestShop, type TestShop } from "../../support/shop.ts";

/**
 * No cancelled order keeps an authorization open at the provider (issue: stock and money defects,
 * §3). The provider applies an authorize after the shop gave up on it — as real providers do — and
 * the shop's first void either fails or comes too early to find it.
 */

let database: TestDatabase;
let shop: TestShop;
const WINDOW_MS = 4_000;

beforeAll(async () => {
  database = await startTestDatabase();
  shop = await startTestShop(database.url, {
    CHAOSCART_PAYMENT_TIMEOUT_MS: "300",
    CHAOSCART_PAYMENT_MAX_ATTEMPTS: "1",
    CHAOSCART_LATE_AUTHORIZATION_WINDOW_MS: String(WINDOW_MS),
  });
});

afterAll(async () => {
  await shop?.close();
  await database?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function providerState(orderId: string): Promise<string | undefined> {
  const response = await fetch(`${shop.payment.url}/admin/payments`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  const { payments } = (await response.json()) as { payments: { orderId: string; state: string }[] };
  return payments.find((p) => p.orderId === orderId)?.state;
}

async function placeOrder(sku: string, user: string) {
  const response = await fetch(`${shop.order.url}/orders`, {
    method: "POST",
    headers: { ...INTERNAL, "content-type": "application/json", "idempotency-key": `void-${sku}-${user}` },
    body: JSON.stringify({ userId: user, items: [{ sku, qty: 1 }] }),
  });
  return (await response.json()) as { id: string; state: string; cancelReason?: string };
}

/** Polls until the provider's record of the order is no longer AUTHORIZED (or the time is up). */
async function settledAtProvider(orderId: string, timeoutMs: number): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  let state = await providerState(orderId);
  while (Date.now() < deadline && (state === undefined || state === "AUTHORIZED")) {
    await sleep(200);
    state = await providerState(orderId);
  }
  return state;
}

/** Polls the shop's own payment record of the order until it exists (or the time is up). */
async function shopPaymentState(orderId: string, timeoutMs: number): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [payment] = await database.sql<{ state: string }[]>`
      SELECT state FROM payment WHERE order_id = ${orderId}`;
    if (payment !== undefined || Date.now() >= deadline) return payment?.state;
    await sleep(100);
  }
}

describe("voids of cancelled orders", () => {
  it("voids an authorization the provider applied after the shop's first void failed", async () => {
    await shop.seed([{ id: "VOID-FAIL", stock: 5 }]);
    // The authorize arrives and is applied 1.5 s later, long after the shop's 300 ms timeout.
    await shop.setPaymentFaults({ latencyMs: 1_500, errorRate: 0 });
    const placing = placeOrder("VOID-FAIL", "u1");
    await sleep(150);
    // Every call arriving from now on (the shop's void) fails before it is applied.
    await shop.setPaymentFaults({ latencyMs: 0, errorRate: 1, errorMode: "before" });
    const order = await placing;
    expect(order).toMatchObject({ state: "CANCELLED", cancelReason: "payment_unavailable" });
    await sleep(1_800); // the late authorization has landed
    expect(await providerState(order.id)).toBe("AUTHORIZED");
    await shop.setPaymentFaults({ errorRate: 0 });

    expect(await settledAtProvider(order.id, WINDOW_MS + 3_000)).toBe("VOIDED");
    // The provider answers the void before the shop commits its record of it: wait for the commit.
    expect(await shopPaymentState(order.id, 3_000)).toBe("VOIDED");
  });

  it("voids an authorization that lands after the shop's void found none", async () => {
    await shop.seed([{ id: "VOID-LATE", stock: 5 }]);
    await shop.setPaymentFaults({ latencyMs: 1_500, errorRate: 0 });
    const placing = placeOrder("VOID-LATE", "u2");
    await sleep(150);
    // The shop's void arrives now and is answered at once: no authorization (yet).
    await shop.setPaymentFaults({ latencyMs: 0 });
    const order = await placing;
    expect(order).toMatchObject({ state: "CANCELLED", cancelReason: "payment_unavailable" });

    expect(await settledAtProvider(order.id, WINDOW_MS + 3_000)).toBe("VOIDED");
  });

  it("watches no payment of an order cancelled before it sent an authorize (sold out)", async () => {
    await shop.seed([{ id: "VOID-NONE", stock: 0 }]);
    const order = await placeOrder("VOID-NONE", "u3");
    expect(order).toMatchObject({ state: "CANCELLED", cancelReason: "sold_out" });
    const watches = await database.sql`SELECT 1 FROM payment_void_watch WHERE order_id = ${order.id}`;
    expect(watches).toHaveLength(0);
    expect(await providerState(order.id)).toBeUndefined();
  });
});
