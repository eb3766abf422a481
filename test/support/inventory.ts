import { expect } from "vitest";
import { checkInventoryLedger } from "../../src/lab/checkers/inventory-ledger.ts";
import { readInventoryState } from "../../src/lab/experiments/final-state.ts";
import { createPool, type Db } from "../../src/shop/db/pool.ts";
import type { EngineOptions } from "../../src/shop/inventory/engine.ts";
import { InventoryStore } from "../../src/shop/inventory/store.ts";
import { startTestDatabase, type TestDatabase } from "./postgres.ts";

export const REGION = "east";

/** Engine settings for tests: a 1 ms window, and a TTL and sweeper that stay out of the way. */
export const ENGINE_OPTIONS: EngineOptions = {
  strategy: "coalesce",
  batchWindowMs: 1,
  batchMax: 64,
  bucketSpill: 1,
  reservationTtlMs: 60_000,
  soldOutTtlMs: 1_000,
  sweepIntervalMs: 60_000,
  sweepLimit: 100,
};

export interface InventoryFixture {
  database: TestDatabase;
  db: Db;
  store: InventoryStore;
  /** A new SKU seeded with `stock` units, named `<prefix>-<n>-<time>`. */
  newSku(stock: number): Promise<string>;
  /** Asserts that counters, reservations and movements agree (the lab's ledger checker). */
  expectLedgerConsistent(): Promise<void>;
  stop(): Promise<void>;
}

/** A real PostgreSQL with the shop schema, a pool and an inventory store over it, for one test file. */
export async function startInventoryFixture(prefix = "SKU"): Promise<InventoryFixture> {
  const database = await startTestDatabase();
  const db = createPool(database.url, { max: 8 });
  const store = new InventoryStore(db, REGION);
  let skus = 0;
  return {
    database,
    db,
    store,
    async newSku(stock) {
      const sku = `${prefix}-${++skus}-${Date.now()}`;
      await store.seed([{ id: sku, stock }]);
      return sku;
    },
    async expectLedgerConsistent() {
      const result = checkInventoryLedger(await readInventoryState(database.sql, REGION));
      expect(result.problems).toEqual([]);
    },
    async stop() {
      await db.end({ timeout: 2 });
      await database.stop();
    },
  };
}
