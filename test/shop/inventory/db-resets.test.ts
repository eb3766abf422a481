import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FaultLink } from "../../../src/lab/faults/index.ts";
import { createPool, type Db } from "../../../src/shop/db/pool.ts";
import { InventoryEngine } from "../../../src/shop/inventory/engine.ts";
import { InventoryStore } from "../../../src/shop/inventory/store.ts";
import { ENGINE_OPTIONS, REGION } from "../../support/inventory.ts";
import { startTestDatabase, type TestDatabase } from "../../support/postgres.ts";

/**
 * The inventory's database connections reset under load (the lab's reset_peer toxic on the
 * inventory→primary link, as a random schedule of `verify --explore` did): once the link is healthy
 * again, every SKU must sell again. Before the postgres.js patch (patches/postgres+3.4.9.patch) a
 * reserve batch's pipelined transaction whose connection died could hang in its ROLLBACK, stalling
 * its SKU's lane for good, or its connection went back to the pool closed, failing every later
 * query sent to it.
 */

let database: TestDatabase;
let link: FaultLink;
let db: Db;

beforeAll(async () => {
  database = await startTestDatabase();
  const upstream = { host: "127.0.0.1", port: Number(new URL(database.url).port) };
  link = await FaultLink.start({ name: "test/inventory->primary", upstream });
  const url = new URL(database.url);
  url.port = String(link.port);
  db = createPool(url.toString(), { max: 10, applicationName: "db-resets-test" });
});

afterAll(async () => {
  await db?.end({ timeout: 1 });
  await link?.close();
  await database?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Call {
  sentAt: number;
  outcome?: string;
}

describe("inventory engine: database connections reset under load", () => {
  it("settles every reservation, and grants every one sent a second after the link healed", async () => {
    const store = new InventoryStore(db, REGION);
    const skus = ["RESET-1", "RESET-2", "RESET-3"];
    await store.seed(skus.map((id) => ({ id, stock: 1_000_000 })));
    const engine = new InventoryEngine(store, { ...ENGINE_OPTIONS, batchWindowMs: 0 });
    const calls: Call[] = [];
    const start = performance.now();
    const now = () => performance.now() - start;
    let healedAt = Number.POSITIVE_INFINITY;
    let sending = true;
    const traffic = (async () => {
      for (let n = 0; sending; n++) {
        const call: Call = { sentAt: now() };
        calls.push(call);
        engine.reserve(String(2_000_000_000 + n), skus[n % skus.length] as string, 1).then(
          (outcome) => {
            call.outcome = outcome.kind;
          },
          (error: Error) => {
            call.outcome = `error: ${error.message}`;
          },
        );
        await sleep(10);
      }
    })();
    try {
      await sleep(1_500);
      const toxic = link.addToxic({
        type: "reset_peer",
        direction: "upstream",
        toxicity: 0.9,
        attributes: { timeoutMs: 300 },
      });
      await sleep(3_500);
      link.removeToxic(toxic);
      healedAt = now();
      await sleep(4_000);
    } finally {
      sending = false;
      await traffic;
    }
    for (let waited = 0; waited < 10_000 && calls.some((c) => c.outcome === undefined); waited += 100) {
      await sleep(100);
    }
    // A hung batch would hang the close too: give up on it after a while, the assertions tell why.
    await Promise.race([engine.close(), sleep(2_000)]);

    const unsettled = calls.filter((c) => c.outcome === undefined);
    expect(unsettled.length, `${unsettled.length} of ${calls.length} reservations never settled`).toBe(0);
    const afterHeal = calls.filter((c) => c.sentAt >= healedAt + 1_000);
    expect(afterHeal.length).toBeGreaterThan(100);
    const refused = new Map<string, number>();
    for (const call of afterHeal) {
      if (call.outcome !== "granted")
        refused.set(String(call.outcome), (refused.get(String(call.outcome)) ?? 0) + 1);
    }
    expect([...refused]).toEqual([]);
  });
});
