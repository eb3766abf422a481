import { setTimeout as sleep } from "node:timers/promises";
import type { Db } from "../db/pool.ts";
import { compareTable, type DigestTable, ORDERS_DIGEST, PAYMENTS_DIGEST, rowDigestsOf } from "./digest.ts";
import { overwriteWithCopies, readOrderCopies } from "./order-copies.ts";

/**
 * Reconciliation between two regions (issue "active-active, part 1" §5): compare the per-bucket
 * digests of the replicated tables, look row by row only into the buckets that differ, and repair
 * each divergent order from its home region, which owns it.
 *
 * The two databases are read a moment apart while the relays keep shipping, so a row can differ
 * only because its latest change is in flight. A row counts as divergent only if it still differs
 * when looked at again after `graceMs` (longer than the replication lag), and only such rows are
 * repaired.
 */

export interface RegionDb {
  name: string;
  db: Db;
}

export interface ReconcileOptions {
  buckets: number;
  /** How long a difference must last to count (beyond replication lag). */
  graceMs: number;
  repair: boolean;
  /** Repair only orders homed in this region (each relay repairs what its source region owns). */
  onlyHome?: string;
}

export interface DivergentRow {
  table: string;
  key: string;
  /** Where the row is missing, or "both" when both have it with different contents. */
  missingIn: string | "both";
  homeRegion: string | undefined;
}

export interface ReconcileReport {
  regions: [string, string];
  bucketsCompared: number;
  bucketsDiffering: number;
  rowsDiffering: number;
  rowsRepaired: number;
  /** Divergent rows left as they are, with why (e.g. the home region no longer has the order). */
  unrepaired: { key: string; reason: string }[];
  divergent: DivergentRow[];
  tookMs: number;
}

const TABLES: readonly DigestTable[] = [ORDERS_DIGEST, PAYMENTS_DIGEST];

export async function reconcile(
  a: RegionDb,
  b: RegionDb,
  options: ReconcileOptions,
): Promise<ReconcileReport> {
  const started = performance.now();
  const report: ReconcileReport = {
    regions: [a.name, b.name],
    bucketsCompared: 0,
    bucketsDiffering: 0,
    rowsDiffering: 0,
    rowsRepaired: 0,
    unrepaired: [],
    divergent: [],
    tookMs: 0,
  };
  const suspects = new Map<DigestTable, string[]>();
  for (const table of TABLES) {
    const comparison = await compareTable(a.db, b.db, table, options.buckets);
    report.bucketsCompared += comparison.bucketsCompared;
    report.bucketsDiffering += comparison.bucketsDiffering.length;
    const { missingAtTarget, unknownAtSource, differing } = comparison.rows;
    const keys = [...missingAtTarget, ...unknownAtSource, ...differing];
    if (keys.length > 0) suspects.set(table, keys);
  }
  if (suspects.size > 0) await sleep(options.graceMs);

  const orderIds = new Set<string>();
  for (const [table, keys] of suspects) {
    const [here, there] = await Promise.all([
      rowDigestsOf(a.db, table, keys),
      rowDigestsOf(b.db, table, keys),
    ]);
    for (const key of keys) {
      const mine = here.get(key);
      const theirs = there.get(key);
      if (mine === theirs) continue; // it was in flight
      orderIds.add(key);
      report.divergent.push({
        table: table.table,
        key,
        missingIn: mine === undefined ? a.name : theirs === undefined ? b.name : "both",
        homeRegion: undefined,
      });
    }
  }
  report.rowsDiffering = report.divergent.length;
  if (orderIds.size === 0) {
    report.tookMs = Math.round(performance.now() - started);
    return report;
  }

  const ids = [...orderIds];
  const homes = await homesOf([a, b], ids);
  for (const row of report.divergent) row.homeRegion = homes.get(row.key);
  if (options.repair) {
    for (const id of ids) {
      const home = homes.get(id);
      if (options.onlyHome !== undefined && home !== options.onlyHome) continue;
      const owner = [a, b].find((r) => r.name === home);
      const other = [a, b].find((r) => r.name !== home);
      if (!owner || !other) {
        report.unrepaired.push({
          key: id,
          reason: `home region ${home ?? "unknown"} is not one of ${a.name}, ${b.name}`,
        });
        continue;
      }
      const [copy] = await readOrderCopies(owner.db, [id]);
      if (!copy) {
        report.unrepaired.push({
          key: id,
          reason: `its home region ${owner.name} has no such order (only a copy exists)`,
        });
        continue;
      }
      try {
        await overwriteWithCopies(other.db, [copy]);
        report.rowsRepaired += report.divergent.filter((r) => r.key === id).length;
      } catch (error) {
        report.unrepaired.push({ key: id, reason: (error as Error).message });
      }
    }
  }
  report.tookMs = Math.round(performance.now() - started);
  return report;
}

/** Each order's home region, from whichever side has the order. */
async function homesOf(regions: readonly RegionDb[], ids: readonly string[]): Promise<Map<string, string>> {
  const homes = new Map<string, string>();
  for (const region of regions) {
    const rows = await region.db<{ id: string; homeRegion: string }[]>`
      SELECT id, home_region AS "homeRegion" FROM orders WHERE id = ANY(${ids as string[]}::text[])`;
    for (const row of rows) if (!homes.has(row.id)) homes.set(row.id, row.homeRegion);
  }
  return homes;
}
