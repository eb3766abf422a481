import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkInventoryLedger } from "../../../src/lab/checkers/inventory-ledger.ts";
import { checkMoney } from "../../../src/lab/checkers/money.ts";
import { checkSoldMatchesOrders } from "../../../src/lab/checkers/sold-matches-orders.ts";
import { checkTerminalSagas } from "../../../src/lab/checkers/terminal-sagas.ts";
import { readInventoryState } from "../../../src/lab/experiments/final-state.ts";
import { startTestDatabase, type TestDatabase } from "../../support/postgres.ts";
import { ADMIN_TOKEN, INTERNAL, startTestShop, type TestShop } from "../../support/shop.ts";

let database: TestDatabase;
let shop: TestShop;

beforeAll(async () => {
  database = await startTestDatabase();
  // Generous timeouts: this file checks correctness on a shared 2-core machine, not latency.
  shop = await startTestShop(database.url, {
    CHAOSCART_INVENTORY_TIMEOUT_MS: "5000",
    CHAOSCART_PAYMENT_TIMEOUT_MS: "5000",
    // The flash sale below sends 160 orders at once; admission control has its own test.
    CHAOSCART_ORDER_MAX_IN_FLIGHT: "1000",
  });
});

afterAll(async () => {
  await shop?.close();
  await database?.stop();
});

