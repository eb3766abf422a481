import type { Sql } from "postgres";
import type { LedgerState } from "./inventory-ledger.ts";

/** Reads one region's final inventory state for the ledger checker. */
export async function readInventoryState(sql: Sql, region: string): Promise<LedgerState> {
  const [stock, reservations, movements] = await Promise.all([
    sql<LedgerState["stock"]>`
      SELECT sku_id AS sku, available, reserved, sold, quota FROM stock WHERE region = ${region} ORDER BY sku_id`,
    sql<LedgerState["reservations"]>`
      SELECT order_id AS "orderId", sku_id AS sku, qty, state FROM reservation WHERE region = ${region}`,
    sql<LedgerState["movements"]>`
      SELECT order_id AS "orderId", sku_id AS sku, kind, qty FROM stock_movement WHERE region = ${region} ORDER BY id`,
  ]);
  return { stock: [...stock], reservations: [...reservations], movements: [...movements] };
}
