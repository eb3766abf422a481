import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InventoryEngine, type ReserveOutcome } from "../../../src/shop/inventory/engine.ts";
import type { SettleOutcome } from "../../../src/shop/inventory/records.ts";
import type { InventoryStore } from "../../../src/shop/inventory/store.ts";
import {
  type InventoryFixture,
  ENGINE_OPTIONS as options,
  startInventoryFixture,
} from "../../support/inventory.ts";

let fixture: InventoryFixture;
let store: InventoryStore;

beforeAll(async () => {
  fixture = await startInventoryFixture("SKU");
  store = fixture.store;
});

afterAll(() => fixture?.stop());

const newSku = (stock: number) => fixture.newSku(stock);
const expectLedgerConsistent = () => fixture.expectLedgerConsistent();

function granted(outcomes: ReserveOutcome[]) {
  return outcomes.filter((o) => o.kind === "granted");
}

describe.each([
  { strategy: "coalesce", batchWindowMs: 1 },
  { strategy: "coalesce", batchWindowMs: 0 },
  { strategy: "direct", batchWindowMs: 1 },
] as const)("inventory engine ($strategy, window $batchWindowMs ms)", ({ strategy, batchWindowMs }) => {
  it("grants exactly the stock when many more buyers reserve concurrently", async () => {
    const engine = new InventoryEngine(store, { ...options, strategy, batchWindowMs });
    const sku = await newSku(37);
    const outcomes = await Promise.all(
      Array.from({ length: 400 }, (_, i) => engine.reserve(`${strategy}-hot-${sku}-${i}`, sku, 1)),
    );
    await engine.close();
    expect(granted(outcomes)).toHaveLength(37);
    expect(await store.stock(sku)).toMatchObject({ available: 0, reserved: 37, sold: 0, quota: 37 });
    const rows = await fixture.database.sql`SELECT order_id FROM reservation WHERE sku_id = ${sku}`;
    expect(rows).toHaveLength(37);
    await expectLedgerConsistent();
  });

  it("grants one reservation for concurrent duplicates of one order", async () => {
    const engine = new InventoryEngine(store, { ...options, strategy, batchWindowMs });
    const sku = await newSku(100);
    const orderId = `${strategy}-dup-${sku}`;
    const outcomes = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        i % 3 === 0 ? engine.reserve(orderId, sku, 2) : engine.reserve(`${orderId}-other-${i}`, sku, 1),
      ),
    );
    await engine.close();
    const mine = outcomes.filter((o) => o.orderId === orderId);
    expect(mine.every((o) => o.kind === "granted")).toBe(true);
    expect(mine.filter((o) => o.kind === "granted" && !o.replay).length).toBeLessThanOrEqual(
      strategy === "coalesce" ? mine.length : 1,
    );
    expect(await store.reservationsOf(orderId)).toHaveLength(1);
    expect(await store.stock(sku)).toMatchObject({ reserved: 2 + 40, available: 100 - 42 });
    await expectLedgerConsistent();
  });
});

describe("inventory engine: window 0", () => {
  it("sends a lone reserve at once and batches what arrived in one turn of the event loop", async () => {
    const batches: number[] = [];
    const engine = new InventoryEngine(
      store,
      { ...options, batchWindowMs: 0 },
      { batch: (_sku, size) => batches.push(size) },
    );
    const sku = await newSku(100);
    await engine.reserve(`w0-lone-${sku}`, sku, 1);
    // Five reserves issued in one turn: one batch; three more while it is in flight: the next one.
    const burst = Array.from({ length: 5 }, (_, i) => engine.reserve(`w0-burst-${sku}-${i}`, sku, 1));
    await new Promise((resolve) => setImmediate(resolve));
    const during = Array.from({ length: 3 }, (_, i) => engine.reserve(`w0-during-${sku}-${i}`, sku, 1));
    await Promise.all([...burst, ...during]);
    await engine.close();
    expect(batches).toEqual([1, 5, 3]);
    await expectLedgerConsistent();
  });
});

