import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FaultApiServer, startFaultApi } from "../../../src/lab/faults/api.ts";
import { FaultApiError, FaultClient } from "../../../src/lab/faults/client.ts";
import { LinkRegistry } from "../../../src/lab/faults/registry.ts";
import { startEchoServer, TestClient, type TestServer, timed, tryConnect } from "./support.ts";

const TOKEN = "fault-api-test-token";
/** Link names carry `/` and `>`; they travel URL-encoded. */
const ARROW = "east/order->inventory";
const ARROW_PATH = encodeURIComponent(ARROW);
let echo: TestServer;
let registry: LinkRegistry;
let api: FaultApiServer;
let client: FaultClient;

beforeAll(async () => {
  echo = await startEchoServer();
  registry = new LinkRegistry();
  await registry.start({ name: "east/db", upstream: { host: "127.0.0.1", port: echo.port } });
  await registry.start({ name: ARROW, upstream: { host: "127.0.0.1", port: echo.port } });
  api = await startFaultApi({ registry, token: TOKEN });
  client = new FaultClient({ url: api.url, token: TOKEN });
});
afterAll(async () => {
  await api?.close();
  await registry?.closeAll();
  await echo?.close();
});

async function raw(method: string, path: string, init: { token?: string; body?: string } = {}) {
  const headers: Record<string, string> = {};
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${api.url}${path}`, { method, headers, body: init.body });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function failure(promise: Promise<unknown>): Promise<FaultApiError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof FaultApiError) return error;
    throw error;
  }
  throw new Error("expected the request to fail");
}

describe("fault API", () => {
  it("requires the bearer token", async () => {
    expect((await raw("GET", "/links")).status).toBe(401);
    expect((await raw("GET", "/links", { token: "wrong" })).status).toBe(401);
    const spec = JSON.stringify({ type: "latency", direction: "upstream", attributes: { latencyMs: 1 } });
    expect((await raw("POST", `/links/${ARROW_PATH}/toxics`, { body: spec })).status).toBe(401);
    expect((await raw("POST", "/heal")).status).toBe(401);
    expect(registry.get(ARROW)?.toxics()).toEqual([]);
    expect((await raw("GET", "/links", { token: TOKEN })).status).toBe(200);
  });

  it("rejects a bad spec with 400 naming the field", async () => {
    const bad = await raw("POST", `/links/${ARROW_PATH}/toxics`, {
      token: TOKEN,
      body: JSON.stringify({ type: "latency", direction: "upstream", attributes: { latencyMs: -5 } }),
    });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: "invalid_request", field: "attributes.latencyMs" });
    const typed = await failure(
      client.addToxic(ARROW, {
        type: "bandwidth",
        direction: "up" as "upstream",
        attributes: { rateKBps: 1 },
      }),
    );
    expect(typed.status).toBe(400);
    expect(typed.field).toBe("direction");
    const partition = await failure(client.partition(ARROW, "sideways" as "both"));
    expect(partition.field).toBe("body.direction");
    const malformed = await raw("POST", `/links/${ARROW_PATH}/toxics`, { token: TOKEN, body: "{nope" });
    expect(malformed.status).toBe(400);
    expect(registry.get(ARROW)?.toxics()).toEqual([]);
  });

  it("404s an unknown link or toxic", async () => {
    expect((await failure(client.down("nowhere"))).status).toBe(404);
    const unknownToxic = await failure(client.removeToxic(ARROW, "latency-upstream-999"));
    expect(unknownToxic.status).toBe(404);
    expect(unknownToxic.body.error).toBe("unknown_toxic");
  });

  it("adds, lists and removes a toxic, which really applies in between", async () => {
    const link = registry.get("east/db");
    if (!link) throw new Error("no link");
    const toxic = await client.addToxic("east/db", {
      type: "latency",
      direction: "downstream",
      attributes: { latencyMs: 150 },
    });
    expect(toxic).toMatchObject({ type: "latency", direction: "downstream", attributes: { latencyMs: 150 } });
    expect(typeof toxic.startedAt).toBe("number");

    const listed = (await client.links()).find((l) => l.name === "east/db");
    expect(listed?.toxics.map((t) => t.id)).toEqual([toxic.id]);
    expect(listed?.listen.port).toBe(link.port);
    expect(listed?.upstream).toEqual({ host: "127.0.0.1", port: echo.port });

    const c = await TestClient.connect(link.port);
    try {
      const slow = await timed(async () => {
        c.send("a");
        await c.waitForBytes(1);
      });
      expect(slow).toBeGreaterThanOrEqual(150);
      await client.removeToxic("east/db", toxic.id);
      expect((await client.link("east/db")).toxics).toEqual([]);
      const fast = await timed(async () => {
        c.send("b");
        await c.waitForBytes(2);
      });
      expect(fast).toBeLessThan(150);
    } finally {
      c.destroy();
    }
  });

  it("partitions, downs and heals links, one or all", async () => {
    const link = registry.get(ARROW);
    if (!link) throw new Error("no link");
    const partitioned = await client.partition(ARROW, "upstream");
    expect(partitioned.partition?.direction).toBe("upstream");
    await client.addToxic("east/db", { type: "timeout", direction: "upstream" });
    const downed = await client.down(ARROW);
    expect(downed.down).not.toBeNull();
    expect(await tryConnect(link.port)).toBe("ECONNREFUSED");

    const healed = await client.heal(ARROW);
    expect(healed).toMatchObject({ down: null, partition: null, toxics: [] });
    expect(await tryConnect(link.port)).toBe("connected");
    expect((await client.link("east/db")).toxics).toHaveLength(1);

    await client.partition(ARROW);
    const all = await client.healAll();
    for (const status of all) expect(status).toMatchObject({ down: null, partition: null, toxics: [] });
  });
});
