import postgres from "postgres";
import type { RegionalFinalState } from "../checkers/regional.ts";
import { readFinalState } from "./final-state.ts";
import { readRegionState, scopeToRun } from "./region-state.ts";
import type { RegionAccess } from "./system.ts";

/**
 * What a run on several regions ended with (checkers/regional.ts): each region's own final state
 * (the orders homed there, its inventory, its provider) for the single-region checks, and every
 * region's full state (copies of the others' orders included) for the cross-region checks, both
 * limited to this run's orders.
 */
export async function readRegionalFinalState(options: {
  regions: readonly RegionAccess[];
  skus: readonly string[];
  since: Date;
  keys: readonly string[];
  orderIds: readonly string[];
}): Promise<RegionalFinalState> {
  const { regions, ...run } = options;
  const finals = await Promise.all(
    regions.map(async (region) => ({
      name: region.name,
      final: await readFinalState({
        ...run,
        databaseUrl: region.databaseUrl(),
        region: region.name,
        homeOnly: true,
        paymentUrl: region.payments.url,
        token: region.payments.token,
      }).catch((error: Error) => ({ error: error.message })),
    })),
  );
  const crossRegion = await Promise.all(
    regions.map(async (region) => scopeToRun(await readOne(region), run)),
  ).catch((error: Error) => ({ error: error.message }));
  return { regions: finals, crossRegion };
}

async function readOne(region: RegionAccess) {
  const sql = postgres(region.databaseUrl(), { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    return await readRegionState(region.name, sql, region.payments);
  } finally {
    await sql.end({ timeout: 2 });
  }
}
