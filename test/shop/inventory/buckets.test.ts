import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InventoryEngine, type ReserveOutcome } from "../../../src/shop/inventory/engine.ts";
import { bucketShares, type InventoryStore } from "../../../src/shop/inventory/store.ts";
import {
  type InventoryFixture,
  ENGINE_OPTIONS as options,
  REGION,
  startInventoryFixture,
} from "../../support/inventory.ts";

/** A SKU's stock split into buckets (issue "flash-sale speed" §4): several batches of it commit at once. */

let fixture: InventoryFixture;
let store: InventoryStore;
let skus = 0;

beforeAll(async () => {
  fixture = await startInventoryFixture("BUCKET");
  store = fixture.store;
});

afterAll(() => fixture?.stop());

async function newSku(stock: number, buckets: number): Promise<string> {
  const sku = `BUCKET-${++skus}-${Date.now()}`;
  await store.seed([{ id: sku, stock, buckets }]);
  return sku;
}

function bucketsOf(sku: string) {
  return fixture.database.sql<
    { bucket: number; available: number; reserved: number; sold: number; quota: number }[]
  >`
    SELECT bucket, available, reserved, sold, quota FROM stock WHERE sku_id = ${sku} AND region = ${REGION}
    ORDER BY bucket`;
}

const grantedQty = (outcomes: ReserveOutcome[]) =>
  outcomes.reduce((sum, o) => sum + (o.kind === "granted" ? o.qty : 0), 0);

