import type { Sql } from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_SLOT_COUNT, slotOf } from "../../../src/shop/domain/slots.ts";
import { moveSlots, NotSlotOwnerError, seedSlots, slotOwner } from "../../../src/shop/orders/slots.ts";
import { OrderStore } from "../../../src/shop/orders/store.ts";
import { applyOrderCopies } from "../../../src/shop/relay/order-copies.ts";
import { Relay } from "../../../src/shop/relay/relay.ts";
import { startTwoRegionDatabases, type TwoRegionDatabases } from "../../support/postgres.ts";

/**
 * Unit ownership and fencing (issue "active-active, part 1" §2): a region places an order only for a
 * slot its database says it owns, checked inside the placing statement. Two "regions" are two
 * databases of one test cluster; a Relay ships east's moves to west.
 */

const REGIONS = ["east", "west"];
let regions: TwoRegionDatabases;
let east: Sql;
let west: Sql;
let eastStore: OrderStore;
let westStore: OrderStore;

beforeAll(async () => {
  regions = await startTwoRegionDatabases();
  ({ east, west } = regions);
  for (const db of [east, west]) await seedSlots(db, REGIONS, DEFAULT_SLOT_COUNT);
  eastStore = new OrderStore(east, { owner: "east-1", leaseMs: 60_000, region: "east" });
  westStore = new OrderStore(west, { owner: "west-1", leaseMs: 60_000, region: "west" });
});

afterAll(() => regions?.stop());

let users = 0;
/** A fresh user in a slot that `region` owned at the start, and in a slot no earlier test used. */
function userHomedIn(region: string): string {
  const used = new Set<number>();
  for (;;) {
    const user = `fence-user-${++users}`;
    const slot = slotOf(user);
    if (REGIONS[slot % 2] === region && !usedSlots.has(slot) && !used.has(slot)) {
      usedSlots.add(slot);
      return user;
    }
  }
}
const usedSlots = new Set<number>();

let orders = 0;
function newOrder(userId: string, idemKey: string) {
  return {
    id: `fence-${++orders}`,
    userId,
    idemKey,
    fingerprint: "f",
    homeRegion: "east",
    slot: slotOf(userId),
    items: [{ sku: "A", qty: 1, price: 100 }],
    total: 100,
    hlc: "000000000001000.000000",
  };
}

function place(store: OrderStore, userId: string) {
  return store.placeOrGet(
    { ...newOrder(userId, `${userId}:${orders + 1}`), homeRegion: store.region },
    { event: "OrderPlaced", payload: {}, hlc: "000000000001000.000000" },
  );
}

const relay = () =>
  new Relay({
    source: { region: "east", db: east },
    peer: { region: "west", db: west },
    batchSize: 100,
    pollMs: 2,
    maxBackoffMs: 100,
  });

describe("unit ownership", () => {
  it("seeds the same even spread in every region, idempotently", async () => {
    await seedSlots(west, REGIONS, DEFAULT_SLOT_COUNT);
    for (const slot of [0, 1, 1023]) {
      expect(await slotOwner(east, slot)).toEqual({ slot, region: REGIONS[slot % 2], epoch: 1 });
      expect(await slotOwner(west, slot)).toEqual(await slotOwner(east, slot));
    }
  });

  it("lets a region place orders only for the slots it owns", async () => {
    const mine = userHomedIn("east");
    const theirs = userHomedIn("west");
    expect((await place(eastStore, mine)).created).toBe(true);
    const refused = await place(eastStore, theirs).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(NotSlotOwnerError);
    expect((refused as NotSlotOwnerError).owner).toEqual({ slot: slotOf(theirs), region: "west", epoch: 1 });
    const [row] = await east`SELECT count(*)::int AS n FROM orders WHERE user_id = ${theirs}`;
    expect(row?.n).toBe(0);
  });
});

