import type { ReservedSql } from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InventoryEngine } from "../../../src/shop/inventory/engine.ts";
import { type InventoryStore, ORDER_LOCK_CLASS } from "../../../src/shop/inventory/store.ts";
import {
  type InventoryFixture,
  ENGINE_OPTIONS as options,
  REGION,
  startInventoryFixture,
} from "../../support/inventory.ts";
import { holdTransaction } from "../../support/postgres.ts";

/**
 * Interleavings of settlement, expiry and reserve batches for one order, each forced with a row lock
 * or an uncommitted row held by a separate connection (issue: stock and money defects, §1 and §2).
 */

let fixture: InventoryFixture;
let store: InventoryStore;

beforeAll(async () => {
  fixture = await startInventoryFixture("RACE");
  store = fixture.store;
});

afterAll(() => fixture?.stop());

const newSku = (stock: number) => fixture.newSku(stock);
const expectLedgerConsistent = () => fixture.expectLedgerConsistent();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function statesOf(orderId: string): Promise<string[]> {
  const rows = await fixture.database.sql<{ state: string }[]>`
    SELECT state FROM reservation WHERE order_id = ${orderId} ORDER BY sku_id`;
  return rows.map((r) => r.state);
}

describe("the ledger is in the stock row's order", () => {
  it("stamps a release's movement once it holds the stock row, not while it waits for it", async () => {
    const engine = new InventoryEngine(store, options);
    const sku = await newSku(5);
    const order = `ledger-order-${sku}`;
    await engine.reserve(order, sku, 1);
    // A reserve batch (say) holds the stock row: the release must wait for it.
    const holder = await holdTransaction(
      fixture.database.sql,
      (tx) => tx`SELECT 1 FROM stock WHERE sku_id = ${sku} AND region = ${REGION} FOR UPDATE`,
    );
    const release = engine.release(order);
    await sleep(300);
    const [{ handedOver } = { handedOver: new Date(0) }] = await fixture.database.sql<{ handedOver: Date }[]>`
      SELECT clock_timestamp() AS "handedOver"`;
    await holder.rollback();
    await release;
    await engine.close();
    const [movement] = await fixture.database.sql<{ at: Date }[]>`
      SELECT at FROM stock_movement WHERE order_id = ${order} AND kind = 'release'`;
    // Stamped while waiting, the release would sit before the holder's own movements in the ledger
    // while its stock came back after them (a no-false-sold-out false alarm: a unit "in stock" that
    // a batch had just taken).
    expect(movement?.at.getTime()).toBeGreaterThanOrEqual(handedOver.getTime());
    await expectLedgerConsistent();
  });
});

describe("a reserve batch whose plan went stale", () => {
  it("writes nothing when another writer inserted one of its orders' reservations after its reads", async () => {
    const sku = await newSku(5);
    const [taken, other] = [`stale-taken-${sku}`, `stale-other-${sku}`];
    // Another writer's reservation for `taken`, uncommitted: the batch reads no reservation for it,
    // then its insert waits on the row and, once the writer commits, skips it.
    const writer = await fixture.database.sql.reserve();
    try {
      await writer`BEGIN`;
      await writer`INSERT INTO reservation (order_id, sku_id, region, qty, state, expires_at)
                   VALUES (${taken}, ${sku}, ${REGION}, 1, 'HELD', now() + interval '1 minute')`;
      const batch = store.reserveBatch(
        sku,
        0,
        [
          { orderId: taken, qty: 1 },
          { orderId: other, qty: 1 },
        ],
        60_000,
      );
      batch.catch(() => {});
      await sleep(200); // the batch is now waiting on the writer's row
      await writer`COMMIT`;
      await expect(batch).rejects.toThrow(/another writer got in first/);
    } finally {
      writer.release();
    }
    // All or nothing: the batch's grant for `other`, its stock and its ledger rolled back with it.
    expect(await statesOf(other)).toEqual([]);
    expect(await store.stock(sku)).toMatchObject({ available: 5, reserved: 0 });
    const [moved] = await fixture.database.sql`
      SELECT count(*)::int AS n FROM stock_movement WHERE sku_id = ${sku} AND kind = 'reserve'`;
    expect(moved?.n).toBe(0);
    // The other writer was this test, not an engine: its row has no ledger; remove it.
    await fixture.database.sql`DELETE FROM reservation WHERE order_id = ${taken}`;
  });
});

