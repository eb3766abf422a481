import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readEnv } from "../../../src/shop/config.ts";
import { SnowflakeGenerator } from "../../../src/shop/domain/ids.ts";
import { gatewayEnv } from "../../../src/shop/gateway/config.ts";
import { SlotRouter, slotOf } from "../../../src/shop/gateway/routing.ts";
import { startGatewayService } from "../../../src/shop/gateway/service.ts";
import { listen, type RunningService } from "../../../src/shop/http/listen.ts";

/**
 * The gateway against real upstream HTTP servers on real ports: tiny fake order services that
 * record what reached them. One region's port is closed, to be unreachable.
 */

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

interface FakeOrderService {
  region: string;
  url: string;
  seen: Seen[];
  app: FastifyInstance;
}

async function fakeOrderService(region: string): Promise<FakeOrderService> {
  const seen: Seen[] = [];
  const app = Fastify();
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) =>
    done(null, body),
  );
  app.addHook("onRequest", async (request) => {
    seen.push({ method: request.method, url: request.url, headers: request.headers, body: "" });
  });
  app.post("/orders", async (request, reply) => {
    const raw = request.body as string;
    const last = seen[seen.length - 1];
    if (last) last.body = raw;
    const body = JSON.parse(raw) as { sleepMs?: number; hangUp?: boolean };
    if (body.sleepMs) await sleep(body.sleepMs);
    if (body.hangUp) {
      request.raw.socket.destroy(); // dies mid-request, like a killed order service
      return reply.hijack();
    }
    return reply.code(201).send({ region, state: "CONFIRMED" });
  });
  app.get<{ Params: { id: string } }>("/orders/:id", async (request) => ({ region, id: request.params.id }));
  app.get<{ Params: { id: string } }>("/skus/:id", async (request, reply) => {
    if (request.params.id === "SICK")
      return reply.code(503).header("retry-after", "1").send({ error: "sick" });
    return { region, id: request.params.id, name: "shirt", price: 1999 };
  });
  const { url } = await listen(app, "127.0.0.1", 0);
  return { region, url, seen, app };
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const TOKEN = "gateway-test-token";
const SERVICE_TOKEN = "gateway-test-service-token";
const REGIONS = ["east", "west", "dead"];
let east: FakeOrderService;
let west: FakeOrderService;
let gateway: RunningService;
let deadUrl: string;
const expected = new SlotRouter(REGIONS);

beforeAll(async () => {
  east = await fakeOrderService("east");
  west = await fakeOrderService("west");
  deadUrl = `http://127.0.0.1:${await closedPort()}`;
  gateway = await startGatewayService(
    readEnv(gatewayEnv, {
      CHAOSCART_PORT: "0",
      CHAOSCART_LOG_LEVEL: "silent",
      CHAOSCART_SERVICE_TOKEN: SERVICE_TOKEN,
      CHAOSCART_ADMIN_TOKEN: TOKEN,
      CHAOSCART_REGIONS: `east=${east.url},west=${west.url},dead=${deadUrl}`,
      CHAOSCART_USER_RATE_LIMIT_RPS: "0.5",
      CHAOSCART_USER_RATE_LIMIT_BURST: "2",
      CHAOSCART_ORDER_TIMEOUT_MS: "300",
      CHAOSCART_READ_TIMEOUT_MS: "300",
    }),
  );
});

afterAll(async () => {
  await gateway?.close();
  await east?.app.close();
  await west?.app.close();
});

let nextUser = 0;
/** A fresh user homed in `region` (fresh, so per-user buckets never interfere between tests). */
function userIn(region: string, router: SlotRouter = expected): string {
  for (;;) {
    const userId = `user-${nextUser++}`;
    if (router.regionForUser(userId) === region) return userId;
  }
}

async function call(
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
) {
  const response = await fetch(`${gateway.url}${path}`, {
    method,
    headers: {
      ...(options.body === undefined ? {} : { "content-type": "application/json" }),
      ...options.headers,
    },
    body:
      options.body === undefined
        ? undefined
        : typeof options.body === "string"
          ? options.body
          : JSON.stringify(options.body),
  });
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: response.status, headers: response.headers, body };
}

