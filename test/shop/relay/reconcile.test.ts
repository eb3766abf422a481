import type { Sql } from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_SLOT_COUNT, slotOf } from "../../../src/shop/domain/slots.ts";
import { seedSlots } from "../../../src/shop/orders/slots.ts";
import { OrderStore } from "../../../src/shop/orders/store.ts";
import { compareTable, ORDERS_DIGEST, PAYMENTS_DIGEST } from "../../../src/shop/relay/digest.ts";
import { reconcile } from "../../../src/shop/relay/reconcile.ts";
import { Relay } from "../../../src/shop/relay/relay.ts";
import { startTwoRegionDatabases, type TwoRegionDatabases } from "../../support/postgres.ts";

/**
 * Reconciliation (issue "active-active, part 1" §5): a relay that loses or garbles order versions
 * (the lab's replication-loss fault) leaves the peer wrong; reconciliation finds every divergent
 * row through the digests and repairs it from the order's home region.
 */

let databases: TwoRegionDatabases;
let east: Sql;
let west: Sql;
let store: OrderStore;

beforeAll(async () => {
  databases = await startTwoRegionDatabases();
  ({ east, west } = databases);
  for (const db of [east, west]) await seedSlots(db, ["east", "west"], DEFAULT_SLOT_COUNT);
  store = new OrderStore(east, { owner: "east-1", leaseMs: 60_000, region: "east" });
});

afterAll(() => databases?.stop());

let n = 0;
async function placeConfirmed(): Promise<string> {
  let userId: string;
  do userId = `rec-user-${++n}`;
  while (slotOf(userId) % 2 !== 0);
  const hlc = `${String(1_000 + n).padStart(15, "0")}.000000`;
  const { order } = await store.placeOrGet(
    {
      id: `rec-${n}`,
      userId,
      idemKey: `${userId}:k`,
      fingerprint: "f",
      homeRegion: "east",
      slot: slotOf(userId),
      items: [{ sku: "A", qty: 2, price: 100 }],
      total: 200,
      hlc,
    },
    { event: "OrderPlaced", payload: {}, hlc },
  );
  await store.advance(order.id, "PENDING", "RESERVED", { event: "Reserved", payload: {}, hlc });
  await store.advance(
    order.id,
    "RESERVED",
    "PAID",
    { event: "Paid", payload: {}, hlc },
    { state: "CAPTURED", amount: 200 },
  );
  await store.advance(order.id, "PAID", "CONFIRMED", { event: "Confirmed", payload: {}, hlc });
  return order.id;
}

async function ship(faults = { drop: 0, corrupt: 0 }, random = Math.random) {
  const relay = new Relay({
    source: { region: "east", db: east },
    peer: { region: "west", db: west },
    batchSize: 1,
    pollMs: 2,
    maxBackoffMs: 100,
    faults,
    random,
  });
  for (;;) if ((await relay.shipOnce()).entries === 0) return;
}

const regions = () =>
  [
    { name: "east", db: east },
    { name: "west", db: west },
  ] as const;

describe("reconciliation", () => {
  it("finds nothing to do between converged regions", async () => {
    for (let i = 0; i < 5; i++) await placeConfirmed();
    await ship();
    const [a, b] = regions();
    const report = await reconcile(a, b, { buckets: 16, graceMs: 50, repair: true });
    expect(report).toMatchObject({ bucketsDiffering: 0, rowsDiffering: 0, rowsRepaired: 0, unrepaired: [] });
    expect(report.bucketsCompared).toBe(32);
  });

  it("finds every order a relay lost or garbled, and repairs it from its home region", async () => {
    const lost = await placeConfirmed();
    await ship({ drop: 1, corrupt: 0 });
    const garbled = await placeConfirmed();
    await ship({ drop: 0, corrupt: 1 });
    const [a, b] = regions();
    const found = await reconcile(a, b, { buckets: 16, graceMs: 50, repair: false });
    expect(found.divergent).toEqual(
      expect.arrayContaining([
        { table: "orders", key: lost, missingIn: "west", homeRegion: "east" },
        { table: "payment", key: lost, missingIn: "west", homeRegion: "east" },
        { table: "orders", key: garbled, missingIn: "both", homeRegion: "east" },
      ]),
    );
    expect(found.divergent).toHaveLength(3);
    expect(found.rowsRepaired).toBe(0);

    // A relay from the west repairs only what the west owns: none of these.
    const notMine = await reconcile(a, b, { buckets: 16, graceMs: 50, repair: true, onlyHome: "west" });
    expect(notMine).toMatchObject({ rowsDiffering: 3, rowsRepaired: 0 });
    const repaired = await reconcile(a, b, { buckets: 16, graceMs: 50, repair: true, onlyHome: "east" });
    expect(repaired).toMatchObject({ rowsDiffering: 3, rowsRepaired: 3, unrepaired: [] });
    for (const table of [ORDERS_DIGEST, PAYMENTS_DIGEST]) {
      expect((await compareTable(east, west, table, 16)).bucketsDiffering).toEqual([]);
    }
  });

  it("does not count a change still in flight as divergent", async () => {
    const inFlight = await placeConfirmed();
    const [a, b] = regions();
    const pending = reconcile(a, b, { buckets: 16, graceMs: 500, repair: true });
    await new Promise((r) => setTimeout(r, 100));
    await ship();
    const report = await pending;
    expect(report.divergent.map((d) => d.key)).not.toContain(inFlight);
    expect(report.rowsRepaired).toBe(0);
  });
});