let keys = 0;
async function placeOrder(
  body: unknown,
  key: string | null = `key-${Date.now()}-${++keys}`,
  via = shop.order.url,
) {
  const response = await fetch(`${via}/orders`, {
    method: "POST",
    headers: {
      ...INTERNAL,
      "content-type": "application/json",
      ...(key ? { "idempotency-key": key } : {}),
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function providerPayments() {
  const response = await fetch(`${shop.payment.url}/admin/payments`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  const body = (await response.json()) as {
    payments: { orderId: string; state: string; captures: number; amount: number }[];
  };
  return body.payments;
}

async function finalOrders() {
  return database.sql<{ id: string; state: string; total: number; items: { sku: string; qty: number }[] }[]>`
    SELECT id, state, total::int AS total, items FROM orders`;
}

async function waitUntilSettled(timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    // Settled: every saga terminal, and every watched void of a cancelled order's authorization
    // closed (the money check reads the provider's final word).
    const [row] = await database.sql<{ n: number }[]>`
      SELECT (SELECT count(*) FROM orders WHERE state NOT IN ('CONFIRMED', 'CANCELLED'))::int
           + (SELECT count(*) FROM payment_void_watch WHERE closed_at IS NULL)::int AS n`;
    if (row?.n === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function expectAllInvariants() {
  await waitUntilSettled();
  const orders = await finalOrders();
  const inventory = await readInventoryState(database.sql, "east");
  expect(checkInventoryLedger(inventory).problems).toEqual([]);
  expect(checkSoldMatchesOrders(orders, inventory.stock).problems).toEqual([]);
  expect(checkTerminalSagas(orders, inventory.stock).problems).toEqual([]);
  expect(checkMoney(orders, await providerPayments()).problems).toEqual([]);
}

describe("order saga", () => {
  it("never oversells in a concurrent flash sale through the gateway, with money, stock and sagas consistent", async () => {
    await shop.seed([
      { id: "SALE-A", stock: 30, price: 1999 },
      { id: "SALE-B", stock: 20, price: 500 },
    ]);
    const results = await Promise.all(
      Array.from({ length: 160 }, (_, i) => {
        const items =
          i % 4 === 0
            ? [
                { sku: "SALE-A", qty: 1 },
                { sku: "SALE-B", qty: 1 },
              ]
            : [{ sku: i % 2 ? "SALE-A" : "SALE-B", qty: 1 }];
        return placeOrder({ userId: `u${i}`, items }, undefined, shop.gateway.url);
      }),
    );
    // Once a SKU is known sold out, the sold-out gate answers 409 sold_out without placing an order.
    expect(results.filter((r) => ![201, 202, 409].includes(r.status))).toEqual([]);
    for (const gated of results.filter((r) => r.status === 409))
      expect(gated.body).toMatchObject({ error: "sold_out" });
    await expectAllInvariants();
    const orders = await finalOrders();
    const [placed] = await database.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM orders
      WHERE items @> '[{"sku": "SALE-A"}]' OR items @> '[{"sku": "SALE-B"}]'`;
    expect(placed?.n).toBe(results.filter((r) => r.status !== 409).length);
    // Demand (200 units) far exceeds stock (50): some orders sold, the rest cancelled as sold out.
    expect(orders.filter((o) => o.state === "CONFIRMED").length).toBeGreaterThan(0);
    expect(orders.filter((o) => o.state === "CANCELLED").length).toBeGreaterThan(0);
    const [stock] = await database.sql<{ sold: number }[]>`
      SELECT sum(sold)::int AS sold FROM stock WHERE sku_id IN ('SALE-A', 'SALE-B')`;
    expect(stock?.sold).toBeGreaterThanOrEqual(40);

    // Every transition wrote its outbox event (and payment row) in the same statement.
    const trails = await database.sql<{ state: string; events: string[]; payment: string | null }[]>`
      SELECT o.state, array_agg(e.event ORDER BY e.id) AS events, p.state AS payment
      FROM orders o JOIN outbox e ON e.aggregate = 'order' AND e.aggregate_id = o.id
      LEFT JOIN payment p ON p.order_id = o.id
      WHERE o.items @> '[{"sku": "SALE-A"}]' OR o.items @> '[{"sku": "SALE-B"}]'
      GROUP BY o.id, o.state, p.state`;
    expect(trails).toHaveLength(orders.length);
    for (const trail of trails.filter((t) => t.state === "CONFIRMED")) {
      expect(trail.events).toEqual(["OrderPlaced", "StockReserved", "PaymentAuthorized", "OrderConfirmed"]);
      expect(trail.payment).toBe("CAPTURED");
    }
    for (const trail of trails.filter((t) => t.state === "CANCELLED")) {
      expect(trail.events[0]).toBe("OrderPlaced");
      expect(trail.events.slice(-2)).toEqual(["CancellationDecided", "OrderCancelled"]);
    }
  });

  it("creates exactly one order for one idempotency key sent concurrently", async () => {
    await shop.seed([{ id: "IDEM-1", stock: 100 }]);
    const key = `idem-race-${Date.now()}`;
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        placeOrder({ userId: "same", items: [{ sku: "IDEM-1", qty: 2 }] }, key),
      ),
    );
    const ids = new Set(results.map((r) => r.body.id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    const rows = await database.sql`SELECT id FROM orders WHERE idem_key = ${key}`;
    expect(rows).toHaveLength(1);
    const [stock] = await database.sql`SELECT sold FROM stock WHERE sku_id = 'IDEM-1'`;
    expect(stock?.sold).toBe(2);
    const reuse = await placeOrder({ userId: "same", items: [{ sku: "IDEM-1", qty: 3 }] }, key);
    expect(reuse).toMatchObject({ status: 422, body: { error: "idempotency_key_reused" } });
  });

  it("cancels quickly with stock returned when the payment provider fails every call, opening the breaker", async () => {
    await shop.seed([{ id: "PAYDOWN-1", stock: 50 }]);
    await shop.setPaymentFaults({ errorRate: 1, errorMode: "before" });
    try {
      const results = [];
      for (let i = 0; i < 15; i++) {
        const started = performance.now();
        const result = await placeOrder({ userId: `p${i}`, items: [{ sku: "PAYDOWN-1", qty: 1 }] });
        results.push({ ...result, ms: performance.now() - started });
      }
      expect(results.every((r) => r.status === 201 && r.body.state === "CANCELLED")).toBe(true);
      expect(results.every((r) => r.body.cancelReason === "payment_unavailable")).toBe(true);
      const metrics = await (await fetch(`${shop.order.url}/metrics`)).text();
      expect(metrics).toMatch(/chaoscart_breaker_state\{[^}]*dependency="payment"[^}]*\} 1/);
      expect(metrics).toMatch(/chaoscart_dependency_failures_total\{[^}]*kind="breaker_open"/);
      // Once open, the breaker fails orders fast instead of waiting out retries.
      const last = results.at(-1);
      expect(last?.ms).toBeLessThan(results[0]?.ms ?? 0);
      const [stock] = await database.sql`SELECT available, reserved FROM stock WHERE sku_id = 'PAYDOWN-1'`;
      expect(stock).toMatchObject({ available: 50, reserved: 0 });
    } finally {
      await shop.setPaymentFaults({ errorRate: 0 });
    }
  });

  it("keeps money consistent when the provider fails after applying (ambiguous errors)", async () => {
    await shop.seed([{ id: "AMBIG-1", stock: 40 }]);
    await new Promise((r) => setTimeout(r, 2_500)); // let the payment breaker half-open after the previous test
    await shop.setPaymentFaults({ errorRate: 0.3, errorMode: "after" });
    try {
      await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          placeOrder({ userId: `a${i}`, items: [{ sku: "AMBIG-1", qty: 1 }] }),
        ),
      );
    } finally {
      await shop.setPaymentFaults({ errorRate: 0 });
    }
    await expectAllInvariants();
  });
});

describe("order API input", () => {
  it.each([
    [
      "a missing idempotency key",
      { userId: "u", items: [{ sku: "SALE-A", qty: 1 }] },
      null,
      400,
      "headers.idempotency-key",
    ],
    [
      "a negative quantity",
      { userId: "u", items: [{ sku: "SALE-A", qty: -1 }] },
      undefined,
      400,
      "body.items.0.qty",
    ],
    [
      "an unknown SKU",
      { userId: "u", items: [{ sku: "NO-SUCH-SKU", qty: 1 }] },
      undefined,
      422,
      "body.items.0.sku",
    ],
    ["no items", { userId: "u", items: [] }, undefined, 400, "body.items"],
  ])("rejects %s with a 4xx naming the field and writes nothing", async (_name, body, key, status, field) => {
    const [before] = await database.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM orders`;
    const response = await placeOrder(body, key === null ? null : undefined);
    expect(response.status).toBe(status);
    expect(response.body.field).toBe(field);
    const [after] = await database.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM orders`;
    expect(after?.n).toBe(before?.n);
  });

  it("rejects malformed JSON and oversized bodies", async () => {
    expect(await placeOrder('{"userId":')).toMatchObject({ status: 400, body: { error: "malformed_json" } });
    const items = Array.from({ length: 20 }, () => ({ sku: "SALE-A", qty: 1, note: "x".repeat(2_000) }));
    expect(await placeOrder({ userId: "u", items })).toMatchObject({
      status: 413,
      body: { error: "body_too_large" },
    });
  });

  it("reads an order back to its owner only: 404 for another user's order as for an unknown one", async () => {
    await shop.seed([{ id: "READ-1", stock: 5 }]);
    const placed = await placeOrder({ userId: "r", items: [{ sku: "READ-1", qty: 1 }] });
    const readAs = async (id: unknown, user?: string) => {
      const response = await fetch(`${shop.gateway.url}/orders/${id}`, {
        headers: user ? { "x-user-id": user } : {},
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const read = await readAs(placed.body.id, "r");
    // The state read back is the one the placement answered (the payment breaker may still be open from above).
    expect(read).toMatchObject({ status: 200, body: { id: placed.body.id, state: placed.body.state } });
    expect(["CONFIRMED", "CANCELLED"]).toContain(placed.body.state);

    const stranger = await readAs(placed.body.id, "mallory");
    const unknown = await readAs("123", "mallory");
    expect(stranger.status).toBe(404);
    expect(JSON.stringify(stranger.body)).not.toMatch(/"r"|READ-1|total/);
    expect(stranger.body.error).toBe(unknown.body.error);
    expect(unknown.status).toBe(404);

    expect(await readAs(placed.body.id)).toMatchObject({
      status: 400,
      body: { error: "invalid_request", field: "headers.x-user-id" },
    });
  });
});