const ordersSeen = (service: FakeOrderService) => service.seen.filter((s) => s.method === "POST").length;

describe("gateway routing", () => {
  it("sends each user's orders to the user's home region, forwarding body and Idempotency-Key unchanged", async () => {
    for (let i = 0; i < 30; i++) {
      const region = i % 2 === 0 ? "east" : "west";
      const userId = userIn(region);
      // Odd spacing and key order: the upstream must see the client's bytes, not a re-serialisation.
      const raw = `{"userId":${JSON.stringify(userId)},  "items":[{"sku":"PIGGY-1","qty":1}],"big":12345678901234567890}`;
      const target = region === "east" ? east : west;
      const other = region === "east" ? west : east;
      const before = { target: ordersSeen(target), other: ordersSeen(other) };
      const response = await call("POST", "/orders", {
        body: raw,
        headers: { "idempotency-key": `idem-${i}` },
      });
      expect(response.status).toBe(201);
      expect(response.body.region).toBe(region);
      expect(ordersSeen(target)).toBe(before.target + 1);
      expect(ordersSeen(other)).toBe(before.other);
      const seen = target.seen[target.seen.length - 1];
      expect(seen?.body).toBe(raw);
      expect(seen?.headers["idempotency-key"]).toBe(`idem-${i}`);
    }
  });

  it("reads an order from the region its snowflake id names", async () => {
    const eastId = new SnowflakeGenerator(0, 3).next();
    const westId = new SnowflakeGenerator(1, 3).next();
    expect(await call("GET", `/orders/${eastId}`)).toMatchObject({
      status: 200,
      body: { region: "east", id: eastId },
    });
    expect(await call("GET", `/orders/${westId}`)).toMatchObject({
      status: 200,
      body: { region: "west", id: westId },
    });
    expect(await call("GET", "/orders/not-a-snowflake")).toMatchObject({
      status: 400,
      body: { error: "invalid_request", field: "params.id" },
    });
    const unknownRegion = new SnowflakeGenerator(9, 0).next();
    expect((await call("GET", `/orders/${unknownRegion}`)).status).toBe(404);
  });

  it("sends catalog reads to the local (first) region", async () => {
    expect(await call("GET", "/skus/PIGGY-SHIRT-M-RED")).toMatchObject({
      status: 200,
      body: { region: "east", id: "PIGGY-SHIRT-M-RED" },
    });
    expect((await call("GET", "/skus/lower-case")).body).toMatchObject({ field: "params.id" });
  });

  it("does not retry an upstream's 503: the client sees it, the upstream is asked once", async () => {
    const before = east.seen.filter((s) => s.url === "/skus/SICK").length;
    const response = await call("GET", "/skus/SICK");
    expect(response.status).toBe(503);
    expect(response.body).toEqual({ error: "sick" });
    expect(east.seen.filter((s) => s.url === "/skus/SICK").length).toBe(before + 1);
  });
});

