// The sold-out gate through POST /orders (README "The sold-out gate"): real PostgreSQL, the shop's
// services in this process. A gated order writes nothing; a retry of a placed order still gets it;
// the gate opens when stock comes back — by the poll for a return the order service did not make,
// at once for a release its own saga made.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestDatabase, type TestDatabase } from "../../support/postgres.ts";
import { INTERNAL, startTestShop, type TestShop } from "../../support/shop.ts";

const POLL_MS = 100;
// Far longer than any wait below: when a gate opens here, the poll or a release opened it, not the TTL.
const LONG_TTL = "20000";

let database: TestDatabase;
let polled: TestShop;
let unpolled: TestShop;

beforeAll(async () => {
  database = await startTestDatabase();
  polled = await startTestShop(database.url, {
    CHAOSCART_SOLD_OUT_GATE_TTL_MS: LONG_TTL,
    CHAOSCART_SOLD_OUT_GATE_POLL_MS: String(POLL_MS),
  });
  // Polls once a minute: only its own release can open its gate within a test.
  unpolled = await startTestShop(database.url, {
    CHAOSCART_SOLD_OUT_GATE_TTL_MS: LONG_TTL,
    CHAOSCART_SOLD_OUT_GATE_POLL_MS: "60000",
    CHAOSCART_PAYMENT_TIMEOUT_MS: "5000",
  });
}, 60_000);

afterAll(async () => {
  await unpolled?.close();
  await polled?.close();
  await database?.stop();
});

let keys = 0;
const newKey = (name: string) => `gate-${name}-${++keys}`;

async function post(shop: TestShop, key: string, sku: string) {
  const response = await fetch(`${shop.order.url}/orders`, {
    method: "POST",
    headers: { ...INTERNAL, "content-type": "application/json", "idempotency-key": key },
    body: JSON.stringify({ userId: "u-gate", items: [{ sku, qty: 1 }] }),
  });
  return {
    status: response.status,
    replay: response.headers.get("idempotent-replay"),
    body: (await response.json()) as Record<string, unknown>,
  };
}