describe("moving a slot", () => {
  it("fences the old owner at once and lets the new one write only once the move reached it", async () => {
    const user = userHomedIn("east");
    const slot = slotOf(user);
    expect(await moveSlots(east, "east", "west", [slot])).toEqual({
      moved: [{ slot, region: "west", epoch: 2 }],
      notOwned: [],
    });
    // East lost the slot: whatever its routing says, its database refuses.
    await expect(place(eastStore, user)).rejects.toBeInstanceOf(NotSlotOwnerError);
    // West has not heard yet: nobody owns the slot in between (unavailable, never two writers).
    await expect(place(westStore, user)).rejects.toMatchObject({ owner: { region: "east", epoch: 1 } });
    for (;;) if ((await relay().shipOnce()).entries === 0) break;
    expect((await place(westStore, user)).created).toBe(true);
  });

  it("gives the new owner every order the old one placed for the slot first: a retry there finds it", async () => {
    const user = userHomedIn("east");
    const slot = slotOf(user);
    const placed = await place(eastStore, user);
    await moveSlots(east, "east", "west", [slot]);
    // One log entry per batch: the placement committed before the move, so it arrives first.
    const oneByOne = new Relay({
      source: { region: "east", db: east },
      peer: { region: "west", db: west },
      batchSize: 1,
      pollMs: 2,
      maxBackoffMs: 100,
    });
    const arrivals: number[] = [];
    for (;;) {
      const shipped = await oneByOne.shipOnce();
      if (shipped.entries === 0) break;
      arrivals.push(shipped.slotsApplied > 0 ? 1 : 0);
      if (shipped.slotsApplied > 0) {
        const [copy] = await west`SELECT id FROM orders WHERE id = ${placed.order.id}`;
        expect(copy, "the order is at the new owner when the slot is").toBeDefined();
      }
    }
    expect(arrivals).toContain(1);
    // The client timed out at the east and retries (same key) at the new home: the same order, not a second one.
    const retried = await westStore.placeOrGet(
      { ...newOrder(user, placed.order.idemKey), homeRegion: "west" },
      { event: "OrderPlaced", payload: {}, hlc: "000000000002000.000000" },
    );
    expect(retried).toMatchObject({ created: false, order: { id: placed.order.id, homeRegion: "east" } });
  });

  it("never lets a late or replayed older ownership undo a newer one", async () => {
    const user = userHomedIn("east");
    const slot = slotOf(user);
    await moveSlots(east, "east", "west", [slot]);
    for (;;) if ((await relay().shipOnce()).entries === 0) break;
    const replayed = await applyOrderCopies(west, {
      source: "replayed",
      copies: [],
      slots: [{ slot, region: "east", epoch: 1 }],
      position: { txid: "1", id: "1" },
      sourceAt: new Date(),
      resolvedBy: "test",
    });
    expect(replayed.slotsApplied).toBe(0);
    expect(await slotOwner(west, slot)).toMatchObject({ region: "west", epoch: 2 });
  });

  it("moves only slots this region owns", async () => {
    const user = userHomedIn("west");
    expect(await moveSlots(east, "east", "west", [slotOf(user)])).toEqual({
      moved: [],
      notOwned: [slotOf(user)],
    });
  });

  it("fences a placement that raced the move: it waits for the move, then is refused", async () => {
    const user = userHomedIn("east");
    const slot = slotOf(user);
    const mover = await east.reserve();
    try {
      await mover`BEGIN`;
      await mover`UPDATE slot_owner SET region = 'west', epoch = epoch + 1 WHERE slot = ${slot}`;
      let settled = false;
      const placing = place(eastStore, user).finally(() => {
        settled = true;
      });
      placing.catch(() => {});
      await new Promise((r) => setTimeout(r, 300));
      // The placement waits on the slot's row: it has not written under the old ownership.
      expect(settled).toBe(false);
      await mover`COMMIT`;
      await expect(placing).rejects.toBeInstanceOf(NotSlotOwnerError);
    } finally {
      mover.release();
    }
    const [row] = await east`SELECT count(*)::int AS n FROM orders WHERE user_id = ${user}`;
    expect(row?.n).toBe(0);
  });
});
