import type { Db } from "../db/pool.ts";
import {
  type Allocation,
  allocate,
  type ReservationState,
  type ReserveRequest,
} from "../domain/allocation.ts";
import { UnknownSkuError } from "./store.ts";

/**
 * The inventory's built-in bugs (src/shop/built-in-bugs.ts): code a real team could ship, kept
 * apart from the real path, which reaches it through one marked seam. Never used by the real shop.
 */

/**
 * Built-in bug "stock-from-replica": `InventoryStore.reserveBatch` as a team might write it to take
 * the hot row's reads off the primary. Availability is decided from the replica's copy of the stock
 * row (no lock there), and the counters are written back as the absolute values computed from that
 * copy. On a fresh replica it looks right; on a lagging one it grants stock that is gone and
 * overwrites every change made since the copy (lost updates). The database's CHECK constraints do
 * not stop it: the row it writes balances, it is just wrong.
 */
export async function reserveBatchFromReplica(
  db: Db,
  replica: Db,
  region: string,
  sku: string,
  requests: readonly ReserveRequest[],
  ttlMs: number,
): Promise<Allocation> {
  const [stock] = await replica<{ available: number; reserved: number; sold: number }[]>`
    SELECT available, reserved, sold FROM stock WHERE sku_id = ${sku} AND region = ${region}`;
  if (!stock) throw new UnknownSkuError(sku);
  const orderIds = [...new Set(requests.map((r) => r.orderId))];
  return db.begin(async (tx) => {
    const [priorRows, releasedRows] = await Promise.all([
      tx<{ orderId: string; qty: number; state: ReservationState }[]>`
        SELECT order_id AS "orderId", qty, state FROM reservation
        WHERE sku_id = ${sku} AND order_id = ANY(${orderIds}::text[])`,
      tx<{ orderId: string }[]>`
        SELECT order_id AS "orderId" FROM released_order WHERE order_id = ANY(${orderIds}::text[])`,
    ]);
    const prior = new Map(priorRows.map((r) => [r.orderId, r]));
    const released = new Set(releasedRows.map((r) => r.orderId));
    const allocation = allocate(requests, { available: stock.available, prior, released });
    if (allocation.grants.length === 0) return allocation;
    const ids = allocation.grants.map((g) => g.orderId);
    const qtys = allocation.grants.map((g) => g.qty);
    await Promise.all([
      tx`INSERT INTO reservation (order_id, sku_id, region, qty, state, expires_at)
         SELECT o, ${sku}, ${region}, q, 'HELD', now() + ${ttlMs} * interval '1 millisecond'
         FROM unnest(${ids}::text[], ${qtys}::int[]) AS g(o, q)
         ON CONFLICT DO NOTHING`,
      tx`UPDATE stock SET available = ${stock.available - allocation.granted},
           reserved = ${stock.reserved + allocation.granted}, sold = ${stock.sold}, version = version + 1
         WHERE sku_id = ${sku} AND region = ${region}`,
      tx`INSERT INTO stock_movement (order_id, sku_id, region, kind, qty)
         SELECT o, ${sku}, ${region}, 'reserve', q FROM unnest(${ids}::text[], ${qtys}::int[]) AS g(o, q)`,
    ]);
    return allocation;
  });
}
