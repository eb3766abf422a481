import pino from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inventoryEnv, readEnv } from "../../../src/shop/config.ts";
import { JsonClient } from "../../../src/shop/http/json-client.ts";
import type { RunningService } from "../../../src/shop/http/listen.ts";
import { InventoryClient } from "../../../src/shop/inventory/client.ts";
import { startInventoryService } from "../../../src/shop/inventory/service.ts";
import { createDependencyPolicy } from "../../../src/shop/resilience/policies.ts";
import { POLICY_OPTIONS } from "../../support/policies.ts";
import { startTestDatabase, type TestDatabase } from "../../support/postgres.ts";

const TOKEN = "http-test-token";
const SERVICE_TOKEN = "http-test-service-token";
const INTERNAL = { authorization: `Bearer ${SERVICE_TOKEN}` };
let database: TestDatabase;
let service: RunningService;

beforeAll(async () => {
  database = await startTestDatabase();
  service = await startInventoryService(
    readEnv(inventoryEnv, {
      CHAOSCART_DATABASE_URL: database.url,
      CHAOSCART_PORT: "0",
      CHAOSCART_ADMIN_TOKEN: TOKEN,
      CHAOSCART_SERVICE_TOKEN: SERVICE_TOKEN,
      CHAOSCART_LOG_LEVEL: "silent",
    }),
  );
  await post("/admin/skus", { skus: [{ id: "HTTP-1", stock: 5 }] }, { authorization: `Bearer ${TOKEN}` });
});

afterAll(async () => {
  await service?.close();
  await database?.stop();
});