describe("stock buckets", () => {
  it("seeds a SKU's units as evenly as can be over its buckets", async () => {
    expect(bucketShares(10, 4)).toEqual([3, 3, 2, 2]);
    expect(bucketShares(2, 4)).toEqual([1, 1, 0, 0]);
    const sku = await newSku(10, 4);
    expect((await bucketsOf(sku)).map((b) => b.quota)).toEqual([3, 3, 2, 2]);
    expect(await store.stock(sku)).toMatchObject({ available: 10, reserved: 0, sold: 0, quota: 10 });
    // Seeding again with the same quota is a no-op, whatever the split.
    expect(await store.seed([{ id: sku, stock: 10, buckets: 2 }])).toEqual([{ sku, created: false }]);
  });

  it("sells exactly the stock, from several buckets, when many more buyers reserve concurrently", async () => {
    const engine = new InventoryEngine(store, { ...options, batchWindowMs: 0 });
    const sku = await newSku(37, 4);
    const outcomes = await Promise.all(
      Array.from({ length: 400 }, (_, i) => engine.reserve(`hot-${sku}-${i}`, sku, 1)),
    );
    await engine.close();
    expect(grantedQty(outcomes)).toBe(37);
    expect(await store.stock(sku)).toMatchObject({ available: 0, reserved: 37, quota: 37 });
    const used = (await bucketsOf(sku)).filter((row) => row.reserved > 0);
    expect(used.length).toBeGreaterThan(1);
    await fixture.expectLedgerConsistent();
  });

  it("keeps to the first bucket until its queue reaches the spill point", async () => {
    const engine = new InventoryEngine(store, { ...options, batchWindowMs: 0, bucketSpill: 1000 });
    const sku = await newSku(400, 4); // 100 a bucket
    await engine.reserve(`first-${sku}`, sku, 1); // the engine learns the SKU has 4 buckets
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, (_, i) => engine.reserve(`one-${sku}-${i}`, sku, 1)),
    );
    await engine.close();
    expect(grantedQty(outcomes)).toBe(40);
    expect((await bucketsOf(sku)).map((b) => b.reserved)).toEqual([41, 0, 0, 0]);
  });

  it("never refuses a buyer while the buckets together still have enough for them", async () => {
    const engine = new InventoryEngine(store, { ...options, batchWindowMs: 0 });
    const sku = await newSku(50, 4);
    const qtys = Array.from({ length: 120 }, (_, i) => 1 + (i % 3));
    const outcomes = await Promise.all(qtys.map((qty, i) => engine.reserve(`mixed-${sku}-${i}`, sku, qty)));
    const sold = grantedQty(outcomes);
    expect(sold).toBeLessThanOrEqual(50);
    // Then one buyer at a time: each is refused only if the SKU has fewer units than asked.
    for (let i = 0; i < 60; i++) {
      const qty = 1 + (i % 2);
      const outcome = await engine.reserve(`late-${sku}-${i}`, sku, qty);
      const left = (await store.stock(sku))?.available ?? -1;
      if (outcome.kind === "rejected") expect(left, `refused ${qty} with ${left} left`).toBeLessThan(qty);
    }
    await engine.close();
    expect(await store.stock(sku)).toMatchObject({ available: 0, reserved: 50 });
    await fixture.expectLedgerConsistent();
  });

  it("grants a request larger than any bucket's share by moving the units into one bucket", async () => {
    const engine = new InventoryEngine(store, { ...options, batchWindowMs: 0 });
    const sku = await newSku(10, 4); // 3, 3, 2, 2
    const outcome = await engine.reserve(`big-${sku}`, sku, 7);
    const refused = await engine.reserve(`too-big-${sku}`, sku, 4);
    await engine.close();
    expect(outcome).toMatchObject({ kind: "granted", qty: 7 });
    expect(refused).toMatchObject({ kind: "rejected", reason: "insufficient_stock" });
    expect(await store.stock(sku)).toMatchObject({ available: 3, reserved: 7, quota: 10 });
    await fixture.expectLedgerConsistent();
  });

  it("commits and releases each reservation against the bucket it was taken from", async () => {
    const engine = new InventoryEngine(store, { ...options, batchWindowMs: 0 });
    const sku = await newSku(8, 4);
    const orders = Array.from({ length: 8 }, (_, i) => `settle-${sku}-${i}`);
    const outcomes = await Promise.all(orders.map((order) => engine.reserve(order, sku, 1)));
    expect(grantedQty(outcomes)).toBe(8);
    const committed = await store.commitMany(orders.slice(0, 4));
    expect([...committed.values()].every((o) => o.kind === "done")).toBe(true);
    for (const order of orders.slice(4)) expect(await engine.release(order)).toMatchObject({ kind: "done" });
    await engine.close();
    const rows = await bucketsOf(sku);
    for (const row of rows) expect(row.available + row.reserved + row.sold).toBe(row.quota);
    expect(await store.stock(sku)).toMatchObject({ available: 4, reserved: 0, sold: 4, quota: 8 });
    // Each bucket sold and returned exactly what its own reservations say.
    const byBucket = await fixture.database.sql<{ bucket: number; sold: number; returned: number }[]>`
      SELECT bucket, count(*) FILTER (WHERE state = 'COMMITTED')::int AS sold,
             count(*) FILTER (WHERE state = 'RELEASED')::int AS returned
      FROM reservation WHERE sku_id = ${sku} GROUP BY bucket ORDER BY bucket`;
    for (const { bucket, sold, returned } of byBucket) {
      const row = rows.find((r) => r.bucket === bucket);
      expect({ bucket, sold: row?.sold, available: row?.available }).toEqual({
        bucket,
        sold,
        available: returned,
      });
    }
    await fixture.expectLedgerConsistent();
  });

  it("answers a retry with its grant, and sells a returned unit, though it saw every bucket run dry", async () => {
    const engine = new InventoryEngine(store, { ...options, batchWindowMs: 0 });
    const sku = await newSku(2, 2);
    const first = await Promise.all([engine.reserve(`a-${sku}`, sku, 1), engine.reserve(`b-${sku}`, sku, 1)]);
    expect(grantedQty(first)).toBe(2);
    // The engine now knows both buckets are empty, within its sold-out TTL (1 s here).
    expect(await engine.reserve(`c-${sku}`, sku, 1)).toMatchObject({ kind: "rejected" });
    // A retry of an order that holds a unit gets its grant back, though every bucket is known empty.
    expect(await engine.reserve(`b-${sku}`, sku, 1)).toMatchObject({ kind: "granted", replay: true });
    await engine.release(`a-${sku}`);
    expect(await engine.reserve(`d-${sku}`, sku, 1)).toMatchObject({ kind: "granted" });
    await engine.close();
    await fixture.expectLedgerConsistent();
  });
});
