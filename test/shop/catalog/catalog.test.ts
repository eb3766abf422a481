import { describe, expect, it } from "vitest";
import { CatalogReader, type CatalogReaderOptions, type Sku } from "../../../src/shop/catalog/catalog.ts";

/** An in-memory "database" that counts every call, with an optional gate to hold loads in flight. */
function fakeDb(ids: string[]) {
  const rows = new Map<string, Sku>(
    ids.map((id) => [id, { id, name: `name of ${id}`, price: 1999, attrs: { size: "M" } }]),
  );
  const calls = { loadSku: [] as string[], loadAllIds: 0 };
  let gate: Promise<void> | undefined;
  return {
    rows,
    calls,
    hold() {
      let release!: () => void;
      gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      return () => {
        gate = undefined;
        release();
      };
    },
    loadSku: async (id: string) => {
      calls.loadSku.push(id);
      if (gate) await gate;
      return rows.get(id);
    },
    loadAllIds: async () => {
      calls.loadAllIds++;
      if (gate) await gate;
      return [...rows.keys()];
    },
  };
}

const KNOWN = Array.from({ length: 500 }, (_, i) => `PIGGY-SHIRT-${i}`);

function reader(db: ReturnType<typeof fakeDb>, overrides: Partial<CatalogReaderOptions> = {}) {
  return new CatalogReader({
    loadSku: db.loadSku,
    loadAllIds: db.loadAllIds,
    cacheMax: 1000,
    cacheTtlMs: 60_000,
    negativeTtlMs: 1_000,
    ...overrides,
  });
}

/** Random ids from a seeded generator (mulberry32): a failure names ids that reproduce it. */
function idGenerator(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0).toString(36).toUpperCase();
  };
  return () => `GHOST-${next()}-${next()}`;
}
const randomUnknownId = idGenerator(20_260_101);

