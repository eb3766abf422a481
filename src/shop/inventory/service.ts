import { z } from "zod";
import { ConfigError, type InventoryConfig } from "../config.ts";
import { createPool } from "../db/pool.ts";
import { createDatabaseApp, registerDataRoutes } from "../db/service-database.ts";
import { orderIdSchema, skuSchema } from "../domain/identifiers.ts";
import { registerRealm } from "../http/bearer-token.ts";
import { registerLabEndpoints } from "../http/lab-endpoints.ts";
import { listen, type RunningService } from "../http/listen.ts";
import { InventoryEngine } from "./engine.ts";
import { inventoryMetrics } from "./metrics.ts";
import { registerInventoryRoutes } from "./routes.ts";
import { InventoryStore } from "./store.ts";

/** Composes the inventory service: pool, migrations, engine, HTTP routes. */
export async function startInventoryService(config: InventoryConfig): Promise<RunningService> {
  const bug = config.CHAOSCART_BUILT_IN_BUG;
  if (bug === "stock-from-replica" && !config.CHAOSCART_REPLICA_URL) {
    throw new ConfigError([
      "CHAOSCART_REPLICA_URL: the built-in bug stock-from-replica reads the replica; give its URL (got unset)",
    ]);
  }
  const { app, database } = await createDatabaseApp({
    service: "inventory",
    logLevel: config.CHAOSCART_LOG_LEVEL,
    url: config.CHAOSCART_DATABASE_URL,
    poolMax: config.CHAOSCART_DB_POOL_MAX,
  });
  const db = database.sql;
  const staleStockSource =
    bug === "stock-from-replica" && config.CHAOSCART_REPLICA_URL
      ? createPool(config.CHAOSCART_REPLICA_URL, { max: 4, applicationName: "chaoscart-inventory-bug" })
      : undefined;
  const store = new InventoryStore(db, config.CHAOSCART_REGION, {
    stockBuckets: config.CHAOSCART_INVENTORY_STOCK_BUCKETS,
    ...(bug ? { bug } : {}),
    ...(staleStockSource ? { staleStockSource } : {}),
  });
  const engine = new InventoryEngine(
    store,
    {
      strategy: config.CHAOSCART_INVENTORY_STRATEGY,
      batchWindowMs: config.CHAOSCART_BATCH_WINDOW_MS,
      batchMax: config.CHAOSCART_BATCH_MAX,
      bucketSpill: config.CHAOSCART_INVENTORY_BUCKET_SPILL,
      reservationTtlMs: config.CHAOSCART_RESERVATION_TTL_MS,
      soldOutTtlMs: config.CHAOSCART_SOLD_OUT_TTL_MS,
      sweepIntervalMs: config.CHAOSCART_SWEEP_INTERVAL_MS,
      sweepLimit: config.CHAOSCART_SWEEP_LIMIT,
      ...(bug ? { builtInBug: bug } : {}),
    },
    {
      ...inventoryMetrics(app.metrics),
      error: (context, error) => app.log.error({ err: error, context }, "background work failed"),
    },
  );
  registerDataRoutes(app, database, (scope) => {
    registerInventoryRoutes(scope, {
      engine,
      store,
      adminToken: config.CHAOSCART_ADMIN_TOKEN,
      serviceToken: config.CHAOSCART_SERVICE_TOKEN,
    });
    if (config.CHAOSCART_BENCH_ENDPOINTS === "1") {
      const body = z.object({
        orderId: orderIdSchema,
        sku: skuSchema,
        qty: z.number().int().min(1).max(1000),
      });
      registerRealm(scope, { realm: "internal", token: config.CHAOSCART_SERVICE_TOKEN }, (internal) => {
        internal.post("/noop", { schema: { body } }, async (request, reply) =>
          reply.code(201).send({ kind: "granted", ...request.body, state: "HELD", replay: false }),
        );
      });
    }
  });
  app.addHook("onClose", async () => {
    await engine.close();
    await staleStockSource?.end({ timeout: 2 });
    await database.close();
  });
  engine.startSweeper();
  const labToken = config.CHAOSCART_LAB_TOKEN;
  if (labToken) registerLabEndpoints(app, { token: labToken, reservationTtl: engine.options });
  const running = await listen(app, config.CHAOSCART_HOST, config.CHAOSCART_PORT);
  if (bug)
    app.log.warn({ builtInBug: bug }, `BUILT-IN BUG "${bug}" IS SWITCHED ON: this is not the real shop`);
  app.log.info(
    { port: running.port, strategy: config.CHAOSCART_INVENTORY_STRATEGY },
    "inventory service listening",
  );
  return running;
}