describe("request ids", () => {
  it("generates one, forwards it upstream and returns it", async () => {
    const id = new SnowflakeGenerator(1, 0).next();
    const response = await call("GET", `/orders/${id}`);
    const requestId = response.headers.get("x-request-id");
    expect(requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(west.seen.find((s) => s.url === `/orders/${id}`)?.headers["x-request-id"]).toBe(requestId);
  });

  it("sends the service token upstream in place of any Authorization the client sent, and the user id as given", async () => {
    const id = new SnowflakeGenerator(0, 2).next();
    await call("GET", `/orders/${id}`, {
      headers: { authorization: "Bearer client-guess", "x-user-id": "u-7" },
    });
    const seen = east.seen.find((s) => s.url === `/orders/${id}`);
    expect(seen?.headers.authorization).toBe(`Bearer ${SERVICE_TOKEN}`);
    expect(seen?.headers["x-user-id"]).toBe("u-7");
    const userId = userIn("west");
    await call("POST", "/orders", {
      body: { userId, items: [] },
      headers: { "idempotency-key": "auth-k-1" },
    });
    expect(west.seen.filter((s) => s.url === "/orders").at(-1)?.headers.authorization).toBe(
      `Bearer ${SERVICE_TOKEN}`,
    );
  });

  it("propagates the client's id, and answers with it even when nothing is proxied", async () => {
    const id = new SnowflakeGenerator(0, 1).next();
    const response = await call("GET", `/orders/${id}`, { headers: { "x-request-id": "client-req-42" } });
    expect(response.headers.get("x-request-id")).toBe("client-req-42");
    expect(east.seen.find((s) => s.url === `/orders/${id}`)?.headers["x-request-id"]).toBe("client-req-42");
    const rejected = await call("POST", "/orders", {
      body: {},
      headers: { "x-request-id": "client-req-43" },
    });
    expect(rejected.headers.get("x-request-id")).toBe("client-req-43");
  });
});

describe("validation", () => {
  it.each([
    ["a missing userId", { items: [] }],
    ["a numeric userId", { userId: 42 }],
    ["an empty userId", { userId: "" }],
  ])("refuses %s with 400 naming body.userId, forwarding nothing", async (_name, body) => {
    const before = ordersSeen(east) + ordersSeen(west);
    expect(await call("POST", "/orders", { body })).toMatchObject({
      status: 400,
      body: { error: "invalid_request", field: "body.userId" },
    });
    expect(ordersSeen(east) + ordersSeen(west)).toBe(before);
  });

  it("refuses malformed JSON", async () => {
    expect(await call("POST", "/orders", { body: '{"userId":' })).toMatchObject({
      status: 400,
      body: { error: "malformed_json" },
    });
  });
});

describe("rate limiting", () => {
  it("answers 429 with Retry-After once a user's bucket is empty, without reaching the upstream", async () => {
    const userId = userIn("east");
    const other = userIn("east");
    for (let i = 0; i < 2; i++) {
      expect((await call("POST", "/orders", { body: { userId } })).status).toBe(201);
    }
    const before = ordersSeen(east);
    const limited = await call("POST", "/orders", { body: { userId } });
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ error: "rate_limited", scope: "user" });
    // 1 token at 0.5/s is ~2 s away; Retry-After is whole seconds, rounded up.
    expect(limited.headers.get("retry-after")).toBe("2");
    expect(ordersSeen(east)).toBe(before);
    // Another user is unaffected.
    expect((await call("POST", "/orders", { body: { userId: other } })).status).toBe(201);
  });

  it("limits reads per user by the x-user-id header", async () => {
    const userId = userIn("west");
    const id = new SnowflakeGenerator(0, 9).next();
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      statuses.push((await call("GET", `/orders/${id}`, { headers: { "x-user-id": userId } })).status);
    }
    expect(statuses).toEqual([200, 200, 429]);
    expect((await call("GET", `/orders/${id}`)).status).toBe(200); // anonymous: global bucket only
  });

  it("refuses with a global 429 once the gateway's bucket is empty", async () => {
    const small = await startGatewayService(
      readEnv(gatewayEnv, {
        CHAOSCART_PORT: "0",
        CHAOSCART_LOG_LEVEL: "silent",
        CHAOSCART_SERVICE_TOKEN: SERVICE_TOKEN,
        CHAOSCART_REGIONS: `east=${east.url}`,
        CHAOSCART_RATE_LIMIT_RPS: "1",
        CHAOSCART_RATE_LIMIT_BURST: "3",
      }),
    );
    try {
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await fetch(`${small.url}/skus/SKU-${i}`)).status);
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      const limited = await fetch(`${small.url}/skus/SKU-X`);
      expect(limited.headers.get("retry-after")).toBe("1");
      expect(await limited.json()).toMatchObject({ error: "rate_limited", scope: "global" });
      // Health and metrics are never rate limited.
      expect((await fetch(`${small.url}/healthz`)).status).toBe(200);
      expect(await (await fetch(`${small.url}/metrics`)).text()).toMatch(
        /chaoscart_gateway_rate_limited_total\{scope="global",service="gateway"\} 3/,
      );
    } finally {
      await small.close();
    }
  });
});

