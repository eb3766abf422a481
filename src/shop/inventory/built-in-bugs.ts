import type { Db } from "../db/pool.ts";
import {
  type Allocation,
  allocate,
  type ReservationState,
  type ReserveRequest,
} from "../domain/allocation.ts";
import { type ReservationRow, UnknownSkuError } from "./records.ts";

/**
 * The inventory's built-in bugs (src/shop/built-in-bugs.ts): code a real team could ship, kept
 * apart from the real path, which reaches it through one marked seam. Never used by the real shop.
 * They predate stock buckets and assume a SKU's stock is one row (bucket 0, the default).
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
    SELECT available, reserved, sold FROM stock WHERE sku_id = ${sku} AND region = ${region} AND bucket = 0`;
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
         WHERE sku_id = ${sku} AND region = ${region} AND bucket = 0`,
      tx`INSERT INTO stock_movement (order_id, sku_id, region, kind, qty)
         SELECT o, ${sku}, ${region}, 'reserve', q FROM unnest(${ids}::text[], ${qtys}::int[]) AS g(o, q)`,
    ]);
    return allocation;
  });
}

/**
 * Built-in bug "partial-commit": the expiry sweeper as this store first had it. It releases expired
 * reservations row by row (SKIP LOCKED), so one item of an order goes back on sale while another is
 * still held, or being committed; with the commit selling whatever is still held, an order ends
 * CONFIRMED and charged in full with an item it never got.
 */
export async function sweepExpiredRowByRow(db: Db, region: string, limit: number): Promise<ReservationRow[]> {
  return db.begin(async (tx) => {
    const expired = await tx<ReservationRow[]>`
      UPDATE reservation r SET state = 'RELEASED', updated_at = now()
      FROM (SELECT order_id, sku_id FROM reservation
            WHERE state = 'HELD' AND expires_at < now() AND region = ${region}
            ORDER BY expires_at LIMIT ${limit} FOR UPDATE SKIP LOCKED) e
      WHERE r.order_id = e.order_id AND r.sku_id = e.sku_id
      RETURNING r.order_id AS "orderId", r.sku_id AS sku, r.qty, r.state, r.expires_at AS "expiresAt"`;
    if (expired.length === 0) return expired;
    const bySku = new Map<string, number>();
    for (const row of expired) bySku.set(row.sku, (bySku.get(row.sku) ?? 0) + row.qty);
    const skus = [...bySku.keys()].sort();
    await tx`SELECT 1 FROM stock WHERE sku_id = ANY(${skus}::text[]) AND region = ${region}
             ORDER BY sku_id FOR UPDATE`;
    await tx`
      UPDATE stock s SET reserved = s.reserved - d.q, available = s.available + d.q, version = s.version + 1
      FROM unnest(${skus}::text[], ${skus.map((sku) => bySku.get(sku) ?? 0)}::int[]) AS d(sku, q)
      WHERE s.sku_id = d.sku AND s.region = ${region}`;
    await tx`
      INSERT INTO stock_movement (order_id, sku_id, region, kind, qty)
      SELECT o, s, ${region}, 'release', q
      FROM unnest(${expired.map((r) => r.orderId)}::text[], ${expired.map((r) => r.sku)}::text[],
                  ${expired.map((r) => r.qty)}::int[]) AS t(o, s, q)`;
    return expired;
  });
}