describe("inventory engine: idempotency, release and expiry", () => {
  it("keeps the first outcome across engine instances (a restart) and rejects a changed quantity", async () => {
    const sku = await newSku(1);
    const first = new InventoryEngine(store, options);
    expect(await first.reserve("restart-a", sku, 1)).toMatchObject({ kind: "granted", replay: false });
    await first.close();
    const second = new InventoryEngine(store, options);
    expect(await second.reserve("restart-a", sku, 1)).toMatchObject({
      kind: "granted",
      replay: true,
      state: "HELD",
    });
    expect(await second.reserve("restart-a", sku, 2)).toMatchObject({
      kind: "rejected",
      reason: "qty_mismatch",
    });
    expect(await second.reserve("restart-b", sku, 1)).toMatchObject({ kind: "rejected" });
    await second.close();
  });

  it("answers replays of granted orders even on the sold-out fast path", async () => {
    const engine = new InventoryEngine(store, options);
    const sku = await newSku(2);
    await Promise.all([
      engine.reserve("so-1", sku, 1),
      engine.reserve("so-2", sku, 1),
      engine.reserve("so-3", sku, 1),
    ]);
    // Let the sold-out holder set load, then check the fast path still recognises holders.
    await new Promise((r) => setTimeout(r, 50));
    expect(await engine.reserve("so-4", sku, 1)).toMatchObject({ kind: "rejected", reason: "sold_out" });
    expect(await engine.reserve("so-1", sku, 1)).toMatchObject({ kind: "granted", replay: true });
    await engine.close();
  });

  it("returns stock exactly once when a release is repeated concurrently, and frees the sold-out flag", async () => {
    const engine = new InventoryEngine(store, options);
    const sku = await newSku(3);
    await engine.reserve("rel-1", sku, 3);
    expect(await engine.reserve("rel-2", sku, 1)).toMatchObject({ kind: "rejected" });
    const releases = await Promise.all(Array.from({ length: 10 }, () => engine.release("rel-1")));
    expect(releases.every((r) => r.kind === "done" && r.state === "RELEASED")).toBe(true);
    expect(releases.filter((r) => r.kind === "done" && r.changed)).toHaveLength(1);
    expect(await store.stock(sku)).toMatchObject({ available: 3, reserved: 0 });
    expect(await engine.reserve("rel-2", sku, 1)).toMatchObject({ kind: "granted" });
    expect(await engine.commit("rel-1")).toMatchObject({ kind: "conflict", state: "RELEASED" });
    expect(await engine.reserve("rel-1", sku, 3)).toMatchObject({
      kind: "rejected",
      reason: "order_released",
    });
    await engine.close();
    await expectLedgerConsistent();
  });

  it("refuses a reserve that arrives after its order was released (compensation ran first)", async () => {
    const engine = new InventoryEngine(store, options);
    const sku = await newSku(5);
    expect(await engine.release("late-1")).toEqual({ kind: "not_found" });
    expect(await engine.reserve("late-1", sku, 1)).toMatchObject({
      kind: "rejected",
      reason: "order_released",
    });
    expect(await store.stock(sku)).toMatchObject({ available: 5 });
    await engine.close();
  });

  it("commits once and refuses to release what was sold", async () => {
    const engine = new InventoryEngine(store, options);
    const sku = await newSku(4);
    await engine.reserve("com-1", sku, 2);
    const commits = await Promise.all(Array.from({ length: 5 }, () => engine.commit("com-1")));
    expect(commits.filter((c) => c.kind === "done" && c.changed)).toHaveLength(1);
    expect(await engine.release("com-1")).toMatchObject({ kind: "conflict", state: "COMMITTED" });
    expect(await store.stock(sku)).toMatchObject({ available: 2, reserved: 0, sold: 2 });
    await engine.close();
    await expectLedgerConsistent();
  });

  it("commits many orders in one statement, each all or nothing on its own", async () => {
    const engine = new InventoryEngine(store, options);
    const [a, b] = [await newSku(10), await newSku(10)];
    const whole = `many-whole-${a}`;
    const torn = `many-torn-${a}`;
    const single = `many-single-${a}`;
    const unknown = `many-unknown-${a}`;
    for (const order of [whole, torn]) {
      await engine.reserve(order, a, 1);
      await engine.reserve(order, b, 2);
    }
    await engine.reserve(single, b, 3);
    // One of torn's items was released (as expiry would): none of torn may sell, the others must.
    await fixture.database
      .sql`UPDATE reservation SET state = 'RELEASED' WHERE order_id = ${torn} AND sku_id = ${a}`;
    await fixture.database
      .sql`UPDATE stock SET reserved = reserved - 1, available = available + 1 WHERE sku_id = ${a}`;
    await fixture.database
      .sql`INSERT INTO stock_movement (order_id, sku_id, region, kind, qty) VALUES (${torn}, ${a}, ${store.region}, 'release', 1)`;

    const outcomes = await engine.commitMany([whole, torn, single, unknown]);
    expect(outcomes.get(whole)).toMatchObject({ kind: "done", state: "COMMITTED", changed: true });
    expect(outcomes.get(whole)).toMatchObject({ items: [{ sku: a }, { sku: b }] });
    expect(outcomes.get(torn)).toMatchObject({ kind: "conflict", state: "RELEASED" });
    expect(outcomes.get(single)).toMatchObject({ kind: "done", changed: true, moved: [{ qty: 3 }] });
    expect(outcomes.get(unknown)).toEqual({ kind: "not_found" });
    expect((await store.reservationsOf(torn)).map((r) => r.state)).toEqual(["RELEASED", "HELD"]);
    expect(await store.stock(a)).toMatchObject({ reserved: 0, sold: 1, available: 9 });
    expect(await store.stock(b)).toMatchObject({ reserved: 2, sold: 5, available: 3 });
    // A replay of the batch changes nothing and answers the same.
    const again = await engine.commitMany([single, whole]);
    expect(again.get(whole)).toMatchObject({ kind: "done", changed: false });
    expect(again.get(single)).toMatchObject({ kind: "done", changed: false });
    await engine.close();
    await expectLedgerConsistent();
  });

  it("settles each multi-SKU order one way when commits and releases race, without deadlocks", async () => {
    const engine = new InventoryEngine(store, options);
    const [a, b] = [await newSku(100), await newSku(100)];
    // Orders holding both SKUs, half listed A-then-B and half B-then-A: concurrent settlements lock both rows.
    const orders = Array.from({ length: 20 }, (_, i) => `race-${a}-${i}`);
    for (const [i, order] of orders.entries()) {
      const [first, second] = i % 2 ? [a, b] : [b, a];
      await engine.reserve(order, first, 1);
      await engine.reserve(order, second, 2);
    }
    // Besides each order's own commit and release, batched commits of every order in opposite
    // orders: their row locks must not cycle with each other's or with the releases'.
    const batched = [orders, [...orders].reverse()].map((ids) => engine.commitMany(ids));
    const outcomes = await Promise.all(
      orders.flatMap((order) => [engine.commit(order), engine.release(order), engine.commit(order)]),
    );
    const batches = await Promise.all(batched);
    for (const [i, order] of orders.entries()) {
      const mine = [
        ...outcomes.slice(i * 3, i * 3 + 3),
        ...batches.map((batch): SettleOutcome => batch.get(order) ?? { kind: "not_found" }),
      ];
      const winners = mine.filter((o) => o.kind === "done" && o.changed);
      expect(winners, order).toHaveLength(1);
      const won = winners[0] as { state: string };
      // Every other answer agrees with the winner: a replay of it, or a conflict naming its state.
      for (const o of mine) {
        expect(o.kind === "done" ? o.state : o.kind === "conflict" ? o.state : o.kind).toBe(won.state);
      }
    }
    const stocks = [await store.stock(a), await store.stock(b)];
    expect(stocks.map((s) => s?.reserved)).toEqual([0, 0]);
    await engine.close();
    await expectLedgerConsistent();
  });

  it("expires stale HELD reservations exactly once, even with two sweepers racing", async () => {
    const shortLived = { ...options, reservationTtlMs: 100 };
    const a = new InventoryEngine(store, shortLived);
    const b = new InventoryEngine(store, shortLived);
    const sku = await newSku(10);
    await Promise.all(Array.from({ length: 6 }, (_, i) => a.reserve(`exp-${sku}-${i}`, sku, 1)));
    await a.commit(`exp-${sku}-0`);
    await new Promise((r) => setTimeout(r, 250));
    const [sweptA, sweptB] = await Promise.all([a.sweepOnce(), b.sweepOnce()]);
    const mine = [...sweptA, ...sweptB].filter((r) => r.sku === sku);
    expect(mine).toHaveLength(5);
    expect(new Set(mine.map((r) => r.orderId)).size).toBe(5);
    expect(await store.stock(sku)).toMatchObject({ available: 9, reserved: 0, sold: 1 });
    expect(await a.commit(`exp-${sku}-1`)).toMatchObject({ kind: "conflict", state: "RELEASED" });
    await Promise.all([a.close(), b.close()]);
    await expectLedgerConsistent();
  });

  it("never oversells when two engine instances race on one SKU with overlapping orders", async () => {
    const sku = await newSku(25);
    const a = new InventoryEngine(store, options);
    const b = new InventoryEngine(store, { ...options, strategy: "direct" });
    const c = new InventoryEngine(store, options);
    const ids = Array.from({ length: 120 }, (_, i) => `race-${sku}-${i}`);
    const outcomes = await Promise.all(
      ids.flatMap((id) => [a.reserve(id, sku, 1), b.reserve(id, sku, 1), c.reserve(id, sku, 1)]),
    );
    await Promise.all([a.close(), b.close(), c.close()]);
    const winners = new Set(granted(outcomes).map((o) => o.orderId));
    expect(winners.size).toBe(25);
    expect(await store.stock(sku)).toMatchObject({ available: 0, reserved: 25 });
    // Every engine that answered "granted" for an order agrees with the database.
    const held = await fixture.database.sql`SELECT order_id FROM reservation WHERE sku_id = ${sku}`;
    expect(new Set(held.map((r) => r.order_id))).toEqual(winners);
    await expectLedgerConsistent();
  });
});

