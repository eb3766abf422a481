import type { Experiment } from "./schema.ts";
import type { Endpoint } from "./system.ts";

/** The order service's catalog learns new SKUs when its Bloom filter is rebuilt (every 5 s). */
const CATALOG_REFRESH_WAIT_MS = 5_500;

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
 * Seeds the run's SKUs through the inventory's admin API (hot ones with `stockPerSku` units), then
 * waits for the catalog to learn them: before that, reads of the fresh SKUs would be answered "unknown".
 */
export async function seedSkus(inventory: Endpoint, stockPerSku: number, skus: ExperimentSkus) {
  const body = {
    skus: [
      ...skus.hot.map((id) => ({ id, stock: stockPerSku, price: 1999 })),
      ...skus.cold.map((id) => ({ id, stock: 100_000, price: 499 })),
    ],
  };
  const response = await fetch(`${inventory.url}/admin/skus`, {
    method: "POST",
    headers: { authorization: `Bearer ${inventory.token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`seeding failed: ${response.status} ${await response.text()}`);
  await new Promise((r) => setTimeout(r, CATALOG_REFRESH_WAIT_MS));
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
  regions: readonly { inventory: Endpoint }[],
  stockPerSku: number,
  skus: ExperimentSkus,
): Promise<void> {
  const shares = splitStock(stockPerSku, regions.length);
  await Promise.all(regions.map((region, i) => seedSkus(region.inventory, shares[i] ?? 0, skus)));
}