describe("the upstream's in-flight bound", () => {
  it("refuses 429 at once, sending nothing, while every connection to the region is busy; admits again when one frees", async () => {
    const bounded = await startGatewayService(
      readEnv(gatewayEnv, {
        CHAOSCART_PORT: "0",
        CHAOSCART_LOG_LEVEL: "silent",
        CHAOSCART_SERVICE_TOKEN: SERVICE_TOKEN,
        CHAOSCART_REGIONS: `east=${east.url}`,
        CHAOSCART_RATE_LIMIT_RPS: "1000000",
        CHAOSCART_RATE_LIMIT_BURST: "1000000",
        CHAOSCART_USER_RATE_LIMIT_RPS: "1000000",
        CHAOSCART_USER_RATE_LIMIT_BURST: "1000000",
        CHAOSCART_UPSTREAM_MAX_IN_FLIGHT: "2",
      }),
    );
    const order = (sleepMs: number) =>
      fetch(`${bounded.url}/orders`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ userId: userIn("east"), items: [{ sku: "A", qty: 1 }], sleepMs }),
      });
    try {
      const slow = [order(600), order(600)];
      await expect.poll(() => east.seen.filter((s) => s.body.includes('"sleepMs":600')).length).toBe(2);
      const before = east.seen.length;
      const refused = await order(0); // queued behind the slow ones, it would be a 201 after them
      expect(refused.status).toBe(429);
      expect(refused.headers.get("retry-after")).toBe("1");
      expect(await refused.json()).toMatchObject({ error: "rate_limited", scope: "upstream" });
      expect(east.seen.length).toBe(before); // nothing was sent
      expect((await Promise.all(slow)).map((r) => r.status)).toEqual([201, 201]);
      expect((await order(0)).status).toBe(201);
      expect(await (await fetch(`${bounded.url}/metrics`)).text()).toMatch(
        /chaoscart_gateway_rate_limited_total\{scope="upstream",service="gateway"\} 1/,
      );
    } finally {
      await bounded.close();
    }
  });
});

describe("the bench's no-op order route", () => {
  it("exists only with CHAOSCART_BENCH_ENDPOINTS=1, answers without an upstream, and is rate limited like /orders", async () => {
    const body = { userId: userIn("east"), items: [{ sku: "A", qty: 1 }] };
    expect((await call("POST", "/bench/noop-order", { body })).status).toBe(404);
    const bench = await startGatewayService(
      readEnv(gatewayEnv, {
        CHAOSCART_PORT: "0",
        CHAOSCART_LOG_LEVEL: "silent",
        CHAOSCART_SERVICE_TOKEN: SERVICE_TOKEN,
        CHAOSCART_REGIONS: `east=${east.url}`,
        CHAOSCART_USER_RATE_LIMIT_RPS: "0.5",
        CHAOSCART_USER_RATE_LIMIT_BURST: "1",
        CHAOSCART_BENCH_ENDPOINTS: "1",
      }),
    );
    try {
      const before = ordersSeen(east);
      const post = () =>
        fetch(`${bench.url}/bench/noop-order`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        });
      const first = await post();
      expect(first.status).toBe(201);
      expect(first.headers.get("x-chaoscart-region")).toBe("east");
      expect((await post()).status).toBe(429);
      expect(ordersSeen(east)).toBe(before);
    } finally {
      await bench.close();
    }
  });
});

