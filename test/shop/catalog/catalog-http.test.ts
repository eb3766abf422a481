import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CatalogReader, type Sku } from "../../../src/shop/catalog/catalog.ts";
import { registerCatalogRoutes } from "../../../src/shop/catalog/routes.ts";
import { createApp, type ServiceApp } from "../../../src/shop/http/app.ts";

const rows = new Map<string, Sku>([
  [
    "PIGGY-SHIRT-M-RED",
    { id: "PIGGY-SHIRT-M-RED", name: "Piggy shirt", price: 1999, attrs: { size: "M", colour: "red" } },
  ],
  [
    "PIGGY-SHIRT-L-RED",
    { id: "PIGGY-SHIRT-L-RED", name: "Piggy shirt", price: 1999, attrs: { size: "L", colour: "red" } },
  ],
]);
const loads: string[] = [];
let app: ServiceApp;

beforeAll(async () => {
  const reader = new CatalogReader({
    loadSku: async (id) => {
      loads.push(id);
      return rows.get(id);
    },
    loadAllIds: async () => [...rows.keys(), "PIGGY-SHIRT-S-GONE"], // listed, but gone by the time it is read
    cacheMax: 100,
    cacheTtlMs: 60_000,
    negativeTtlMs: 5_000,
    falsePositiveRate: 1e-8,
  });
  app = createApp({ service: "order", logLevel: "silent", ready: async () => {} });
  registerCatalogRoutes(app, reader);
  await app.ready();
});

afterAll(async () => {
  await app?.close();
});

const get = (id: string) => app.inject({ method: "GET", url: `/skus/${id}` });

describe("GET /skus/:id", () => {
  it("answers a known SKU from the database, then from the cache", async () => {
    const first = await get("PIGGY-SHIRT-M-RED");
    expect(first.statusCode).toBe(200);
    expect(first.headers["x-catalog-source"]).toBe("db");
    expect(first.json()).toEqual(rows.get("PIGGY-SHIRT-M-RED"));
    const second = await get("PIGGY-SHIRT-M-RED");
    expect(second.headers["x-catalog-source"]).toBe("cache");
    expect(second.json()).toEqual(rows.get("PIGGY-SHIRT-M-RED"));
    expect(loads.filter((id) => id === "PIGGY-SHIRT-M-RED")).toHaveLength(1);
  });

  it("answers an unknown SKU with 404 from the Bloom filter, without a load", async () => {
    const before = loads.length;
    const response = await get("NO-SUCH-SKU");
    expect(response.statusCode).toBe(404);
    expect(response.headers["x-catalog-source"]).toBe("bloom");
    expect(response.json()).toMatchObject({ error: "unknown_sku", sku: "NO-SUCH-SKU" });
    expect(loads.length).toBe(before);
  });

  it("answers a miss that got past the filter with 404 from db, then from the negative cache", async () => {
    expect((await get("PIGGY-SHIRT-S-GONE")).headers["x-catalog-source"]).toBe("db");
    const again = await get("PIGGY-SHIRT-S-GONE");
    expect(again.statusCode).toBe(404);
    expect(again.headers["x-catalog-source"]).toBe("cache");
    expect(loads.filter((id) => id === "PIGGY-SHIRT-S-GONE")).toHaveLength(1);
  });

  it("refuses a malformed id with a 400 naming the field", async () => {
    const response = await get("lower-case");
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error: "invalid_request", field: "params.id" });
  });

  it("exports lookups by source and database loads", async () => {
    const metrics = (await app.inject({ method: "GET", url: "/metrics" })).body;
    expect(metrics).toMatch(/chaoscart_catalog_lookups_total\{source="bloom",service="order"\} 1\n/);
    expect(metrics).toMatch(/chaoscart_catalog_lookups_total\{source="cache",service="order"\} 2\n/);
    expect(metrics).toMatch(/chaoscart_catalog_lookups_total\{source="db",service="order"\} 2\n/);
    expect(metrics).toMatch(/chaoscart_catalog_db_loads_total\{service="order"\} 2\n/);
    // Scraping twice does not double count.
    const again = (await app.inject({ method: "GET", url: "/metrics" })).body;
    expect(again).toMatch(/chaoscart_catalog_db_loads_total\{service="order"\} 2\n/);
  });
});
