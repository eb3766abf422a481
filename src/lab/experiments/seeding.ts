import type { Experiment } from "./schema.ts";
import type { Endpoint } from "./system.ts";

/**
 * The order service's catalog learns new SKUs when its Bloom filter is rebuilt (every 5 s by default,
 * every second with the lab's settings); a deployment given with --target may rebuild it less often,
 * so the wait for it is bounded generously.
 */
const CATALOG_LEARN_LIMIT_MS = 30_000;
const CATALOG_POLL_MS = 100;

export interface ExperimentSkus {
  hot: string[];
  cold: string[];
  /** Names never seeded: the workload's unknown-SKU reads. */
  unknown: string[];
}

/** Fresh SKU names for one run, so runs on a shared system never see each other's stock. */
export function skuNames(experiment: Experiment): ExperimentSkus {
  const prefix = experiment.name.toUpperCase();
  const run = Date.now().toString(36).toUpperCase();
  return {
    hot: Array.from({ length: experiment.workload.hotSkus }, (_, i) => `${prefix}-${run}-HOT-${i + 1}`),
    cold: Array.from({ length: experiment.workload.coldSkus }, (_, i) => `${prefix}-${run}-COLD-${i + 1}`),
    unknown: Array.from({ length: 50 }, (_, i) => `${prefix}-${run}-NOPE-${i + 1}`),
  };
}

/**
 * Seeds the run's SKUs through the inventory's admin API (hot ones with `stockPerSku` units). With a
 * `catalog` (the gateway that answers catalog reads), it then waits until that catalog knows every
 * seeded SKU: before that, reads of the fresh SKUs would be answered "unknown". Orders need no wait
 * (they are priced from the database when the catalog misses).
 */
export async function seedSkus(
  inventory: Endpoint,
  stockPerSku: number,
  skus: ExperimentSkus,
  catalog?: { gatewayUrl: string },
  stockBuckets = 1,
) {
  const body = {
    skus: [
      ...skus.hot.map((id) => ({ id, stock: stockPerSku, price: 1999, buckets: stockBuckets })),
      ...skus.cold.map((id) => ({ id, stock: 100_000, price: 499 })),
    ],
  };
  const response = await fetch(`${inventory.url}/admin/skus`, {
    method: "POST",
    headers: { authorization: `Bearer ${inventory.token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`seeding failed: ${response.status} ${await response.text()}`);
  if (catalog) await untilCatalogKnows(catalog.gatewayUrl, [...skus.hot, ...skus.cold]);
}

/**
 * Polls the gateway's catalog reads until every id is found. The ids are in the database already,
 * so a read never caches a miss for them (a Bloom filter without them answers without caching).
 */
export async function untilCatalogKnows(
  gatewayUrl: string,
  ids: readonly string[],
  limitMs = CATALOG_LEARN_LIMIT_MS,
): Promise<void> {
  const deadline = Date.now() + limitMs;
  let unknown = [...ids];
  for (;;) {
    const found = await Promise.all(
      unknown.map(async (id) => {
        const response = await fetch(`${gatewayUrl}/skus/${encodeURIComponent(id)}`, {
          headers: { "x-user-id": "lab-seeding" },
        }).catch(() => undefined);
        await response?.body?.cancel();
        return response?.status === 200;
      }),
    );
    unknown = unknown.filter((_, i) => !found[i]);
    if (unknown.length === 0) return;
    if (Date.now() >= deadline) {
      throw new Error(
        `seeding: the catalog at ${gatewayUrl} did not know ${unknown.length} seeded SKU(s) after ${limitMs / 1000} s (${unknown.slice(0, 3).join(", ")}${unknown.length > 3 ? ", …" : ""})`,
      );
    }
    await new Promise((r) => setTimeout(r, CATALOG_POLL_MS));
  }
}

/**
 * Each region sells its own stock (active-active part 1: no escrow between regions yet), so the
 * experiment's stock per hot SKU is split between them, the first regions taking the remainder.
 */
export function splitStock(stockPerSku: number, regions: number): number[] {
  const base = Math.floor(stockPerSku / regions);
  return Array.from({ length: regions }, (_, i) => base + (i < stockPerSku % regions ? 1 : 0));
}

/** Seeds every region's inventory with its share of the stock (splitStock), all at once. */
export async function seedRegions(
  regions: readonly { inventory: Endpoint; gatewayUrl: string }[],
  stockPerSku: number,
  skus: ExperimentSkus,
  stockBuckets = 1,
): Promise<void> {
  const shares = splitStock(stockPerSku, regions.length);
  await Promise.all(
    regions.map((region, i) => seedSkus(region.inventory, shares[i] ?? 0, skus, region, stockBuckets)),
  );
}
