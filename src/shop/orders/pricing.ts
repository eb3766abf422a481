import type { CatalogReader } from "../catalog/catalog.ts";

/**
 * Unit prices for an order: from the catalog cache where it has the SKU (no database round trip on
 * the hot path), from the primary for the rest. The cache may lag the database by its TTL and can
 * come from the replica, which is fine for prices (fixed when a SKU is seeded) but not for
 * existence: a SKU the cache does not know yet — added since the last Bloom refresh, or not yet
 * replayed on the replica — is asked of the primary, so an order is never refused on a stale view.
 */
export async function lookupPrices(
  catalog: Pick<CatalogReader, "get">,
  fromPrimary: (skus: readonly string[]) => Promise<Map<string, number>>,
  skus: readonly string[],
): Promise<Map<string, number>> {
  const prices = new Map<string, number>();
  const missing: string[] = [];
  await Promise.all(
    skus.map(async (id) => {
      const lookup = await catalog.get(id).catch(() => undefined);
      if (lookup?.sku) prices.set(id, lookup.sku.price);
      else missing.push(id);
    }),
  );
  if (missing.length > 0) for (const [id, price] of await fromPrimary(missing)) prices.set(id, price);
  return prices;
}