async function post(path: string, body: unknown, headers: Record<string, string> = INTERNAL) {
  const response = await fetch(`${service.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function reservationCount() {
  const [row] = await database.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM reservation`;
  return row?.n;
}

describe("inventory HTTP API", () => {
  it.each([
    ["a negative quantity", { orderId: "o1", sku: "HTTP-1", qty: -1 }, "body.qty"],
    ["a fractional quantity", { orderId: "o1", sku: "HTTP-1", qty: 1.5 }, "body.qty"],
    ["a missing order id", { sku: "HTTP-1", qty: 1 }, "body.orderId"],
    ["a malformed SKU", { orderId: "o1", sku: "lower case", qty: 1 }, "body.sku"],
  ])("rejects %s with a 400 naming the field, writing nothing", async (_name, body, field) => {
    const before = await reservationCount();
    const response = await post("/reservations", body);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: "invalid_request", field });
    expect(await reservationCount()).toBe(before);
  });

  it("rejects malformed JSON and oversized bodies", async () => {
    expect(await post("/reservations", '{"orderId":')).toMatchObject({
      status: 400,
      body: { error: "malformed_json" },
    });
    const huge = { orderId: "o1", sku: "HTTP-1", qty: 1, pad: "x".repeat(64 * 1024) };
    expect(await post("/reservations", huge)).toMatchObject({
      status: 413,
      body: { error: "body_too_large" },
    });
  });

  it("answers 404 for an unknown SKU and writes nothing", async () => {
    const before = await reservationCount();
    expect(await post("/reservations", { orderId: "o2", sku: "NOPE", qty: 1 })).toMatchObject({
      status: 404,
      body: { error: "unknown_sku" },
    });
    expect(await reservationCount()).toBe(before);
  });

  it("grants with 201, replays with 200, rejects the excess with 409", async () => {
    expect(await post("/reservations", { orderId: "h1", sku: "HTTP-1", qty: 4 })).toMatchObject({
      status: 201,
    });
    expect(await post("/reservations", { orderId: "h1", sku: "HTTP-1", qty: 4 })).toMatchObject({
      status: 200,
      body: { replay: true },
    });
    expect(await post("/reservations", { orderId: "h2", sku: "HTTP-1", qty: 2 })).toMatchObject({
      status: 409,
      body: { error: "insufficient_stock" },
    });
    const stock = await (await fetch(`${service.url}/stock/HTTP-1`, { headers: INTERNAL })).json();
    expect(stock).toMatchObject({ available: 1, reserved: 4, sold: 0, quota: 5 });
  });

  it("protects admin seeding with the token and refuses a conflicting quota", async () => {
    expect(await post("/admin/skus", { skus: [{ id: "HTTP-2", stock: 1 }] }, {})).toMatchObject({
      status: 401,
    });
    // The token is checked before the body: a caller without it learns nothing about the schema.
    expect(await post("/admin/skus", { skus: "not-a-list" }, {})).toMatchObject({
      status: 401,
      body: { error: "unauthorized", message: "missing or wrong bearer token" },
    });
    // The service token is not the admin token.
    expect(await post("/admin/skus", { skus: [{ id: "HTTP-2", stock: 1 }] }, INTERNAL)).toMatchObject({
      status: 401,
    });
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect(await post("/admin/skus", { skus: [{ id: "HTTP-1", stock: 5 }] }, auth)).toMatchObject({
      status: 200,
    });
    const conflict = await post(
      "/admin/skus",
      {
        skus: [
          { id: "HTTP-3", stock: 1 },
          { id: "HTTP-1", stock: 9 },
        ],
      },
      auth,
    );
    expect(conflict).toMatchObject({ status: 409, body: { error: "quota_conflict" } });
    // Nothing half-written: HTTP-3 was rolled back with the conflict.
    expect((await fetch(`${service.url}/stock/HTTP-3`, { headers: INTERNAL })).status).toBe(404);

    const badSplit = await post("/admin/skus", { skus: [{ id: "HTTP-4", stock: 8, buckets: 0 }] }, auth);
    expect(badSplit).toMatchObject({ status: 400, body: { message: expect.stringContaining("buckets") } });
    expect(await post("/admin/skus", { skus: [{ id: "HTTP-4", stock: 8, buckets: 4 }] }, auth)).toMatchObject(
      {
        status: 201,
      },
    );
    const split = await fetch(`${service.url}/stock/HTTP-4`, { headers: INTERNAL });
    expect(await split.json()).toMatchObject({ available: 8, quota: 8 });
  });

  it("answers internal routes only to a caller with the service token (401 before anything is done)", async () => {
    const calls: [string, string, unknown?][] = [
      ["POST", "/reservations", { orderId: "intruder", sku: "HTTP-1", qty: 1 }],
      ["POST", "/reservations/h1/commit"],
      ["POST", "/reservations/commits", { orderIds: ["h1"] }],
      ["POST", "/reservations/h1/release"],
      ["GET", "/reservations/h1"],
      ["GET", "/stock/HTTP-1"],
    ];
    for (const [method, path, body] of calls) {
      const wrong: Record<string, string>[] = [
        {},
        { authorization: `Bearer ${TOKEN}` },
        { authorization: "Bearer wrong" },
      ];
      for (const headers of wrong) {
        const response = await fetch(`${service.url}${path}`, {
          method,
          headers: { ...headers, ...(body ? { "content-type": "application/json" } : {}) },
          ...(body ? { body: JSON.stringify(body) } : {}),
        });
        expect({ method, path, status: response.status }).toEqual({ method, path, status: 401 });
        expect(await response.json()).toMatchObject({ error: "unauthorized" });
      }
    }
    // Nothing was reserved, committed or released by those calls.
    const rows =
      await database.sql`SELECT order_id, state FROM reservation WHERE order_id IN ('h1', 'intruder')`;
    expect(rows.map((row) => [row.order_id, row.state])).toEqual([["h1", "HELD"]]);
  });

  it("refuses to start without a service token, naming it", () => {
    expect(() => readEnv(inventoryEnv, { CHAOSCART_DATABASE_URL: database.url })).toThrow(
      /CHAOSCART_SERVICE_TOKEN: required: the credential internal calls carry/,
    );
    expect(() =>
      readEnv(inventoryEnv, { CHAOSCART_DATABASE_URL: database.url, CHAOSCART_SERVICE_TOKEN: "short" }),
    ).toThrow(/CHAOSCART_SERVICE_TOKEN: must be at least 16 characters/);
  });

  it("serves health, readiness and Prometheus metrics", async () => {
    expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${service.url}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(/chaoscart_inventory_reservations_total\{result="granted"/);
    expect(metrics).toMatch(/chaoscart_inventory_batch_size_bucket/);
  });
});

describe("configuration", () => {
  it("names every bad variable", () => {
    expect(() =>
      readEnv(inventoryEnv, {
        CHAOSCART_DATABASE_URL: "mysql://x",
        CHAOSCART_PORT: "http",
        CHAOSCART_BATCH_WINDOW_MS: "5",
      }),
    ).toThrow(/CHAOSCART_DATABASE_URL[\s\S]*CHAOSCART_PORT[\s\S]*CHAOSCART_BATCH_WINDOW_MS/);
  });

  it("takes a built-in bug by name only, and none by default (the real shop)", () => {
    const base = {
      CHAOSCART_DATABASE_URL: "postgres://x@127.0.0.1/db",
      CHAOSCART_SERVICE_TOKEN: SERVICE_TOKEN,
    };
    expect(readEnv(inventoryEnv, base).CHAOSCART_BUILT_IN_BUG).toBeUndefined();
    expect(
      readEnv(inventoryEnv, { ...base, CHAOSCART_BUILT_IN_BUG: "ack-before-commit" }).CHAOSCART_BUILT_IN_BUG,
    ).toBe("ack-before-commit");
    expect(() => readEnv(inventoryEnv, { ...base, CHAOSCART_BUILT_IN_BUG: "oversell-a-bit" })).toThrow(
      /CHAOSCART_BUILT_IN_BUG: unknown built-in bug; expected one of stock-from-replica, .* \(got "oversell-a-bit"\)/,
    );
  });
});