async function inventory(shop: TestShop, path: string, body?: unknown) {
  const response = await fetch(`${shop.inventory.url}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { ...INTERNAL, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function rows() {
  const [counts] = await database.sql<{ orders: number; outbox: number }[]>`
    SELECT (SELECT count(*) FROM orders)::int AS orders, (SELECT count(*) FROM outbox)::int AS outbox`;
  return counts;
}

async function gatedCount(shop: TestShop, sku: string): Promise<number> {
  const text = await (await fetch(`${shop.order.url}/metrics`)).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith("chaoscart_orders_gated_total{") && l.includes(`sku="${sku}"`));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

/** Places orders with new keys every 20 ms until one is not gated; how long that took. */
async function untilAccepted(shop: TestShop, sku: string, limitMs: number) {
  const started = performance.now();
  for (;;) {
    const answer = await post(shop, newKey("after"), sku);
    const ms = performance.now() - started;
    if (answer.status !== 409) return { answer, ms };
    if (ms > limitMs) throw new Error(`still gated ${Math.round(ms)} ms after the stock came back`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("POST /orders with the sold-out gate", () => {
  it("after a sell-out answers 409 sold_out from memory, writing nothing; a retry of a placed order still gets it", async () => {
    const sku = "GATE-POLL";
    await polled.seed([{ id: sku, stock: 1 }]);
    // Someone else holds the last unit (straight at the inventory: a return the order service will
    // not see itself, only by polling).
    expect((await inventory(polled, "/reservations", { orderId: "gate-hold-1", sku, qty: 1 })).status).toBe(
      201,
    );

    const teacherKey = newKey("teacher");
    const teacher = await post(polled, teacherKey, sku);
    expect(teacher.status).toBe(201);
    expect(teacher.body).toMatchObject({ state: "CANCELLED", cancelReason: "sold_out" });

    const before = await rows();
    // Five new buyers, and the teacher's retry (say, after a timeout) among them, at once: the retry
    // is answered its order, not "sold out" (its key's read shares one lookup with the others').
    const [retry, ...gated] = await Promise.all([
      post(polled, teacherKey, sku),
      ...Array.from({ length: 5 }, () => post(polled, newKey("late"), sku)),
    ]);
    for (const answer of gated) {
      expect(answer.status).toBe(409);
      expect(answer.body).toMatchObject({ error: "sold_out", sku });
    }
    expect(await gatedCount(polled, sku)).toBe(5);
    if (!retry) throw new Error("no retry answer");
    expect(retry.status).toBe(200);
    expect(retry.replay).toBe("true");
    expect(retry.body.id).toBe(teacher.body.id);
    expect(await rows()).toEqual(before);
    expect(await gatedCount(polled, sku)).toBe(5);

    // Stock comes back behind the order service's back (as expiry does): the poll opens the gate.
    expect((await inventory(polled, "/reservations/gate-hold-1/release", {})).status).toBe(200);
    const { answer, ms } = await untilAccepted(polled, sku, 1_000);
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({ state: "CONFIRMED" });
    expect(ms).toBeLessThan(4 * POLL_MS + 400);
  });

  it("opens at once when its own saga releases stock of the SKU", async () => {
    const sku = "GATE-OWN";
    await unpolled.seed([{ id: sku, stock: 1 }]);
    // The first buyer takes the last unit and pays slowly, with a card that is declined.
    await unpolled.setPaymentFaults({ latencyMs: 1_500, declineRate: 1 });
    const declined = post(unpolled, newKey("declined"), sku);
    for (let i = 0; ; i++) {
      const stock = await inventory(unpolled, `/stock/${sku}`);
      if (stock.body.reserved === 1) break;
      if (i > 200) throw new Error("the first order never reserved");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const teacher = await post(unpolled, newKey("teacher"), sku);
    expect(teacher.body).toMatchObject({ state: "CANCELLED", cancelReason: "sold_out" });
    expect((await post(unpolled, newKey("late"), sku)).status).toBe(409);

    const first = await declined;
    expect(first.body).toMatchObject({ state: "CANCELLED", cancelReason: "payment_declined" });
    await unpolled.setPaymentFaults({ latencyMs: 0, declineRate: 0 });
    // The saga's release came back before its answer did: the gate is open already.
    const next = await post(unpolled, newKey("next"), sku);
    expect(next.status).toBe(201);
    expect(next.body).toMatchObject({ state: "CONFIRMED" });
  });
});

describe("POST /orders with the gate off (CHAOSCART_SOLD_OUT_GATE_TTL_MS=0)", () => {
  it("sends every order to the inventory: after a sell-out, orders are placed and cancelled sold_out", async () => {
    const off = await startTestShop(database.url, { CHAOSCART_SOLD_OUT_GATE_TTL_MS: "0" });
    try {
      const sku = "GATE-OFF";
      await off.seed([{ id: sku, stock: 1 }]);
      expect((await inventory(off, "/reservations", { orderId: "gate-off-hold", sku, qty: 1 })).status).toBe(
        201,
      );
      for (let i = 0; i < 3; i++) {
        const answer = await post(off, newKey("off"), sku);
        expect(answer.status).toBe(201);
        expect(answer.body).toMatchObject({ state: "CANCELLED", cancelReason: "sold_out" });
      }
      const metrics = await (await fetch(`${off.order.url}/metrics`)).text();
      expect(metrics).not.toMatch(/chaoscart_orders_gated_total/);
    } finally {
      await off.close();
    }
  });
});

describe("POST /orders with the sold-out gate, under admission control", () => {
  it("answers a buyer of a gated SKU 409 sold_out even when admission control refuses other orders 429", async () => {
    const busy = await startTestShop(database.url, {
      CHAOSCART_ORDER_MAX_IN_FLIGHT: "1",
      CHAOSCART_PAYMENT_TIMEOUT_MS: "5000",
    });
    try {
      await busy.seed([
        { id: "GATE-BUSY-HOT", stock: 1 },
        { id: "GATE-BUSY-COLD", stock: 10 },
      ]);
      expect(
        (await inventory(busy, "/reservations", { orderId: "gate-busy-hold", sku: "GATE-BUSY-HOT", qty: 1 }))
          .status,
      ).toBe(201);
      const teacher = await post(busy, newKey("busy-teacher"), "GATE-BUSY-HOT");
      expect(teacher.body).toMatchObject({ state: "CANCELLED", cancelReason: "sold_out" });
      // One slow saga fills the admission limit.
      await busy.setPaymentFaults({ latencyMs: 1_500 });
      const slow = post(busy, newKey("busy-slow"), "GATE-BUSY-COLD");
      for (let i = 0; ; i++) {
        if ((await inventory(busy, "/stock/GATE-BUSY-COLD")).body.reserved === 1) break;
        if (i > 200) throw new Error("the slow order never reserved");
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const [hot, cold] = await Promise.all([
        post(busy, newKey("busy-hot"), "GATE-BUSY-HOT"),
        post(busy, newKey("busy-cold"), "GATE-BUSY-COLD"),
      ]);
      const slowStatus = (await slow).status;
      expect(cold.status).toBe(429);
      expect(hot.status).toBe(409);
      expect(hot.body).toMatchObject({ error: "sold_out", sku: "GATE-BUSY-HOT" });
      expect([201, 202]).toContain(slowStatus); // authorize and capture: 3 s, the deadline
    } finally {
      await busy.setPaymentFaults({ latencyMs: 0 });
      await busy.close();
    }
  });
});
