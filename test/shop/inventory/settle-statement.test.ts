import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InventoryStore } from "../../../src/shop/inventory/store.ts";
import { type InventoryFixture, REGION, startInventoryFixture } from "../../support/inventory.ts";
import { holdTransaction, lockWaiters, tableScans } from "../../support/postgres.ts";

/**
 * How a settlement (commit or release, store.ts SETTLE) reaches the orders' reservations: by key,
 * also under a plan cached while the table was small. In `npm run bench` the inventory's plan was
 * made on statistics of about 600 reservations and scanned the whole table on every settlement as it
 * grew to thousands.
 */

let fixture: InventoryFixture;

beforeAll(async () => {
  fixture = await startInventoryFixture("SETTLE");
});

afterAll(() => fixture?.stop());

/**
 * `count` HELD reservations of one unit each, their units taken from stock, for orders with ids as
 * the shop mints them (increasing, one reservation each): `<prefix>` + 1..count.
 */
async function hold(sku: string, prefix: bigint, count: number): Promise<void> {
  const { sql } = fixture.database;
  await sql`
    INSERT INTO reservation (order_id, sku_id, region, qty, state, expires_at)
    SELECT (${prefix.toString()}::bigint + g)::text, ${sku}, ${REGION}, 1, 'HELD', now() + interval '1 hour'
    FROM generate_series(1, ${count}) g`;
  await sql`UPDATE stock SET available = available - ${count}, reserved = reserved + ${count}
            WHERE sku_id = ${sku} AND region = ${REGION}`;
}

describe("a settlement's statement", () => {
  it("finds the orders' reservations by key under a plan made while the table was small", async () => {
    const sku = await fixture.newSku(100_000);
    const small = 235433770604429312n;
    const grown = small + 1_000_000n;
    const id = (base: bigint, n: number) => (base + BigInt(n)).toString();
    await hold(sku, small, 600);
    await fixture.database.sql`ANALYZE reservation`;
    // The plan a busy service ends up with: generic, cached on this session from the first call on.
    const db = postgres(fixture.database.url, {
      max: 1,
      onnotice: () => {},
      connection: { plan_cache_mode: "force_generic_plan", application_name: "chaoscart-inventory-test" },
    });
    try {
      const store = new InventoryStore(db, REGION);
      expect((await store.commitMany([id(small, 1), id(small, 2)])).get(id(small, 1))?.kind).toBe("done");
      await hold(sku, grown, 5_000);
      // Counted on the store's own session: a backend's statistics reach the view when it flushes them.
      const before = (await tableScans(db, ["reservation"])).reservation?.seq ?? 0;
      for (let i = 0; i < 5; i++) {
        const ids = [id(grown, 2 * i + 1), id(grown, 2 * i + 2)];
        const outcomes = await store.commitMany(ids);
        expect(ids.map((id) => outcomes.get(id)?.kind)).toEqual(["done", "done"]);
      }
      expect((await store.release(id(grown, 100))).kind).toBe("done");
      const after = (await tableScans(db, ["reservation"])).reservation?.seq ?? 0;
      expect(after - before).toBe(0);
    } finally {
      await db.end();
    }
  });

  it("locks the orders' reservations in id order, whatever the order they are asked in (no deadlock)", async () => {
    const sku = await fixture.newSku(100_000);
    const base = 235433770604429312n + 2_000_000n;
    await hold(sku, base, 2);
    const [first, second] = [(base + 1n).toString(), (base + 2n).toString()];
    const { sql } = fixture.database;
    // The first order's row is held, so both settlements queue on it, the one asked [first, second]
    // ahead. Locking in the order asked, the one asked [second, first] would hold the second row
    // meanwhile: once the first row is free, the one ahead takes it and each waits for the other's.
    const holder = await holdTransaction(
      sql,
      (tx) => tx`SELECT 1 FROM reservation WHERE order_id = ${first} FOR UPDATE`,
    );
    const stores = [0, 1].map(() => postgres(fixture.database.url, { max: 1, onnotice: () => {} }));
    try {
      const [inOrder, reversed] = stores.map((db) => new InventoryStore(db, REGION));
      const outcome = (p: Promise<unknown> | undefined) =>
        (p as Promise<unknown>).then(
          () => "settled",
          (error: unknown) => String(error),
        );
      const ahead = outcome(inOrder?.commitMany([first, second]));
      await expect.poll(() => lockWaiters(sql, "tombstone"), { timeout: 5_000 }).toBe(1);
      const behind = outcome(reversed?.commitMany([second, first]));
      await expect.poll(() => lockWaiters(sql, "tombstone"), { timeout: 5_000 }).toBe(2);
      const settling = [ahead, behind];
      await holder.rollback();
      expect(await Promise.all(settling)).toEqual(["settled", "settled"]);
      const states = await sql<{ state: string }[]>`
        SELECT state FROM reservation WHERE order_id IN (${first}, ${second})`;
      expect(states.map((r) => r.state)).toEqual(["COMMITTED", "COMMITTED"]);
    } finally {
      await holder.rollback().catch(() => {});
      await Promise.all(stores.map((db) => db.end()));
    }
  });
});