describe("a reserve batch planned without the stock row's lock", () => {
  it("writes nothing when the units on sale changed between its read and its update, and locking first grants", async () => {
    const sku = await newSku(5);
    const [a, b] = [`unlocked-a-${sku}`, `unlocked-b-${sku}`];
    const requests = [
      { orderId: a, qty: 3 },
      { orderId: b, qty: 3 },
    ];
    // The batch reads 5 on sale and plans a (3) granted, b refused; its update then waits for this
    // writer, which puts 2 more units on sale: 7, enough for both. Written on the old plan, b would
    // be refused while its units were there.
    const batch = commitWhileWaitedOn({
      hold: (writer) => writer`SELECT 1 FROM stock WHERE sku_id = ${sku} AND region = ${REGION} FOR UPDATE`,
      start: () => store.reserveBatch(sku, 0, requests, 60_000, undefined, false),
      meanwhile: async (writer) => {
        await writer`UPDATE stock SET available = available + 2, quota = quota + 2
                     WHERE sku_id = ${sku} AND region = ${REGION}`;
        await writer`INSERT INTO stock_movement (order_id, sku_id, region, kind, qty)
                     VALUES (NULL, ${sku}, ${REGION}, 'seed', 2)`;
      },
    });
    await expect(batch).rejects.toThrow(/planned on 5 units but their number changed/);
    expect(await statesOf(a)).toEqual([]);
    expect(await store.stock(sku)).toMatchObject({ available: 7, reserved: 0 });
    const retried = await store.reserveBatch(sku, 0, requests, 60_000, undefined, true);
    expect(retried.decisions.map((d) => d.kind)).toEqual(["grant", "grant"]);
    expect(await store.stock(sku)).toMatchObject({ available: 1, reserved: 6 });
    await expectLedgerConsistent();
  });
});

describe("settlement is all-or-nothing per order", () => {
  it("does not commit the rest of an order one of whose items expired and was swept", async () => {
    const engine = new InventoryEngine(store, options);
    const [a, b] = [await newSku(5), await newSku(5)];
    const order = `partial-${a}`;
    await engine.reserve(order, a, 1);
    await engine.reserve(order, b, 1);
    // A expired first (B was reserved later, on a retry).
    await fixture.database.sql`UPDATE reservation SET expires_at = now() - interval '1 second'
                       WHERE order_id = ${order} AND sku_id = ${a}`;
    await engine.sweepOnce();
    const commit = await engine.commit(order);
    await engine.close();

    expect(commit.kind).toBe("conflict");
    expect(await statesOf(order)).toEqual(["RELEASED", "RELEASED"]);
    expect(await store.stock(b)).toMatchObject({ available: 5, reserved: 0, sold: 0 });
    await expectLedgerConsistent();
  });

  it("never commits part of an order while the sweeper releases another part", async () => {
    const engine = new InventoryEngine(store, options);
    const [a, b] = [await newSku(5), await newSku(5)];
    const order = `split-${a}`;
    await engine.reserve(order, a, 1);
    await engine.reserve(order, b, 1);
    await fixture.database
      .sql`UPDATE reservation SET expires_at = now() - interval '1 second' WHERE order_id = ${order}`;
    // A commit of this order is under way and holds A's row: the sweeper must not release B alone.
    const commitInProgress = await holdTransaction(
      fixture.database.sql,
      (tx) => tx`SELECT 1 FROM reservation WHERE order_id = ${order} AND sku_id = ${a} FOR UPDATE`,
    );
    const sweep = engine.sweepOnce();
    await sleep(300);
    await commitInProgress.rollback();
    await sweep;
    const commit = await engine.commit(order);
    await engine.close();

    const states = await statesOf(order);
    expect(new Set(states).size, `states ${states.join(", ")}`).toBe(1);
    expect(commit.kind === "done").toBe(states[0] === "COMMITTED");
    await expectLedgerConsistent();
  });

  it("refuses a commit while any item of the order is no longer held, and changes nothing", async () => {
    const engine = new InventoryEngine(store, options);
    const [a, b] = [await newSku(5), await newSku(5)];
    const order = `mixed-${a}`;
    await engine.reserve(order, a, 1);
    await engine.reserve(order, b, 2);
    await engine.release(order);
    // A later reserve of B for the same order (a retry that arrived after the release) is refused.
    expect(await engine.reserve(order, b, 2)).toMatchObject({ kind: "rejected", reason: "order_released" });
    expect(await engine.commit(order)).toMatchObject({ kind: "conflict", state: "RELEASED" });
    await engine.close();
    expect(await statesOf(order)).toEqual(["RELEASED", "RELEASED"]);
    await expectLedgerConsistent();
  });
});