describe("upstream failures", () => {
  it("answers 504 upstream_timeout when the order service is slower than the timeout", async () => {
    const userId = userIn("west");
    const started = performance.now();
    const response = await call("POST", "/orders", { body: { userId, sleepMs: 1500 } });
    const elapsed = performance.now() - started;
    expect(response.status).toBe(504);
    expect(response.body).toMatchObject({ error: "upstream_timeout", region: "west" });
    expect(elapsed).toBeGreaterThanOrEqual(280);
    expect(elapsed).toBeLessThan(700); // the deadline is kept to the millisecond, not undici's 1 s timer wheel
  });

  it("answers 503 upstream_unavailable with Retry-After: 1 when the region's port is closed", async () => {
    const userId = userIn("dead");
    const response = await call("POST", "/orders", { body: { userId } });
    expect(response.status).toBe(503);
    expect(response.body).toMatchObject({ error: "upstream_unavailable", region: "dead" });
    expect(response.headers.get("retry-after")).toBe("1");
    const deadOrder = new SnowflakeGenerator(2, 0).next();
    expect((await call("GET", `/orders/${deadOrder}`)).status).toBe(503);
  });

  it("answers 502 upstream_failed with Retry-After: 1 when the order service dies mid-request", async () => {
    const userId = userIn("east");
    const response = await call("POST", "/orders", { body: { userId, hangUp: true } });
    expect(response.status).toBe(502);
    expect(response.body).toMatchObject({ error: "upstream_failed", region: "east" });
    expect(response.headers.get("retry-after")).toBe("1");
  });
});

describe("routing admin", () => {
  const auth = { authorization: `Bearer ${TOKEN}` };

  it("needs the token", async () => {
    expect((await call("GET", "/admin/routing")).status).toBe(401);
    expect(
      (await call("PUT", "/admin/routing", { body: { version: 9, move: { from: "dead", to: "east" } } }))
        .status,
    ).toBe(401);
  });

  it("moves a dead region's slots, routes its users to the new home, and refuses stale versions", async () => {
    const summary = await call("GET", "/admin/routing", { headers: auth });
    expect(summary).toMatchObject({
      status: 200,
      body: { version: 1, regions: REGIONS, slotsPerRegion: { east: 342, west: 341, dead: 341 } },
    });

    const stranded = userIn("dead");
    expect((await call("POST", "/orders", { body: { userId: stranded } })).status).toBe(503);

    const moved = await call("PUT", "/admin/routing", {
      body: { version: 2, move: { from: "dead", to: "east" } },
      headers: auth,
    });
    expect(moved).toMatchObject({
      status: 200,
      body: { version: 2, slotsPerRegion: { east: 683, dead: 0 } },
    });
    const response = await call("POST", "/orders", { body: { userId: stranded } });
    expect(response).toMatchObject({ status: 201, body: { region: "east" } });

    // Replays and reordered updates are refused; nothing changes.
    expect(
      await call("PUT", "/admin/routing", {
        body: { version: 2, move: { from: "east", to: "west" } },
        headers: auth,
      }),
    ).toMatchObject({ status: 409, body: { error: "stale_version", currentVersion: 2 } });
    expect(
      await call("PUT", "/admin/routing", {
        body: { version: 1, move: { from: "east", to: "west" } },
        headers: auth,
      }),
    ).toMatchObject({ status: 409 });
    expect((await call("GET", "/admin/routing", { headers: auth })).body).toMatchObject({ version: 2 });

    expect(
      await call("PUT", "/admin/routing", {
        body: { version: 3, move: { from: "north", to: "east" } },
        headers: auth,
      }),
    ).toMatchObject({ status: 400, body: { field: "body.move.from" } });
    expect(
      await call("PUT", "/admin/routing", {
        body: { version: 3, move: { from: "east", to: "east" } },
        headers: auth,
      }),
    ).toMatchObject({ status: 400, body: { field: "body.move.to" } });
    expect(await call("PUT", "/admin/routing", { body: { version: "3" }, headers: auth })).toMatchObject({
      status: 400,
      body: { field: "body.version" },
    });

    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/chaoscart_gateway_routing_version\{service="gateway"\} 2/);
  });

  it("moves single slots (a unit move) and routes their users to the new home", async () => {
    const user = userIn("east");
    const slot = slotOf(user);
    const moved = await call("PUT", "/admin/routing", {
      body: { version: 3, slots: { slots: [slot], to: "west" } },
      headers: auth,
    });
    expect(moved).toMatchObject({ status: 200, body: { version: 3 } });
    expect(await call("POST", "/orders", { body: { userId: user } })).toMatchObject({
      status: 201,
      body: { region: "west" },
    });
    expect(
      await call("PUT", "/admin/routing", {
        body: { version: 4, slots: { slots: [5_000], to: "west" } },
        headers: auth,
      }),
    ).toMatchObject({ status: 400, body: { field: "body.slots.slots.0" } });
    expect(
      await call("PUT", "/admin/routing", {
        body: { version: 4, move: { from: "east", to: "west" }, slots: { slots: [1], to: "west" } },
        headers: auth,
      }),
    ).toMatchObject({ status: 400 });
  });
});

