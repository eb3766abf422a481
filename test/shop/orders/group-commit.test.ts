import type { Sql } from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_SLOT_COUNT, slotOf } from "../../../src/shop/domain/slots.ts";
import { NotSlotOwnerError, seedSlots } from "../../../src/shop/orders/slots.ts";
import { OrderStore } from "../../../src/shop/orders/store.ts";
import { holdTransaction, startTestDatabase, type TestDatabase } from "../../support/postgres.ts";

/**
 * Group commit of the saga's placements and forward steps (issue "flash-sale speed" §3) on a real
 * database: writes that queue behind a batch in flight commit together in one statement, each with
 * its own condition (fence, idempotency key, state), payment row and outbox event, exactly as one
 * statement each would.
 */

let database: TestDatabase;
let store: OrderStore;
const HLC = "000000000001000.000000";

beforeAll(async () => {
  database = await startTestDatabase();
  await seedSlots(database.sql, ["east"], DEFAULT_SLOT_COUNT);
  store = new OrderStore(database.sql, {
    owner: "gc-1",
    leaseMs: 60_000,
    region: "east",
    groupCommit: { maxInFlight: 1, maxBatch: 64 },
  });
});

afterAll(() => database?.stop());

let orders = 0;
function newOrder(overrides: { idemKey?: string; homeRegion?: string; userId?: string } = {}) {
  const n = ++orders;
  const userId = overrides.userId ?? `gc-user-${n}`;
  return {
    id: `gc-${n}`,
    userId,
    idemKey: overrides.idemKey ?? `gc-key-${n}`,
    fingerprint: "f",
    homeRegion: overrides.homeRegion ?? "east",
    slot: slotOf(userId),
    items: [{ sku: "A", qty: 1, price: 100 }],
    total: 100,
    hlc: HLC,
  };
}

async function placeOrder(): Promise<string> {
  const { order } = await store.placeOrGet(newOrder(), { event: "OrderPlaced", payload: {}, hlc: HLC });
  return order.id;
}

const lockRow = (sql: Sql, id: string) =>
  holdTransaction(sql, (tx) => tx`SELECT 1 FROM orders WHERE id = ${id} FOR UPDATE`);

