import { Counter } from "prom-client";
import { z } from "zod";
import { skuSchema } from "../domain/identifiers.ts";
import type { ServiceApp } from "../http/app.ts";
import type { CatalogReader, LookupSource } from "./catalog.ts";

const SOURCES: readonly LookupSource[] = ["bloom", "cache", "db"];

/**
 * `GET /skus/:id` from a CatalogReader, with the answering layer in `x-catalog-source`. The
 * counters read the reader's own stats when scraped, so lookups made outside HTTP count too.
 */
export function registerCatalogRoutes(app: ServiceApp, reader: CatalogReader) {
  const reportedLookups: Record<LookupSource, number> = { bloom: 0, cache: 0, db: 0 };
  new Counter({
    name: "chaoscart_catalog_lookups_total",
    help: "Catalog lookups by the layer that answered: bloom (certainly unknown), cache, db",
    labelNames: ["source"],
    registers: [app.metrics],
    collect() {
      for (const source of SOURCES) {
        this.inc({ source }, reader.stats.lookups[source] - reportedLookups[source]);
        reportedLookups[source] = reader.stats.lookups[source];
      }
    },
  });
  let reportedLoads = 0;
  new Counter({
    name: "chaoscart_catalog_db_loads_total",
    help: "SKU loads from the database (concurrent lookups of one id share a load)",
    registers: [app.metrics],
    collect() {
      this.inc(reader.stats.loads - reportedLoads);
      reportedLoads = reader.stats.loads;
    },
  });

  app.get("/skus/:id", { schema: { params: z.object({ id: skuSchema }) } }, async (request, reply) => {
    const { id } = request.params;
    const { sku, source } = await reader.get(id);
    reply.header("x-catalog-source", source);
    if (!sku) return reply.code(404).send({ error: "unknown_sku", message: `no SKU ${id}`, sku: id });
    return sku;
  });
}
