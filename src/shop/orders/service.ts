import { randomInt, randomUUID } from "node:crypto";
import { CatalogReader, type Sku } from "../catalog/catalog.ts";
import { registerCatalogRoutes } from "../catalog/routes.ts";
import { ConfigError, type OrderConfig } from "../config.ts";
import { createPool } from "../db/pool.ts";
import { ReplicaRouter } from "../db/replica-router.ts";
import { createDatabaseApp, registerDataRoutes } from "../db/service-database.ts";
import { HybridLogicalClock } from "../domain/hlc.ts";
import { SnowflakeGenerator } from "../domain/ids.ts";
import { DEFAULT_SLOT_COUNT } from "../domain/slots.ts";
import { registerRealm } from "../http/bearer-token.ts";
import { JsonClient } from "../http/json-client.ts";
import { registerLabEndpoints } from "../http/lab-endpoints.ts";
import { listen, type RunningService } from "../http/listen.ts";
import { serviceAuthorization } from "../http/service-token.ts";
import { type CallBatching, InventoryClient } from "../inventory/client.ts";
import { PaymentClient } from "../payments/client.ts";
import { createDependencyPolicy, type DependencyPolicyOptions } from "../resilience/policies.ts";
import { GatedInventory } from "./gated-inventory.ts";
import { groupCommitMetrics, orderMetrics, soldOutGateMetrics } from "./metrics.ts";
import { lookupPrices } from "./pricing.ts";
import { RecoveryLoop } from "./recovery.ts";
import { registerOrderRoutes } from "./routes.ts";
import { OrderSaga } from "./saga.ts";
import { registerSlotRoutes } from "./slot-routes.ts";
import { seedSlots } from "./slots.ts";
import { SoldOutGate } from "./sold-out-gate.ts";
import { SoldOutPoller } from "./sold-out-poller.ts";
import { OrderStore } from "./store.ts";
import { VoidWatch } from "./void-watch.ts";

