import type { ReservationState } from "../domain/allocation.ts";

/**
 * What the inventory store reads and returns, and the errors it throws: its own module so that the
 * store, the built-in bugs beside it, the engine and the routes share them without importing each other.
 */

export interface StockRow {
  sku: string;
  region: string;
  available: number;
  reserved: number;
  sold: number;
  quota: number;
}

export interface ReservationRow {
  orderId: string;
  sku: string;
  qty: number;
  state: ReservationState;
  expiresAt: string;
}

export type SettleOutcome =
  | {
      kind: "done";
      state: "COMMITTED" | "RELEASED";
      items: ReservationRow[];
      /** Whether this settlement changed anything, and what (the rest was settled before it). */
      changed: boolean;
      moved: ReservationRow[];
    }
  | { kind: "conflict"; state: ReservationState; items: ReservationRow[] }
  | { kind: "not_found" };

export class UnknownSkuError extends Error {
  constructor(readonly sku: string) {
    super(`unknown SKU ${sku}`);
  }
}

/** The batch's own write count disagreed with its plan: another writer raced it. The batch is rolled back and retried. */
export class BatchRaceError extends Error {}

export interface SkuSeed {
  id: string;
  name?: string;
  /** Integer minor units (cents). */
  price?: number;
  stock: number;
  /** Rows the stock is split into, each its own lock (the store's default when absent). */
  buckets?: number;
}

export type SeedResult = { sku: string; created: boolean } | { sku: string; conflict: StockRow };

export class SeedConflictError extends Error {
  constructor(readonly results: SeedResult[]) {
    const names = results.filter((r) => "conflict" in r).map((r) => r.sku);
    super(`SKUs already seeded with a different quota: ${names.join(", ")}`);
  }
}