describe("inventory engine: bounded per-SKU state", () => {
  it("keeps no lane for unknown SKUs once their requests are answered", async () => {
    const engine = new InventoryEngine(store, options);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 300 }, (_, i) => engine.reserve(`unknown-${i}`, `NO-SUCH-SKU-${i}`, 1)),
    );
    expect(outcomes.every((o) => o.status === "rejected")).toBe(true);
    expect(engine.laneCount).toBe(0);
    await engine.close();
  });

  it("drops a lane when its batch is done, and a sold-out lane when its mark expires", async () => {
    const engine = new InventoryEngine(store, { ...options, soldOutTtlMs: 100 });
    const roomy = await newSku(10);
    expect(await engine.reserve(`lane-${roomy}-1`, roomy, 1)).toMatchObject({ kind: "granted" });
    expect(engine.laneCount).toBe(0);

    const scarce = await newSku(1);
    expect(await engine.reserve(`lane-${scarce}-1`, scarce, 1)).toMatchObject({ kind: "granted" });
    await new Promise((r) => setTimeout(r, 30)); // the holder set loads after the sold-out batch answers
    expect(engine.laneCount).toBe(1); // the sold-out mark answers later buyers without the database
    expect(await engine.reserve(`lane-${scarce}-2`, scarce, 1)).toMatchObject({ reason: "sold_out" });
    await new Promise((r) => setTimeout(r, 250));
    expect(engine.laneCount).toBe(0);
    await engine.close();
  });

  it("loads only the orders still holding a sold-out SKU, and still answers their replays", async () => {
    const engine = new InventoryEngine(store, options);
    const sku = await newSku(3);
    // Churn: 40 orders reserve and release before three others buy the stock out.
    for (let i = 0; i < 40; i++) {
      await engine.reserve(`churn-${sku}-${i}`, sku, 1);
      await engine.release(`churn-${sku}-${i}`);
    }
    await engine.reserve(`keep-${sku}-0`, sku, 1);
    await engine.commit(`keep-${sku}-0`);
    await Promise.all([engine.reserve(`keep-${sku}-1`, sku, 1), engine.reserve(`keep-${sku}-2`, sku, 1)]);
    const holders = await store.orderIdsHolding(sku, 1_000);
    expect([...(holders ?? [])].sort()).toEqual([`keep-${sku}-0`, `keep-${sku}-1`, `keep-${sku}-2`]);
    expect(await store.orderIdsHolding(sku, 2)).toBeUndefined(); // more than asked for: no set at all

    await new Promise((r) => setTimeout(r, 50)); // the holder set loads after the sold-out batch answers
    expect(await engine.reserve(`keep-${sku}-0`, sku, 1)).toMatchObject({
      kind: "granted",
      state: "COMMITTED",
    });
    expect(await engine.reserve(`keep-${sku}-2`, sku, 1)).toMatchObject({ kind: "granted", replay: true });
    expect(await engine.reserve(`churn-${sku}-7`, sku, 1)).toMatchObject({ kind: "rejected" });
    expect(await engine.reserve(`late-${sku}`, sku, 1)).toMatchObject({
      kind: "rejected",
      reason: "sold_out",
    });
    await engine.close();
  });
});