describe("the sold-out gate's reads", () => {
  async function get(path: string) {
    const response = await fetch(`${service.url}${path}`, { headers: INTERNAL });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  it("GET /stock?skus= answers the available units of the SKUs it stocks, in one read", async () => {
    await post(
      "/admin/skus",
      {
        skus: [
          { id: "AVAIL-1", stock: 3 },
          { id: "AVAIL-2", stock: 1 },
        ],
      },
      { authorization: `Bearer ${TOKEN}` },
    );
    expect((await post("/reservations", { orderId: "avail-o1", sku: "AVAIL-2", qty: 1 })).status).toBe(201);
    const answer = await get("/stock?skus=AVAIL-1,AVAIL-2,AVAIL-NOPE");
    expect(answer.status).toBe(200);
    const stock = answer.body.stock as { sku: string; available: number }[];
    expect(stock.sort((a, b) => a.sku.localeCompare(b.sku))).toEqual([
      { sku: "AVAIL-1", available: 3 },
      { sku: "AVAIL-2", available: 0 },
    ]);
    expect((await get("/stock?skus=lower case")).status).toBe(400);
    expect(
      (await get(`/stock?skus=${Array.from({ length: 101 }, (_, i) => `S${i}`).join(",")}`)).status,
    ).toBe(400);
  });

  it("a release answers the SKUs it put back on sale; a repeated one, none", async () => {
    await post("/admin/skus", { skus: [{ id: "RET-1", stock: 2 }] }, { authorization: `Bearer ${TOKEN}` });
    expect((await post("/reservations", { orderId: "ret-o1", sku: "RET-1", qty: 1 })).status).toBe(201);
    const first = await post("/reservations/ret-o1/release", {});
    expect(first.body).toMatchObject({ state: "RELEASED", returned: ["RET-1"] });
    const again = await post("/reservations/ret-o1/release", {});
    expect(again.body).toMatchObject({ state: "RELEASED", returned: [] });
    const blind = await post("/reservations/ret-nobody/release", {});
    expect(blind.body).toMatchObject({ state: "RELEASED", returned: [] });
  });
});

describe("batched calls (reserves, commits)", () => {
  const seed = (id: string, stock: number) =>
    post("/admin/skus", { skus: [{ id, stock }] }, { authorization: `Bearer ${TOKEN}` });

  it("POST /reservations/commits answers each order as its own /commit would, in order", async () => {
    await seed("BATCH-1", 5);
    for (const orderId of ["bc-1", "bc-2", "bc-3"])
      expect((await post("/reservations", { orderId, sku: "BATCH-1", qty: 1 })).status).toBe(201);
    await post("/reservations/bc-2/release", {});
    const answer = await post("/reservations/commits", { orderIds: ["bc-3", "bc-2", "bc-nobody", "bc-1"] });
    expect(answer.status).toBe(200);
    expect(answer.body.results).toMatchObject([
      { orderId: "bc-3", status: 200, body: { state: "COMMITTED" } },
      { orderId: "bc-2", status: 409, body: { error: "invalid_state", state: "RELEASED" } },
      { orderId: "bc-nobody", status: 404, body: { error: "not_found" } },
      { orderId: "bc-1", status: 200, body: { state: "COMMITTED" } },
    ]);
    // The same answers one by one.
    expect(await post("/reservations/bc-2/commit", {})).toMatchObject({
      status: 409,
      body: { state: "RELEASED" },
    });
    expect(await post("/reservations/bc-1/commit", {})).toMatchObject({
      status: 200,
      body: { state: "COMMITTED" },
    });
  });

  it.each([
    ["an empty list", { orderIds: [] }],
    ["a malformed order id", { orderIds: ["bc-ok", "bad id!"] }],
    ["more than 256 orders", { orderIds: Array.from({ length: 257 }, (_, i) => `bc-many-${i}`) }],
  ])("refuses %s with a 400 naming the field, settling nothing", async (_name, body) => {
    await seed("BATCH-2", 5);
    expect((await post("/reservations", { orderId: "bc-ok", sku: "BATCH-2", qty: 1 })).status).toBeLessThan(
      300,
    );
    const answer = await post("/reservations/commits", body);
    expect(answer).toMatchObject({ status: 400, body: { error: "invalid_request" } });
    expect(String(answer.body.field)).toMatch(/^body\.orderIds/);
    const [row] = await database.sql`SELECT state FROM reservation WHERE order_id = 'bc-ok'`;
    expect(row?.state).toBe("HELD");
  });

  function batchingClient(batching: ConstructorParameters<typeof InventoryClient>[2]) {
    return new InventoryClient(
      new JsonClient("inventory", service.url, { headers: INTERNAL }),
      createDependencyPolicy(
        "inventory",
        { ...POLICY_OPTIONS, timeoutMs: 5_000 },
        { registry: new Registry(), log: pino({ level: "silent" }) },
      ),
      batching,
    );
  }

  it("POST /reservations/batch answers each reservation as its own POST /reservations would, in order", async () => {
    await seed("BATCH-R", 2);
    expect((await post("/reservations", { orderId: "br-0", sku: "BATCH-R", qty: 1 })).status).toBe(201);
    const answer = await post("/reservations/batch", {
      reservations: [
        { orderId: "br-1", sku: "BATCH-R", qty: 1 },
        { orderId: "br-0", sku: "BATCH-R", qty: 1 },
        { orderId: "br-2", sku: "BATCH-R", qty: 1 },
        { orderId: "br-3", sku: "BATCH-NOPE", qty: 1 },
      ],
    });
    expect(answer.status).toBe(200);
    expect(answer.body.results).toMatchObject([
      { orderId: "br-1", status: 201, body: { kind: "granted", replay: false } },
      { orderId: "br-0", status: 200, body: { kind: "granted", replay: true } },
      { orderId: "br-2", status: 409, body: { kind: "rejected" } },
      { orderId: "br-3", status: 404, body: { error: "unknown_sku" } },
    ]);
    const bad = await post("/reservations/batch", {
      reservations: [{ orderId: "br-4", sku: "BATCH-R", qty: 0 }],
    });
    expect(bad).toMatchObject({
      status: 400,
      body: { error: "invalid_request", field: "body.reservations.0.qty" },
    });
  });

  it("the client sends concurrent reserves in shared calls, every answer its own", async () => {
    await seed("BATCH-4", 30);
    const client = batchingClient({ reserves: { maxInFlight: 2, maxBatch: 16 } });
    const orders = Array.from({ length: 40 }, (_, i) => `bcr-${i}`);
    const answers = await Promise.all(orders.map((orderId) => client.reserve(orderId, "BATCH-4", 1)));
    expect(answers.filter((a) => a.kind === "granted")).toHaveLength(30);
    expect(answers.filter((a) => a.kind === "rejected")).toHaveLength(10);
    // Each answer is its own order's: granted exactly to the orders holding a reservation.
    const held = await database.sql<
      { order_id: string }[]
    >`SELECT order_id FROM reservation WHERE sku_id = 'BATCH-4'`;
    const holders = new Set(held.map((row) => row.order_id));
    expect(orders.filter((_, i) => answers[i]?.kind === "granted").sort()).toEqual([...holders].sort());
    expect(client.reserves?.sent.items).toBe(40);
    expect(client.reserves?.sent.batches).toBeLessThanOrEqual(6);
  });

  it("the client sends concurrent commits in shared calls, every answer its own", async () => {
    await seed("BATCH-3", 100);
    const orders = Array.from({ length: 40 }, (_, i) => `bcc-${i}`);
    for (const orderId of orders) await post("/reservations", { orderId, sku: "BATCH-3", qty: 1 });
    await post("/reservations/bcc-7/release", {});
    const client = batchingClient({ commits: { maxInFlight: 2, maxBatch: 16 } });
    // Every order twice, at once: the second of each waits for the call carrying the first.
    const answers = await Promise.all([...orders, ...orders].map((orderId) => client.commit(orderId)));
    answers.forEach((answer, i) => {
      const expected = i % orders.length === 7 ? { kind: "conflict", state: "RELEASED" } : { kind: "done" };
      expect(answer, `answer ${i}`).toEqual(expected);
    });
    const sent = client.commits?.sent;
    expect(sent?.items).toBe(80);
    expect(sent?.batches).toBeLessThanOrEqual(12);
    const [stock] = await database.sql`SELECT sold, reserved FROM stock WHERE sku_id = 'BATCH-3'`;
    expect(stock).toMatchObject({ sold: 39, reserved: 0 });
  });
});
