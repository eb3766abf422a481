import type { Sql, TransactionSql } from "postgres";
import type { LedgerState } from "./inventory-ledger.ts";

/**
 * Reads one region's final inventory state for the ledger checker, as one snapshot: a reservation
 * landing between reads of separate tables would otherwise look like a broken ledger.
 */
export function readInventoryState(sql: Sql, region: string): Promise<LedgerState> {
  return sql.begin("isolation level repeatable read read only", (tx) => readInventoryRows(tx, region));
}

/** The three inventory tables, inside the caller's (REPEATABLE READ) transaction. */
export async function readInventoryRows(tx: TransactionSql, region: string): Promise<LedgerState> {
  const stock = await tx<LedgerState["stock"]>`
    SELECT sku_id AS sku, available, reserved, sold, quota FROM stock WHERE region = ${region} ORDER BY sku_id`;
  const reservations = await tx<LedgerState["reservations"]>`
    SELECT order_id AS "orderId", sku_id AS sku, qty, state FROM reservation WHERE region = ${region}`;
  const movements = await tx<LedgerState["movements"]>`
    SELECT order_id AS "orderId", sku_id AS sku, kind, qty FROM stock_movement WHERE region = ${region} ORDER BY id`;
  return { stock: [...stock], reservations: [...reservations], movements: [...movements] };
}