describe("health and metrics", () => {
  it("is ready without probing upstreams and exports request, limit and upstream metrics", async () => {
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${gateway.url}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).toMatch(
      /chaoscart_gateway_requests_total\{route="\/orders",status="201",service="gateway"\}/,
    );
    expect(metrics).toMatch(
      /chaoscart_gateway_requests_total\{route="\/orders",status="429",service="gateway"\}/,
    );
    expect(metrics).toMatch(/chaoscart_gateway_rate_limited_total\{scope="user",service="gateway"\} [1-9]/);
    expect(metrics).toMatch(
      /chaoscart_gateway_upstream_seconds_count\{service="gateway",region="west",route="\/orders",outcome="timeout"\} 1/,
    );
    expect(metrics).toMatch(
      /chaoscart_gateway_upstream_seconds_count\{service="gateway",region="dead",route="\/orders",outcome="unavailable"\}/,
    );
  });
});

describe("configuration", () => {
  it("names every bad variable", () => {
    expect(() =>
      readEnv(gatewayEnv, {
        CHAOSCART_REGIONS: "east=http://127.0.0.1:1,east=http://127.0.0.1:2",
        CHAOSCART_RATE_LIMIT_RPS: "-1",
        CHAOSCART_ORDER_TIMEOUT_MS: "soon",
      }),
    ).toThrow(
      /CHAOSCART_REGIONS: region "east" is listed twice[\s\S]*CHAOSCART_RATE_LIMIT_RPS[\s\S]*CHAOSCART_ORDER_TIMEOUT_MS/,
    );
    expect(() => readEnv(gatewayEnv, { CHAOSCART_REGIONS: "east=ftp://x" })).toThrow(/CHAOSCART_REGIONS/);
    expect(() => readEnv(gatewayEnv, { CHAOSCART_REGIONS: "East=http://x" })).toThrow(/CHAOSCART_REGIONS/);
  });

  it("parses the region list in order, with defaults", () => {
    const config = readEnv(gatewayEnv, {
      CHAOSCART_REGIONS: "east=http://127.0.0.1:7101/, west=http://10.0.0.2:7201",
      CHAOSCART_SERVICE_TOKEN: SERVICE_TOKEN,
    });
    expect(config.CHAOSCART_REGIONS).toEqual([
      { name: "east", url: "http://127.0.0.1:7101" },
      { name: "west", url: "http://10.0.0.2:7201" },
    ]);
    expect(config).toMatchObject({
      CHAOSCART_PORT: 7100,
      CHAOSCART_RATE_LIMIT_RPS: 2000,
      CHAOSCART_RATE_LIMIT_BURST: 400,
      CHAOSCART_USER_RATE_LIMIT_RPS: 20,
      CHAOSCART_USER_RATE_LIMIT_BURST: 10,
      CHAOSCART_ORDER_TIMEOUT_MS: 5000,
      CHAOSCART_READ_TIMEOUT_MS: 1000,
    });
  });

  it("refuses a local region that is not listed", async () => {
    await expect(
      startGatewayService(
        readEnv(gatewayEnv, {
          CHAOSCART_PORT: "0",
          CHAOSCART_LOG_LEVEL: "silent",
          CHAOSCART_SERVICE_TOKEN: SERVICE_TOKEN,
          CHAOSCART_REGION: "north",
        }),
      ),
    ).rejects.toThrow(/CHAOSCART_REGION/);
  });
});
