// The capacity ramp runs just before the first experiment, on the same shop. An experiment's
// window reaches back RUN_LOOKBACK_MS before its start (src/lab/experiments/lookback.ts): a ramp
// that ended inside it lent the experiment its last orders, which then failed no-phantom and money
// in a run of the real shop. Forced here: the experiment would start the moment the ramp returns.
import Fastify from "fastify";
import { afterAll, beforeAll, expect, it } from "vitest";
import { measureCapacity, RAMP } from "../../../src/lab/experiments/capacity.ts";
import { RUN_LOOKBACK_MS } from "../../../src/lab/experiments/lookback.ts";
import type { SystemUnderTest } from "../../../src/lab/experiments/system.ts";
import { listen } from "../../../src/shop/http/listen.ts";
import { type FakeGateway, startFakeGateway } from "../workload/fake-gateway.ts";

let gateway: FakeGateway;
const inventory = Fastify({ logger: false });

beforeAll(async () => {
  gateway = await startFakeGateway({ clock: () => Date.now() });
  inventory.post("/admin/skus", async (_request, reply) => reply.code(201).send({ results: [] }));
  await listen(inventory, "127.0.0.1", 0);
});

afterAll(async () => {
  await gateway?.close();
  await inventory.close();
});

it("returns only once its last order is further back than an experiment's window reaches", async () => {
  const inventoryUrl = `http://127.0.0.1:${(inventory.server.address() as { port: number }).port}`;
  const system = {
    region: "east",
    gatewayUrl: gateway.url,
    inventory: { url: inventoryUrl, token: "t" },
    payments: { url: inventoryUrl, token: "t" },
    databaseUrl: () => "postgres://unused",
  } as unknown as SystemUnderTest;
  // Two short steps: the fake gateway confirms everything, so only maxSteps ends the ramp.
  await measureCapacity(system, () => {}, { ...RAMP, maxSteps: 2, stepMs: 300, warmupMs: 100 });
  const returnedAt = Date.now();
  const lastOrderAt = Math.max(...gateway.attempts.map((a) => a.at));
  expect(gateway.attempts.length).toBeGreaterThan(0);
  expect(returnedAt - lastOrderAt).toBeGreaterThanOrEqual(RUN_LOOKBACK_MS);
});
