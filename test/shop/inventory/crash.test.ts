import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Pool } from "undici";
import { afterAll, beforeAll, expect, it } from "vitest";
import { checkInventoryLedger } from "../../../src/lab/checkers/inventory-ledger.ts";
import { readInventoryState } from "../../../src/lab/experiments/final-state.ts";
import { ServiceProcess } from "../../../src/lab/topology/service-process.ts";
import { startTestDatabase, type TestDatabase } from "../../support/postgres.ts";

const TOKEN = "crash-test-token";
const CHAOSCART_SERVICE_TOKEN = "crash-test-service-token";
const INTERNAL = { authorization: `Bearer ${CHAOSCART_SERVICE_TOKEN}` };
const SKU = "CRASH-HOT-1";
const STOCK = 5_000;

let database: TestDatabase;
let service: ServiceProcess;
let logDir: string;

beforeAll(async () => {
  database = await startTestDatabase();
  logDir = mkdtempSync(path.join(tmpdir(), "chaoscart-crash-"));
  service = await ServiceProcess.start({
    role: "inventory",
    logFile: path.join(logDir, "inventory.log"),
    env: {
      CHAOSCART_DATABASE_URL: database.url,
      CHAOSCART_ADMIN_TOKEN: TOKEN,
      CHAOSCART_SERVICE_TOKEN,
      CHAOSCART_LOG_LEVEL: "warn",
    },
  });
});

afterAll(async () => {
  await service?.stop();
  await database?.stop();
  if (logDir) rmSync(logDir, { recursive: true, force: true });
});

type Seen = "granted" | "rejected" | "unknown";

async function reserve(pool: Pool, orderId: string): Promise<{ seen: Seen; replay?: boolean }> {
  try {
    const response = await pool.request({
      method: "POST",
      path: "/reservations",
      headers: { ...INTERNAL, "content-type": "application/json" },
      body: JSON.stringify({ orderId, sku: SKU, qty: 1 }),
      headersTimeout: 5_000,
      bodyTimeout: 5_000,
    });
    const body = (await response.body.json()) as { replay?: boolean };
    if (response.statusCode === 201 || response.statusCode === 200)
      return { seen: "granted", replay: body.replay };
    if (response.statusCode === 409) return { seen: "rejected" };
    return { seen: "unknown" };
  } catch {
    return { seen: "unknown" }; // reset, refused or timed out: the reserve may or may not have happened
  }
}

it("keeps every acknowledged reservation, and only those or unknown ones, across kill -9 under load", async () => {
  const seed = await fetch(`${service.url}/admin/skus`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ skus: [{ id: SKU, stock: STOCK }] }),
  });
  expect(seed.status).toBe(201);

  const seen = new Map<string, Seen>();
  const pool = new Pool(service.url, { connections: 32 });
  let next = 0;
  let running = true;
  const workers = Array.from({ length: 32 }, async () => {
    while (running) {
      const orderId = `crash-${next++}`;
      seen.set(orderId, "unknown");
      const { seen: outcome } = await reserve(pool, orderId);
      seen.set(orderId, outcome);
      if (outcome === "unknown") await new Promise((r) => setTimeout(r, 5));
    }
  });

  // Let real grants flow, then kill -9 mid-stream.
  while ([...seen.values()].filter((s) => s === "granted").length < 300)
    await new Promise((r) => setTimeout(r, 10));
  const pid = service.pid;
  await service.kill("SIGKILL");
  expect(() => process.kill(pid as number, 0)).toThrow();
  await new Promise((r) => setTimeout(r, 200));
  running = false;
  await Promise.all(workers);
  await pool.close();

  await service.restart();

  const rows = await database.sql<
    { order_id: string }[]
  >`SELECT order_id FROM reservation WHERE sku_id = ${SKU}`;
  const inDb = new Set(rows.map((r) => r.order_id));
  const granted = [...seen].filter(([, s]) => s === "granted").map(([id]) => id);
  const unknown = [...seen].filter(([, s]) => s === "unknown").map(([id]) => id);
  expect(granted.length).toBeGreaterThanOrEqual(300);
  expect(unknown.length).toBeGreaterThan(0);

  // No lost acknowledgement: every grant a client saw survived the crash.
  for (const id of granted) expect(inDb.has(id), `acknowledged ${id} lost`).toBe(true);
  // No phantom: the database holds nothing a client saw rejected or never sent.
  for (const id of inDb)
    expect(seen.get(id) === "granted" || seen.get(id) === "unknown", `phantom ${id}`).toBe(true);

  // Retrying the unknown ones with the same order id returns what actually happened.
  const retryPool = new Pool(service.url, { connections: 8 });
  for (const id of unknown) {
    const retry = await reserve(retryPool, id);
    expect(retry.seen).toBe("granted");
    expect(retry.replay).toBe(inDb.has(id));
  }
  await retryPool.close();

  const ledger = checkInventoryLedger(await readInventoryState(database.sql, "east"));
  expect(ledger.problems).toEqual([]);
  const [stock] = await database.sql`SELECT available, reserved FROM stock WHERE sku_id = ${SKU}`;
  expect(stock?.reserved).toBe(inDb.size + unknown.filter((id) => !inDb.has(id)).length);
});
