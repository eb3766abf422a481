// The nemeses against a real lab topology: one region, PostgreSQL primary + replica, every service a
// child process behind fault links. One topology for the file; the failover test is last (not reversible).
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FaultController } from "../../../src/lab/nemeses/controller.ts";
import { createNemesis } from "../../../src/lab/nemeses/factory.ts";
import { NemesisSpecError } from "../../../src/lab/nemeses/spec.ts";
import { startTopology, type Topology } from "../../../src/lab/topology/launcher.ts";
import { isProcessAlive } from "../../../src/lab/topology/postgres/postmaster.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SKU = "NEMESIS-1";

let dir: string;
let topology: Topology;
let primary: postgres.Sql;
let replica: postgres.Sql;
const faults = new FaultController();

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "chaoscart-nemeses-"));
  chmodSync(dir, 0o755); // PostgreSQL runs as another user and must reach its data dirs
  const keep = Boolean(process.env.KEEP_LAB); // KEEP_LAB=1: keep the work dir (service and PostgreSQL logs)
  topology = await startTopology({
    regions: ["east"],
    replication: "async",
    workDir: path.join(dir, "lab"),
    keep,
  });
  const { cluster } = region();
  primary = postgres(cluster.primary.url, { max: 2, onnotice: () => {} });
  replica = postgres(cluster.replica?.url as string, { max: 2, onnotice: () => {} });
  const seeded = await fetch(`${service("east/inventory").url}/admin/skus`, {
    method: "POST",
    headers: { authorization: `Bearer ${topology.token}`, "content-type": "application/json" },
    body: JSON.stringify({ skus: [{ id: SKU, stock: 1_000, price: 1_500 }] }),
  });
  expect(seeded.ok).toBe(true);
  await primary`CREATE TABLE nemesis_rows (id serial PRIMARY KEY, pad text NOT NULL)`;
  await cluster.waitForReplicaCatchUp(10_000);
}, 120_000);

afterAll(async () => {
  await faults.stopAll().catch(() => {});
  await replica?.end({ timeout: 1 });
  await primary?.end({ timeout: 1 });
  await topology?.stop();
  if (dir && !process.env.KEEP_LAB) rmSync(dir, { recursive: true, force: true });
}, 60_000);

function region() {
  const east = topology.regions[0];
  if (!east) throw new Error("no region");
  return east;
}

function service(name: string) {
  const found = topology.services().get(name);
  if (!found) throw new Error(`no service ${name}`);
  return found;
}

/**
 * Status of a GET on a fresh connection, or the error's code (ECONNREFUSED, timeout) when it does not
 * answer within `timeoutMs`. (A pooled keep-alive connection would report the reset of an earlier fault.)
 */