/** Composes the order service: pool, migrations, dependency clients with their policies, saga, recovery, routes. */
export async function startOrderService(config: OrderConfig): Promise<RunningService> {
  const regions = deploymentRegions(config);
  const bug = config.CHAOSCART_BUILT_IN_BUG;
  const { app, database } = await createDatabaseApp({
    service: "order",
    logLevel: config.CHAOSCART_LOG_LEVEL,
    url: config.CHAOSCART_DATABASE_URL,
    poolMax: config.CHAOSCART_DB_POOL_MAX,
    ...(bug ? { builtInBug: bug } : {}),
  });
  const db = database.sql;
  const replica = config.CHAOSCART_REPLICA_URL
    ? createPool(config.CHAOSCART_REPLICA_URL, { max: 4, applicationName: "chaoscart-order-reads" })
    : undefined;
  const reads = new ReplicaRouter(
    db,
    replica,
    {
      region: config.CHAOSCART_REGION,
      maxStalenessMs: config.CHAOSCART_REPLICA_MAX_STALENESS_MS,
      heartbeatMs: config.CHAOSCART_REPLICA_HEARTBEAT_MS,
    },
    app.log,
    app.metrics,
  );
  const telemetry = { registry: app.metrics, log: app.log };
  const shared: Omit<DependencyPolicyOptions, "timeoutMs" | "maxAttempts"> = {
    initialBackoffMs: 50,
    maxBackoffMs: 1_000,
    breakerThreshold: config.CHAOSCART_BREAKER_THRESHOLD,
    breakerWindow: 20,
    breakerMinCalls: 10,
    halfOpenAfterMs: config.CHAOSCART_BREAKER_HALF_OPEN_MS,
    bulkheadLimit: config.CHAOSCART_BULKHEAD_LIMIT,
    bulkheadQueue: config.CHAOSCART_BULKHEAD_QUEUE,
    ...(bug ? { builtInBug: bug } : {}),
  };
  const credential = { headers: serviceAuthorization(config.CHAOSCART_SERVICE_TOKEN) };
  const inventoryHttp = new JsonClient("inventory", config.CHAOSCART_INVENTORY_URL, credential);
  const paymentHttp = new JsonClient("payment", config.CHAOSCART_PAYMENT_URL, credential);
  const inventory = new InventoryClient(
    inventoryHttp,
    createDependencyPolicy(
      "inventory",
      {
        ...shared,
        timeoutMs: config.CHAOSCART_INVENTORY_TIMEOUT_MS,
        maxAttempts: config.CHAOSCART_INVENTORY_MAX_ATTEMPTS,
      },
      telemetry,
    ),
    {
      ...callBatching(
        config.CHAOSCART_INVENTORY_RESERVE_BATCH_IN_FLIGHT,
        config.CHAOSCART_INVENTORY_RESERVE_BATCH_MAX,
        "reserves",
      ),
      ...callBatching(
        config.CHAOSCART_INVENTORY_COMMIT_BATCH_IN_FLIGHT,
        config.CHAOSCART_INVENTORY_COMMIT_BATCH_MAX,
        "commits",
      ),
    },
  );
  const payments = new PaymentClient(
    paymentHttp,
    createDependencyPolicy(
      "payment",
      {
        ...shared,
        timeoutMs: config.CHAOSCART_PAYMENT_TIMEOUT_MS,
        maxAttempts: config.CHAOSCART_PAYMENT_MAX_ATTEMPTS,
      },
      telemetry,
    ),
  );

  const owner = `order-${randomUUID().slice(0, 8)}`;
  const store = new OrderStore(
    db,
    {
      owner,
      leaseMs: config.CHAOSCART_ORDER_LEASE_MS,
      region: config.CHAOSCART_REGION,
      ...(config.CHAOSCART_ORDER_GROUP_COMMIT_IN_FLIGHT > 0
        ? {
            groupCommit: {
              maxInFlight: config.CHAOSCART_ORDER_GROUP_COMMIT_IN_FLIGHT,
              maxBatch: config.CHAOSCART_ORDER_GROUP_COMMIT_MAX_BATCH,
            },
          }
        : {}),
      ...(bug ? { builtInBug: bug } : {}),
    },
    database.guard,
  );
  groupCommitMetrics(app.metrics, {
    ...(store.placements ? { place: store.placements } : {}),
    ...(store.advances ? { advance: store.advances } : {}),
    ...(inventory.reserves ? { inventory_reserve: inventory.reserves } : {}),
    ...(inventory.commits ? { inventory_commit: inventory.commits } : {}),
  });
  // Like the migrations: whenever the write endpoint is (or becomes) writable. A read-only endpoint
  // at start leaves the service unready (the write guard says why), not dead.
  const seed = () => seedSlots(db, regions, DEFAULT_SLOT_COUNT);
  database.guard.onWritable(seed);
  if (database.guard.isWritable) await seed();
  const clock = new HybridLogicalClock();
  let saga: OrderSaga | undefined;
  const metrics = orderMetrics(app.metrics, () => saga?.inFlight ?? 0);
  const voidWatch = new VoidWatch(store, payments, app.log, {
    recheckMs: Math.max(config.CHAOSCART_RECOVERY_INTERVAL_MS, 1_000),
  });
  const gateTtlMs = config.CHAOSCART_SOLD_OUT_GATE_TTL_MS;
  // Built-in bug "sticky-sold-out-gate" (lab regression guard): a closed gate never opens again.
  const gate =
    gateTtlMs > 0 ? new SoldOutGate({ ttlMs: gateTtlMs, sticky: bug === "sticky-sold-out-gate" }) : undefined;
  const gateMetrics = gate ? soldOutGateMetrics(app.metrics, () => gate.size) : undefined;
  const poller =
    gate &&
    new SoldOutPoller({
      gate,
      available: (skus, signal) => inventory.available(skus, signal),
      intervalMs: config.CHAOSCART_SOLD_OUT_GATE_POLL_MS,
      timeoutMs: config.CHAOSCART_INVENTORY_TIMEOUT_MS,
      log: app.log,
      onPoll: (result) => gateMetrics?.poll(result),
    });
  saga = new OrderSaga({
    store,
    inventory: gate ? new GatedInventory(inventory, gate) : inventory,
    payments,
    clock,
    log: app.log,
    events: metrics.events,
    voids: { windowMs: config.CHAOSCART_LATE_AUTHORIZATION_WINDOW_MS, watch: voidWatch },
    ...(bug ? { builtInBug: bug } : {}),
  });
  const recovery = new RecoveryLoop({
    store,
    saga,
    voidWatch,
    log: app.log,
    intervalMs: config.CHAOSCART_RECOVERY_INTERVAL_MS,
    onRecovered: metrics.recovered,
    // A recovery pass may be the only writer (no orders arriving): its errors must reach the guard
    // too, or a write endpoint turned read-only would go unnoticed.
    onError: (error) => database.guard.noteError(error),
  });

  const catalog = new CatalogReader({
    loadSku: async (id) => {
      const [sku] = await reads.route().sql<Sku[]>`
        SELECT id, name, price::float8 AS price, attrs FROM sku WHERE id = ${id}`;
      return sku;
    },
    loadAllIds: async () => (await db<{ id: string }[]>`SELECT id FROM sku`).map((r) => r.id),
    cacheMax: 10_000,
    cacheTtlMs: 5_000,
    negativeTtlMs: 1_000,
  });
  const catalogRefresh = setInterval(() => {
    catalog.refresh().catch((error) => app.log.warn({ err: error }, "catalog refresh failed"));
  }, config.CHAOSCART_CATALOG_REFRESH_MS);
  catalogRefresh.unref();
  // Behind the gateway: it alone holds the service token.
  registerDataRoutes(app, database, (scope) =>
    registerRealm(scope, { realm: "internal", token: config.CHAOSCART_SERVICE_TOKEN }, (internal) => {
      registerCatalogRoutes(internal, catalog);
      registerOrderRoutes(internal, {
        store,
        saga,
        ids: new SnowflakeGenerator(
          config.CHAOSCART_REGION_CODE,
          config.CHAOSCART_WORKER_ID ?? randomInt(0, 128),
        ),
        clock,
        region: config.CHAOSCART_REGION,
        deadlineMs: config.CHAOSCART_ORDER_DEADLINE_MS,
        maxInFlight: config.CHAOSCART_ORDER_MAX_IN_FLIGHT,
        reads,
        prices: (skus) => lookupPrices(catalog, (missing) => store.prices(missing), skus),
        ...(bug ? { builtInBug: bug } : {}),
        ...(gate ? { soldOutGate: { gate, onGated: (sku: string) => gateMetrics?.gated(sku) } } : {}),
      });
    }),
  );
  registerSlotRoutes(app, {
    db,
    region: config.CHAOSCART_REGION,
    regions,
    adminToken: config.CHAOSCART_ADMIN_TOKEN,
  });
  app.addHook("onClose", async () => {
    await recovery.stop();
    await poller?.stop();
    await saga?.drain();
    reads.stop();
    clearInterval(catalogRefresh);
    await Promise.all([inventoryHttp.close(), paymentHttp.close(), replica?.end({ timeout: 2 })]);
    await database.close();
  });
  recovery.start();
  reads.start();
  poller?.start();
  const labToken = config.CHAOSCART_LAB_TOKEN;
  if (labToken) registerLabEndpoints(app, { token: labToken, clock });
  const running = await listen(app, config.CHAOSCART_HOST, config.CHAOSCART_PORT);
  if (bug)
    app.log.warn({ builtInBug: bug }, `BUILT-IN BUG "${bug}" IS SWITCHED ON: this is not the real shop`);
  app.log.info({ port: running.port, owner }, "order service listening");
  return running;
}

/** The deployment's regions in code order; this region must be the entry its code names. */
function deploymentRegions(config: OrderConfig): string[] {
  const regions = config.CHAOSCART_DEPLOYMENT_REGIONS?.split(",") ?? [config.CHAOSCART_REGION];
  const code = config.CHAOSCART_DEPLOYMENT_REGIONS ? config.CHAOSCART_REGION_CODE : 0;
  if (regions[code] !== config.CHAOSCART_REGION || new Set(regions).size !== regions.length) {
    throw new ConfigError([
      `CHAOSCART_DEPLOYMENT_REGIONS: expected distinct regions with ${config.CHAOSCART_REGION} at position ${code} (CHAOSCART_REGION_CODE) (got ${JSON.stringify(config.CHAOSCART_DEPLOYMENT_REGIONS)})`,
    ]);
  }
  return regions;
}

/** One kind of batched call to the inventory, unless its in-flight setting is 0. */
function callBatching<Kind extends string>(maxInFlight: number, maxBatch: number, kind: Kind) {
  return maxInFlight > 0 ? ({ [kind]: { maxInFlight, maxBatch } } as Record<Kind, CallBatching>) : {};
}