describe("group commit of the saga's writes", () => {
  it("commits steps queued behind a batch in flight as one statement, each under its own condition", async () => {
    const blocker = await placeOrder();
    const ids = await Promise.all(Array.from({ length: 5 }, placeOrder));
    const lock = await lockRow(database.sql, blocker);
    const before = { ...(store.advances?.sent ?? { batches: 0, items: 0 }) };

    // The blocker's step is in flight (waiting on the lock); everything after it queues.
    const first = store.advance(blocker, "PENDING", "RESERVED", {
      event: "StockReserved",
      payload: {},
      hlc: HLC,
    });
    const tricky = `quote " backslash \\ brace } comma , null-ish NULL`;
    const steps = ids.map((id, i) =>
      i === 4
        ? store.advance(
            id,
            "PAID",
            "CONFIRMED",
            { event: "OrderConfirmed", payload: {}, hlc: HLC },
            {
              state: "CAPTURED", // the order is not PAID: neither its state nor its payment may change
              amount: 100,
            },
          )
        : store.advance(
            id,
            "PENDING",
            "RESERVED",
            { event: "StockReserved", payload: { note: tricky, i }, hlc: HLC },
            i % 2 === 0 ? { state: "AUTHORIZED", amount: 100 + i, providerRef: `ref-${i}` } : undefined,
          ),
    );
    expect(store.advances?.waiting).toBe(5);
    await lock.commit();

    expect(await first).toMatchObject({ id: blocker, state: "RESERVED" });
    const results = await Promise.all(steps);
    expect(results.map((r) => r?.state)).toEqual(["RESERVED", "RESERVED", "RESERVED", "RESERVED", undefined]);
    expect(store.advances?.sent).toEqual({ batches: before.batches + 2, items: before.items + 6 });

    const payments = await database.sql<
      { order_id: string; state: string; amount: string; provider_ref: string }[]
    >`
      SELECT order_id, state, amount, provider_ref FROM payment WHERE order_id = ANY(${ids}) ORDER BY order_id`;
    expect(payments.map((p) => [p.order_id, p.state, Number(p.amount), p.provider_ref])).toEqual([
      [ids[0], "AUTHORIZED", 100, "ref-0"],
      [ids[2], "AUTHORIZED", 102, "ref-2"],
    ]);
    const events = await database.sql<{ aggregate_id: string; payload: { note: string; i: number } }[]>`
      SELECT aggregate_id, payload FROM outbox WHERE event = 'StockReserved' AND aggregate_id = ANY(${ids})
      ORDER BY aggregate_id`;
    expect(events.map((e) => [e.aggregate_id, e.payload])).toEqual(
      ids.slice(0, 4).map((id, i) => [id, { note: tricky, i }]),
    );
    const [untouched] = await database.sql`SELECT state FROM orders WHERE id = ${ids[4] as string}`;
    expect(untouched).toMatchObject({ state: "PENDING" });
  });

  it("renews leases without waiting for an order a step holds (batched steps and renewals never deadlock)", async () => {
    const [held, free] = [await placeOrder(), await placeOrder()];
    await database.sql`UPDATE orders SET lease_until = now() WHERE id = ${free}`;
    const lock = await lockRow(database.sql, held);
    try {
      const renewal = store.renewLeases([held, free]).then(() => "renewed");
      const waited = new Promise((resolve) => setTimeout(resolve, 3_000, "waited for the lock"));
      // The old renewal waited on the held row; with a step that held the other order and wanted this
      // one, PostgreSQL broke the cycle after deadlock_timeout by failing one of them.
      expect(await Promise.race([renewal, waited])).toBe("renewed");
      const [row] = await database.sql<{ lease_until: Date }[]>`
        SELECT lease_until FROM orders WHERE id = ${free}`;
      expect(row?.lease_until.getTime()).toBeGreaterThan(Date.now() + 30_000);
    } finally {
      await lock.commit();
    }
  });

  it("places orders queued behind a placement in flight as one statement: new, replayed and fenced alike", async () => {
    const replayedKey = `gc-key-${orders + 1}`;
    const existing = await placeOrder();
    const blocked = newOrder();
    // The first placement waits on its slot's row (a move in progress holds it), the rest queue.
    const mover = await holdTransaction(
      database.sql,
      (tx) => tx`SELECT 1 FROM slot_owner WHERE slot = ${blocked.slot} FOR UPDATE`,
    );
    const before = { ...(store.placements?.sent ?? { batches: 0, items: 0 }) };
    const tricky = `quote " backslash \\ brace } comma ,`;
    const event = (note: string) => ({ event: "OrderPlaced", payload: { note }, hlc: HLC });
    const first = store.placeOrGet(blocked, event("first"));
    const fresh = newOrder();
    const placing = [
      store.placeOrGet(fresh, event(tricky)),
      store.placeOrGet(newOrder({ idemKey: replayedKey }), event("replay")),
      store.placeOrGet(newOrder({ homeRegion: "west" }), event("fenced")).catch((error: unknown) => error),
    ];
    expect(store.placements?.waiting).toBe(3);
    await mover.commit();

    expect(await first).toMatchObject({ created: true, order: { id: blocked.id } });
    const [placed, replayed, fenced] = await Promise.all(placing);
    expect(placed).toMatchObject({ created: true, order: { id: fresh.id, state: "PENDING" } });
    expect(replayed).toMatchObject({ created: false, order: { id: existing } });
    expect(fenced).toBeInstanceOf(NotSlotOwnerError);
    expect(store.placements?.sent).toEqual({ batches: before.batches + 2, items: before.items + 4 });
    const events = await database.sql<{ aggregate_id: string; payload: { note: string } }[]>`
      SELECT aggregate_id, payload FROM outbox WHERE event = 'OrderPlaced' AND aggregate_id = ${fresh.id}`;
    expect(events.map((e) => e.payload.note)).toEqual([tricky]);
    const written = await database.sql`SELECT id FROM orders WHERE idem_key = ${replayedKey}`;
    expect(written).toHaveLength(1);
  });
});