async function probe(
  url: string,
  timeoutMs = 1_000,
  headers: Record<string, string> = {},
): Promise<number | string> {
  const agent = new Agent({ connections: 1 });
  try {
    const response = await request(url, {
      dispatcher: agent,
      headers,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body.dump();
    return response.statusCode;
  } catch (error) {
    const { name, code } = error as { name: string; code?: string };
    return name === "TimeoutError" || name === "AbortError" ? "timeout" : (code ?? name);
  } finally {
    void agent.destroy().catch(() => {});
  }
}

async function timedMs(action: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await action();
  return performance.now() - started;
}

async function eventually<T>(
  read: () => Promise<T>,
  ok: (value: T) => boolean,
  timeoutMs: number,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let value = await read();
  while (!ok(value) && performance.now() < deadline) {
    await sleep(100);
    value = await read();
  }
  return value;
}

async function placeOrder(key: string, userId: string) {
  const response = await fetch(`${topology.gateway.url}/orders`, {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": key },
    body: JSON.stringify({ userId, items: [{ sku: SKU, qty: 1 }] }),
    signal: AbortSignal.timeout(15_000),
  });
  return {
    status: response.status,
    body: (await response.json()) as { id?: string; state?: string; error?: string },
  };
}

async function writeRows(count: number, padBytes: number) {
  await primary`INSERT INTO nemesis_rows (pad) SELECT repeat('x', ${padBytes}) FROM generate_series(1, ${count})`;
}

const rowCount = async (sql: postgres.Sql) =>
  Number((await sql`SELECT count(*)::int AS n FROM nemesis_rows`)[0]?.n);

describe("process nemeses", () => {
  it("kill: the pid is gone while killed; stop restarts the service and /readyz answers 200", async () => {
    const inventory = service("east/inventory");
    const pid = inventory.pid as number;
    const kill = faults.add(createNemesis(topology, { action: "kill", target: "east/inventory" }));
    expect((await kill.start()).detail).toMatchObject({ pid, signal: "SIGKILL" });
    expect(isProcessAlive(pid)).toBe(false);
    expect(inventory.pid).toBeUndefined();
    expect(await probe(`${inventory.url}/readyz`)).toBe("ECONNREFUSED");
    const restarted = await kill.stop();
    expect(restarted.detail).toMatchObject({ restarted: true });
    expect(inventory.pid).not.toBe(pid);
    expect(await probe(`${inventory.url}/readyz`)).toBe(200);
  });

  it("pause: a paused service answers nothing until it is resumed", async () => {
    const payment = service("east/payment-sim");
    const pause = faults.add(createNemesis(topology, { action: "pause", target: "east/payment-sim" }));
    await pause.start();
    expect(await probe(`${payment.url}/healthz`, 500)).toBe("timeout");
    await pause.stop();
    expect(await probe(`${payment.url}/healthz`)).toBe(200);
  });
});

describe("replica lag", () => {
  it("replay-pause: the replica falls behind while the primary writes, and catches up on resume", async () => {
    const { cluster } = region();
    const lag = faults.add(createNemesis(topology, { action: "replica-lag", target: "east" }));
    await lag.start();
    await writeRows(2_000, 100);
    const behind = await cluster.replicaLag();
    expect(behind.bytes).toBeGreaterThan(100_000);
    expect(await rowCount(replica)).toBeLessThan(await rowCount(primary));
    const stopped = await lag.stop();
    expect(stopped.detail.lagBytes).toBeGreaterThan(100_000);
    await cluster.waitForReplicaCatchUp(10_000);
    expect(await rowCount(replica)).toBe(await rowCount(primary));
    expect((await cluster.replicaLag()).bytes).toBeLessThan(64 * 1024);
  });

  it("link: a bandwidth cap on the replication link holds WAL back until it is removed", async () => {
    const { cluster } = region();
    const lag = faults.add(
      createNemesis(topology, { action: "replica-lag", target: "east/replica", mode: "link", rateKBps: 20 }),
    );
    expect((await lag.start()).detail).toMatchObject({ link: "east/replication", rateKBps: 20 });
    await writeRows(2_000, 200);
    await sleep(300);
    expect((await cluster.replicaLag()).bytes).toBeGreaterThan(100_000);
    await lag.stop();
    expect(topology.links.get("east/replication")?.toxics()).toEqual([]);
    await cluster.waitForReplicaCatchUp(15_000);
    expect(await rowCount(replica)).toBe(await rowCount(primary));
  });
});

describe("link and payment nemeses", () => {
  it("latency, partition and down on a service link, each healed by its stop", async () => {
    const link = topology.links.get("east/gateway->order");
    if (!link) throw new Error("no link");
    const through = `http://127.0.0.1:${link.port}/healthz`;
    expect(await timedMs(() => probe(through))).toBeLessThan(200);

    const latency = faults.add(
      createNemesis(topology, { action: "latency", target: link.name, latencyMs: 300, jitterMs: 20 }),
    );
    await latency.start();
    expect(await timedMs(() => probe(through, 3_000))).toBeGreaterThanOrEqual(270);
    await latency.stop();
    expect(await timedMs(() => probe(through))).toBeLessThan(200);

    const partition = faults.add(createNemesis(topology, { action: "partition", target: link.name }));
    await partition.start();
    expect(await probe(through, 500)).toBe("timeout");
    await partition.stop();
    expect(await probe(through)).toBe(200);

    const down = faults.add(createNemesis(topology, { action: "down", target: link.name }));
    await down.start();
    expect(await probe(through)).toBe("ECONNREFUSED");
    await down.stop();
    expect(await probe(through)).toBe(200);
  });

  it("payment: the simulator's latency knob slows its answers; stop sets it back to zero", async () => {
    const payment = service("east/payment-sim");
    const read = () =>
      probe(`${payment.url}/payments/nemesis-probe`, 3_000, {
        authorization: `Bearer ${topology.serviceToken}`,
      });
    expect(await timedMs(read)).toBeLessThan(200);
    const slow = faults.add(createNemesis(topology, { action: "payment", target: "east", latencyMs: 400 }));
    expect((await slow.start()).detail).toMatchObject({ knobs: { latencyMs: 400, errorRate: 0 } });
    expect(await timedMs(read)).toBeGreaterThanOrEqual(380);
    expect((await slow.stop()).detail).toMatchObject({ knobs: { latencyMs: 0 } });
    expect(await timedMs(read)).toBeLessThan(200);
  });

  it("names the target field when a spec points at nothing", () => {
    expect(() => createNemesis(topology, { action: "kill", target: "west/inventory" })).toThrow(
      NemesisSpecError,
    );
    expect(() =>
      createNemesis(topology, { action: "latency", target: "east/nowhere", latencyMs: 5 }),
    ).toThrow(/^target: no link "east\/nowhere"/);
    expect(() => createNemesis(topology, { action: "kill", target: "east/primary" })).toThrow(
      /primary-failover/,
    );
  });
});

describe("database endpoint nemeses", () => {
  it("readonly-endpoint: the order service refuses writes and turns unready; stop makes it ready again", async () => {
    const order = service("east/order");
    const readonly = faults.add(createNemesis(topology, { action: "readonly-endpoint", target: "east" }));
    const started = await readonly.start();
    expect(started.detail).toMatchObject({
      link: "east/order->primary",
      to: `127.0.0.1:${region().cluster.replica?.port}`,
    });
    // The write guard notices on the first write that fails, then reports unready.
    const refused = await placeOrder(`ro-${Date.now()}`, "readonly-user");
    expect(refused.status).toBe(503);
    expect(
      await eventually(
        () => probe(`${order.url}/readyz`),
        (s) => s === 503,
        5_000,
      ),
    ).toBe(503);
    await readonly.stop();
    const ready = await eventually(
      () => probe(`${order.url}/readyz`),
      (s) => s === 200 || !order.pid,
      10_000,
    );
    // Seen ~1 run in 2 at the time of writing: a connection reset while postgres.js fetches array types on a
    // fresh connection is an unhandled rejection (porsager/postgres#1192), which kills the service.
    expect(order.pid, `the order service died; see ${order.spec.logFile}`).toBeDefined();
    expect(ready).toBe(200);
    const placed = await placeOrder(`ro-after-${Date.now()}`, "readonly-user-2");
    expect(placed).toMatchObject({ status: 201, body: { state: "CONFIRMED" } });
  });

  it("primary-failover (last: not reversible): writes through the order service land on the promoted replica", async () => {
    const { cluster } = region();
    const order = service("east/order");
    if (!order.pid) await order.restart(); // an earlier test's failure left it dead: test the failover anyway
    const oldPrimary = cluster.primary;
    const newPrimary = cluster.replica;
    if (!newPrimary) throw new Error("no replica");
    await cluster.waitForReplicaCatchUp(10_000);
    await primary.end({ timeout: 1 });
    const failover = faults.add(createNemesis(topology, { action: "primary-failover", target: "east" }));
    const event = await failover.start();
    expect(isProcessAlive(oldPrimary.pid)).toBe(false);
    expect(event.detail).toMatchObject({
      newPrimary: { port: newPrimary.port },
      oldPrimary: { port: oldPrimary.port, pid: oldPrimary.pid },
      reversible: false,
    });
    const switchoverMs = event.detail.switchoverMs as number;
    expect(switchoverMs).toBeGreaterThan(0);
    expect(switchoverMs).toBeLessThan(30_000);
    for (const name of ["east/order->primary", "east/inventory->primary"]) {
      expect(topology.links.get(name)?.upstream.port).toBe(newPrimary.port);
    }
    const [recovery] = await replica<{ inRecovery: boolean }[]>`SELECT pg_is_in_recovery() AS "inRecovery"`;
    expect(recovery?.inRecovery).toBe(false);

    // A client retries with its idempotency key until the order goes through, as it would in an outage.
    const key = `failover-${Date.now()}`;
    const placed = await eventually(
      () =>
        placeOrder(key, "failover-user").catch((error: Error) => ({
          status: 0,
          body: { error: error.message },
        })),
      (r) => r.status === 201,
      20_000,
    );
    expect(placed).toMatchObject({ status: 201, body: { state: "CONFIRMED" } });
    const id = "id" in placed.body ? placed.body.id : undefined;
    const [stored] = await replica<{ state: string }[]>`SELECT state FROM orders WHERE id = ${id ?? ""}`;
    expect(stored?.state).toBe("CONFIRMED");

    const stopped = await failover.stop();
    expect(stopped.detail).toMatchObject({ reversible: false, primary: { port: newPrimary.port } });
    expect(faults.log.windows().find((w) => w.nemesis === "primary-failover east")).toMatchObject({
      end: expect.any(Number),
      startDetail: { switchoverMs },
    });
  });
});