describe("catalog reader", () => {
  it("answers 10,000 random unknown ids from the Bloom filter without a single load", async () => {
    const db = fakeDb(KNOWN);
    // At this configured rate a false positive among 10,000 probes is unlikely (~1e-2 expected,
    // the floor of double hashing); the ids are seeded, so the outcome is fixed, not flaky.
    const catalog = reader(db, { falsePositiveRate: 1e-8 });
    await catalog.refresh();
    for (let i = 0; i < 10_000; i++) {
      const result = await catalog.get(randomUnknownId());
      expect(result).toEqual({ source: "bloom" });
    }
    expect(db.calls.loadSku).toEqual([]);
    expect(catalog.stats).toEqual({ lookups: { bloom: 10_000, cache: 0, db: 0 }, loads: 0 });
  });

  it("keeps database loads for unknown ids near the false-positive rate at the default 1 %", async () => {
    const db = fakeDb(KNOWN);
    const catalog = reader(db);
    await catalog.refresh();
    for (let i = 0; i < 10_000; i++) await catalog.get(randomUnknownId());
    // The filter is sized for twice the ids, so fewer than 1 % get through; allow 2×.
    expect(db.calls.loadSku.length).toBeLessThan(200);
  });

  it("loads a known SKU once and serves repeats from the cache", async () => {
    const db = fakeDb(KNOWN);
    const catalog = reader(db);
    await catalog.refresh();
    const first = await catalog.get("PIGGY-SHIRT-7");
    expect(first).toMatchObject({ source: "db", sku: { id: "PIGGY-SHIRT-7", price: 1999 } });
    for (let i = 0; i < 100; i++) {
      expect(await catalog.get("PIGGY-SHIRT-7")).toEqual({ source: "cache", sku: first.sku });
    }
    expect(db.calls.loadSku).toEqual(["PIGGY-SHIRT-7"]);
  });

  it("shares one load between concurrent gets of the same uncached id", async () => {
    const db = fakeDb(KNOWN);
    const catalog = reader(db);
    await catalog.refresh();
    const release = db.hold();
    const pending = Array.from({ length: 50 }, () => catalog.get("PIGGY-SHIRT-9"));
    await new Promise((resolve) => setImmediate(resolve));
    expect(db.calls.loadSku).toEqual(["PIGGY-SHIRT-9"]);
    release();
    const results = await Promise.all(pending);
    for (const result of results) expect(result.sku?.id).toBe("PIGGY-SHIRT-9");
    expect(db.calls.loadSku).toEqual(["PIGGY-SHIRT-9"]);
    expect(catalog.stats.loads).toBe(1);
  });

  it("caches misses for the short negative TTL, then asks again", async () => {
    const clock = { now: 1_000_000 }; // lru-cache treats a start time of 0 as "no TTL"
    const db = fakeDb(KNOWN);
    const catalog = reader(db, { negativeTtlMs: 1_000, cacheTtlMs: 60_000, now: () => clock.now });
    await catalog.refresh();
    // A SKU the filter knows but the database no longer has: exactly what a false positive looks like.
    db.rows.delete("PIGGY-SHIRT-3");
    expect(await catalog.get("PIGGY-SHIRT-3")).toEqual({ source: "db" });
    for (let i = 0; i < 20; i++) expect(await catalog.get("PIGGY-SHIRT-3")).toEqual({ source: "cache" });
    expect(db.calls.loadSku).toEqual(["PIGGY-SHIRT-3"]);
    clock.now += 999;
    expect(await catalog.get("PIGGY-SHIRT-3")).toEqual({ source: "cache" });
    clock.now += 2;
    expect(await catalog.get("PIGGY-SHIRT-3")).toEqual({ source: "db" });
    expect(db.calls.loadSku).toHaveLength(2);

    // Hits live for the (longer) positive TTL.
    await catalog.get("PIGGY-SHIRT-4");
    clock.now += 59_000;
    expect((await catalog.get("PIGGY-SHIRT-4")).source).toBe("cache");
    clock.now += 2_000;
    expect((await catalog.get("PIGGY-SHIRT-4")).source).toBe("db");
  });

  it("sees a SKU added after the refresh, even one whose miss was cached", async () => {
    const db = fakeDb(KNOWN);
    const catalog = reader(db, { falsePositiveRate: 1e-8 });
    await catalog.refresh();
    expect(await catalog.get("NEW-SKU-1")).toEqual({ source: "bloom" });
    db.rows.set("NEW-SKU-1", { id: "NEW-SKU-1", name: "new", price: 500, attrs: {} });
    catalog.add("NEW-SKU-1");
    expect(await catalog.get("NEW-SKU-1")).toMatchObject({ source: "db", sku: { price: 500 } });

    // A cached miss is forgotten on add.
    db.rows.delete("PIGGY-SHIRT-1");
    expect(await catalog.get("PIGGY-SHIRT-1")).toEqual({ source: "db" });
    db.rows.set("PIGGY-SHIRT-1", { id: "PIGGY-SHIRT-1", name: "back", price: 1, attrs: {} });
    catalog.add("PIGGY-SHIRT-1");
    expect(await catalog.get("PIGGY-SHIRT-1")).toMatchObject({ source: "db", sku: { name: "back" } });
  });

  it("keeps ids added while a refresh is loading", async () => {
    const db = fakeDb(KNOWN);
    const catalog = reader(db, { falsePositiveRate: 1e-8 });
    await catalog.refresh();
    const release = db.hold();
    const refreshing = catalog.refresh(); // reads the id list before NEW-SKU-2 exists
    db.rows.set("NEW-SKU-2", { id: "NEW-SKU-2", name: "new", price: 1, attrs: {} });
    catalog.add("NEW-SKU-2");
    release();
    await refreshing;
    expect((await catalog.get("NEW-SKU-2")).sku?.id).toBe("NEW-SKU-2");
  });

  it("loads the filter on first use (once, shared) when nobody called refresh", async () => {
    const db = fakeDb(KNOWN);
    const catalog = reader(db, { falsePositiveRate: 1e-8 });
    const results = await Promise.all([catalog.get("PIGGY-SHIRT-1"), catalog.get(randomUnknownId())]);
    expect(results.map((result) => result.source)).toEqual(["db", "bloom"]);
    expect(db.calls.loadAllIds).toBe(1);
  });

  it("fails a lookup when the database fails, and does not cache the failure", async () => {
    const db = fakeDb(KNOWN);
    let failing = true;
    const catalog = reader(db, {
      loadSku: async (id) => {
        if (failing) throw new Error("connection refused");
        return db.loadSku(id);
      },
    });
    await catalog.refresh();
    await expect(catalog.get("PIGGY-SHIRT-2")).rejects.toThrow(/connection refused/);
    failing = false;
    expect((await catalog.get("PIGGY-SHIRT-2")).source).toBe("db");
  });
});