describe.each(["coalesce", "direct"] as const)(
  "a release racing a reserve of the same order (%s)",
  (strategy) => {
    /**
     * The reserve's INSERT is held up by an uncommitted row with its key, after the reserve has read
     * the release tombstones: a release committing meanwhile must not leave the grant HELD.
     */
    async function raceReleaseAgainstDelayedReserve(order: string, sku: string, alreadyHeld?: string) {
      const engine = new InventoryEngine(store, { ...options, strategy });
      if (alreadyHeld) await engine.reserve(order, alreadyHeld, 1);
      const blocker = await holdTransaction(
        fixture.database.sql,
        (tx) =>
          tx`INSERT INTO reservation (order_id, sku_id, region, qty, state, expires_at)
         VALUES (${order}, ${sku}, ${REGION}, 1, 'HELD', now() + interval '1 minute')`,
      );
      const reserve = engine.reserve(order, sku, 1);
      await sleep(200); // the reserve is now waiting on the blocker's row
      const release = engine.release(order);
      await sleep(200); // the release has committed, or is waiting for the reserve
      await blocker.rollback();
      const [reserved, released] = await Promise.all([reserve, release]);
      await engine.close();
      return { reserved, released };
    }

    it("single SKU, no reservation yet when the release starts", async () => {
      const sku = await newSku(5);
      const order = `race-one-${strategy}-${sku}`;
      await raceReleaseAgainstDelayedReserve(order, sku);
      expect(await statesOf(order)).not.toContain("HELD");
      expect(await store.stock(sku)).toMatchObject({ available: 5, reserved: 0, sold: 0 });
      await expectLedgerConsistent();
    });

    it("multi-SKU: the release changes SKU A while a reserve of SKU B is in flight", async () => {
      const [a, b] = [await newSku(5), await newSku(5)];
      const order = `race-multi-${strategy}-${a}`;
      await raceReleaseAgainstDelayedReserve(order, b, a);
      expect(await statesOf(order)).not.toContain("HELD");
      expect(await store.stock(a)).toMatchObject({ available: 5, reserved: 0 });
      expect(await store.stock(b)).toMatchObject({ available: 5, reserved: 0 });
      await expectLedgerConsistent();
    });
  },
);

