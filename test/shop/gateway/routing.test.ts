import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encode, SnowflakeGenerator } from "../../../src/shop/domain/ids.ts";
import {
  fnv1a32,
  regionForOrderId,
  SlotRouter,
  SlotTable,
  slotOf,
} from "../../../src/shop/gateway/routing.ts";

const REGIONS = ["east", "west", "south"];

describe("user slots", () => {
  it("uses FNV-1a 32 over UTF-8 (published test vectors)", () => {
    expect(fnv1a32("")).toBe(0x811c9dc5);
    expect(fnv1a32("a")).toBe(0xe40c292c);
    expect(fnv1a32("foobar")).toBe(0xbf9cf968);
  });

  it("routes a user to the same region every time, in every router built from the same list", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), (userId) => {
        const a = new SlotRouter(REGIONS);
        const b = new SlotRouter([...REGIONS]);
        const region = a.regionForUser(userId);
        expect(REGIONS).toContain(region);
        expect(a.regionForUser(userId)).toBe(region);
        expect(b.regionForUser(userId)).toBe(region);
      }),
    );
  });

  it("spreads slots evenly and users roughly evenly across regions", () => {
    const table = SlotTable.even(REGIONS, 1024);
    const summary = table.summary(REGIONS);
    expect(Object.values(summary.slotsPerRegion).sort()).toEqual([341, 341, 342]);

    const users = 30_000;
    const perRegion = new Map<string, number>();
    const perSlot = new Array<number>(1024).fill(0);
    for (let i = 0; i < users; i++) {
      const userId = `user-${i}`;
      const region = table.regionForUser(userId);
      perRegion.set(region, (perRegion.get(region) ?? 0) + 1);
      const slot = slotOf(userId);
      perSlot[slot] = (perSlot[slot] ?? 0) + 1;
    }
    for (const region of REGIONS) {
      // Expected 10,000 each; ±10 % is many standard deviations for a decent hash.
      expect(perRegion.get(region)).toBeGreaterThan(9000);
      expect(perRegion.get(region)).toBeLessThan(11_000);
    }
    // Every slot gets users (30,000 users over 1,024 slots ≈ 29 each).
    expect(Math.min(...perSlot)).toBeGreaterThan(5);
  });
});

describe("versioned slot table", () => {
  it("moves exactly the dead region's slots to the new region, one version later", () => {
    const table = SlotTable.even(REGIONS);
    const moved = table.withRegionMoved("west", "east");
    expect(moved.version).toBe(table.version + 1);
    expect(table.slots).toContain("west"); // the original is untouched
    for (let slot = 0; slot < table.slotCount; slot++) {
      const before = table.regionOfSlot(slot);
      expect(moved.regionOfSlot(slot)).toBe(before === "west" ? "east" : before);
    }
    expect(moved.summary(REGIONS).slotsPerRegion).toEqual({ east: 683, west: 0, south: 341 });
  });

  it("routes users of moved slots to the new region and refuses stale versions", () => {
    const router = new SlotRouter(REGIONS);
    const westUsers = Array.from({ length: 2000 }, (_, i) => `u${i}`).filter(
      (user) => router.regionForUser(user) === "west",
    );
    const others = Array.from({ length: 2000 }, (_, i) => `u${i}`).filter(
      (user) => router.regionForUser(user) !== "west",
    );
    const othersBefore = others.map((user) => router.regionForUser(user));
    expect(westUsers.length).toBeGreaterThan(400);

    const v2 = router.table.withRegionMoved("west", "south");
    expect(router.update(v2)).toBe(true);
    expect(router.table.version).toBe(2);
    for (const user of westUsers) expect(router.regionForUser(user)).toBe("south");
    expect(others.map((user) => router.regionForUser(user))).toEqual(othersBefore);

    // A replayed or reordered update (same or older version) changes nothing.
    const staleMove = SlotTable.even(REGIONS).withRegionMoved("south", "east"); // version 2
    expect(router.update(staleMove)).toBe(false);
    expect(router.update(SlotTable.even(REGIONS))).toBe(false);
    expect(router.table).toBe(v2);
    for (const user of westUsers) expect(router.regionForUser(user)).toBe("south");

    // A newer one is accepted even if it skips versions.
    expect(router.update(v2.withRegionMoved("south", "east").withVersion(10))).toBe(true);
    expect(router.summary()).toMatchObject({
      version: 10,
      slotsPerRegion: { east: 1024, west: 0, south: 0 },
    });
  });

  it("rejects tables of another size or naming unknown regions", () => {
    const router = new SlotRouter(REGIONS);
    expect(() => router.update(SlotTable.even(REGIONS, 512, 5))).toThrow(/512 slots/);
    expect(() => router.update(SlotTable.even(["east", "north"], 1024, 5))).toThrow(/north/);
    expect(() => new SlotRouter([])).toThrow();
    expect(() => new SlotRouter(["east", "east"])).toThrow(/duplicate/);
  });
});

describe("order ids", () => {
  it("route to the region whose code the snowflake carries", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: REGIONS.length - 1 }),
        fc.integer({ min: 0, max: 127 }),
        (code, worker) => {
          const id = new SnowflakeGenerator(code, worker).next();
          expect(regionForOrderId(id, REGIONS)).toBe(REGIONS[code]);
          expect(new SlotRouter(REGIONS).regionForOrderId(id)).toBe(REGIONS[code]);
        },
      ),
    );
  });

  it("ignore the slot table: an order's home is where it was created", () => {
    const router = new SlotRouter(REGIONS);
    router.update(router.table.withRegionMoved("west", "east"));
    expect(router.regionForOrderId(new SnowflakeGenerator(1, 0).next())).toBe("west");
  });

  it("give undefined for a region code the deployment lacks and throw for non-snowflakes", () => {
    const id = encode({ timestampMs: Date.now(), region: 7, worker: 0, sequence: 0 });
    expect(regionForOrderId(id, REGIONS)).toBeUndefined();
    expect(() => regionForOrderId("order-1", REGIONS)).toThrow(RangeError);
  });
});