describe("a lone reserve (one round trip)", () => {
  it("grants only a clean first reservation, and leaves refusals, replays and unknown SKUs to the batch", async () => {
    const sku = await newSku(5);
    const order = `lone-${sku}`;
    const granted = await store.reserveOne(sku, 0, { orderId: order, qty: 2 }, 60_000);
    expect(granted).toMatchObject({ granted: 2, remaining: 3, buckets: 1, decisions: [{ kind: "grant" }] });
    expect(await store.stock(sku)).toMatchObject({ available: 3, reserved: 2 });
    expect(await store.reserveOne(sku, 0, { orderId: order, qty: 2 }, 60_000)).toBeUndefined(); // replay
    expect(await store.reserveOne(sku, 0, { orderId: `${order}-big`, qty: 4 }, 60_000)).toBeUndefined();
    const engine = new InventoryEngine(store, options);
    await engine.release(`${order}-gone`); // a tombstone: the order was compensated before it reserved
    await engine.close();
    expect(await store.reserveOne(sku, 0, { orderId: `${order}-gone`, qty: 1 }, 60_000)).toBeUndefined();
    expect(
      await store.reserveOne(`${sku}-NONE`, 0, { orderId: `${order}-x`, qty: 1 }, 60_000),
    ).toBeUndefined();
    expect(await store.stock(sku)).toMatchObject({ available: 3, reserved: 2 });
    await expectLedgerConsistent();
  });

  it("does not grant an order whose release committed while it waited for the order's lock", async () => {
    const sku = await newSku(5);
    const order = `lone-released-${sku}`;
    const reserve = commitWhileWaitedOn({
      hold: async (releaser) => {
        await releaser`SELECT pg_advisory_xact_lock(${ORDER_LOCK_CLASS}, hashtext(${order}))`;
        await releaser`INSERT INTO released_order (order_id) VALUES (${order})`;
      },
      start: () => store.reserveOne(sku, 0, { orderId: order, qty: 1 }, 60_000),
    });
    expect(await reserve).toBeUndefined();
    expect(await store.stock(sku)).toMatchObject({ available: 5, reserved: 0 });
  });

  it("steps aside, changing nothing, when another writer's reservation of the order lands first", async () => {
    const sku = await newSku(5);
    const order = `lone-raced-${sku}`;
    const reserve = commitWhileWaitedOn({
      hold: (writer) => writer`INSERT INTO reservation (order_id, sku_id, region, qty, state, expires_at)
                               VALUES (${order}, ${sku}, ${REGION}, 1, 'HELD', now() + interval '1 minute')`,
      start: () => store.reserveOne(sku, 0, { orderId: order, qty: 1 }, 60_000), // its insert waits on the row
    });
    expect(await reserve).toBeUndefined();
    expect(await store.stock(sku)).toMatchObject({ available: 5, reserved: 0 });
    const [moved] = await fixture.database.sql`
      SELECT count(*)::int AS n FROM stock_movement WHERE sku_id = ${sku} AND kind = 'reserve'`;
    expect(moved?.n).toBe(0);
    await fixture.database.sql`DELETE FROM reservation WHERE order_id = ${order}`; // the test's own row
  });
});

/**
 * Forces "X waits for a writer, which commits": `hold` runs in a transaction on its own connection,
 * `start` begins X once it has, and once X waits for a lock, `meanwhile` runs and the transaction
 * commits. Resolves (or rejects) as X does.
 */
async function commitWhileWaitedOn<T>(steps: {
  hold: (writer: ReservedSql) => Promise<unknown>;
  start: () => Promise<T>;
  meanwhile?: (writer: ReservedSql) => Promise<unknown>;
}): Promise<T> {
  const writer = await fixture.database.sql.reserve();
  let committed = false;
  try {
    await writer`BEGIN`;
    await steps.hold(writer);
    const waiting = steps.start();
    waiting.catch(() => {}); // awaited below, once the writer has committed
    await waitUntilWaitingForALock();
    await steps.meanwhile?.(writer);
    await writer`COMMIT`;
    committed = true;
    return await waiting;
  } finally {
    if (!committed) await writer`ROLLBACK`.catch(() => {});
    writer.release();
  }
}

async function waitUntilWaitingForALock(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const [row] = await fixture.database.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted`;
    if (row?.n) return;
    await sleep(20);
  }
  throw new Error("nothing ever waited for a lock");
}
