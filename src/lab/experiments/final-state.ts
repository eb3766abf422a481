import postgres, { type Sql, type TransactionSql } from "postgres";
import { decode } from "../../shop/domain/ids.ts";
import {
  type FinalState,
  type FinalStateOrder,
  isUnreadable,
  type LedgerState,
  type ProviderPayment,
} from "../checkers/observed.ts";
import type { HistoryOp } from "../history/op.ts";

/**
 * The one place the lab reads the final state (the checkers only ever see the data it returns, or the
 * same data saved as final-state.json).
 */

export type { FinalState, FinalStateOrder, Source, Unreadable } from "../checkers/observed.ts";
export { isUnreadable } from "../checkers/observed.ts";

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
    SELECT sku_id AS sku, sum(available)::int AS available, sum(reserved)::int AS reserved,
           sum(sold)::int AS sold, sum(quota)::int AS quota
    FROM stock WHERE region = ${region} GROUP BY sku_id ORDER BY sku_id`;
  const reservations = await tx<LedgerState["reservations"]>`
    SELECT order_id AS "orderId", sku_id AS sku, qty, state FROM reservation WHERE region = ${region}`;
  const movements = await tx<LedgerState["movements"]>`
    SELECT order_id AS "orderId", sku_id AS sku, kind, qty, (extract(epoch FROM at) * 1000)::float8 AS at
    FROM stock_movement WHERE region = ${region} ORDER BY id`;
  return { stock: [...stock], reservations: [...reservations], movements: [...movements] };
}

/**
 * Reads what the shop ended with, limited to this experiment: its SKUs, the orders created since it
 * started or named by its history (so a shared topology can run a suite one experiment after another),
 * and the provider's payments of orders minted since it started or named by either.
 *
 * An order's idempotency key is the one its client sent, as the order's OrderPlaced event recorded
 * it; the `idem_key` column (what the shop dedupes on, so part of what is under test) only for orders
 * whose event does not carry it.
 */
export async function readFinalState(options: {
  databaseUrl: string;
  region: string;
  skus: readonly string[];
  since: Date;
  keys: readonly string[];
  /** Order ids the history names (given to clients, read by them). */
  orderIds?: readonly string[];
  /** Only the orders homed in `region`, not its copies of other regions' orders. */
  homeOnly?: boolean;
  paymentUrl: string;
  token: string;
}): Promise<FinalState> {
  // The provider first: an order it has a payment for is read from the database even if nothing else names it.
  const payments = await readPayments(options).catch((error: Error) => ({
    error: `payment provider: ${error.message}`,
  }));
  const named = [
    ...(options.orderIds ?? []),
    ...(isUnreadable(payments) ? [] : payments.map((p) => p.orderId)),
  ];
  const database = await readDatabase(options, named).catch((error: Error) => ({
    error: `database: ${error.message}`,
  }));
  return {
    skus: [...options.skus],
    orders: "error" in database ? database : database.orders,
    inventory: "error" in database ? database : database.inventory,
    payments,
  };
}

/** Orders and the three inventory tables in one REPEATABLE READ snapshot. */
async function readDatabase(
  options: Parameters<typeof readFinalState>[0],
  orderIds: readonly string[],
): Promise<{ orders: FinalStateOrder[]; inventory: LedgerState }> {
  const sql = postgres(options.databaseUrl, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    return await sql.begin("isolation level repeatable read read only", async (tx) => {
      const skus = new Set(options.skus);
      const full = await readInventoryRows(tx, options.region);
      const inventory: LedgerState = {
        stock: full.stock.filter((s) => skus.has(s.sku)),
        reservations: full.reservations.filter((r) => skus.has(r.sku)),
        movements: full.movements.filter((m) => skus.has(m.sku)),
      };
      const orders = await tx<FinalStateOrder[]>`
        SELECT o.id, coalesce(placed.payload->>'idempotencyKey', o.idem_key) AS "idemKey", o.state,
          o.home_region AS region, o.total::float8 AS total, o.items,
          EXISTS (SELECT 1 FROM outbox e WHERE e.aggregate = 'order' AND e.aggregate_id = o.id
                  AND e.event = 'StockReserved') AS "stockReserved"
        FROM orders o
        LEFT JOIN LATERAL (SELECT payload FROM outbox e WHERE e.aggregate = 'order' AND e.aggregate_id = o.id
                           AND e.event = 'OrderPlaced' LIMIT 1) placed ON true
        WHERE (o.created_at >= ${options.since} OR o.idem_key = ANY(${[...options.keys]}::text[])
               OR o.id = ANY(${[...new Set(orderIds)]}::text[]))
          AND (${!options.homeOnly} OR o.home_region = ${options.region})`;
      return { orders: [...orders], inventory };
    });
  } finally {
    await sql.end({ timeout: 2 });
  }
}

/**
 * The provider's payments of this experiment: of orders minted since it started (order ids carry their
 * creation time) or named by its history. Not filtered by the orders the shop has: a payment of an
 * order the shop lost is exactly what the money check looks for.
 */
async function readPayments(options: Parameters<typeof readFinalState>[0]): Promise<ProviderPayment[]> {
  const response = await fetch(`${options.paymentUrl}/admin/payments`, {
    headers: { authorization: `Bearer ${options.token}` },
    signal: AbortSignal.timeout(15_000),
  });
  if (!response.ok) throw new Error(`GET /admin/payments answered ${response.status}`);
  const body = (await response.json()) as { payments?: unknown };
  if (!Array.isArray(body.payments)) throw new Error("GET /admin/payments: no payments list in the answer");
  const named = new Set(options.orderIds ?? []);
  const since = options.since.getTime();
  return (body.payments as ProviderPayment[]).filter(
    (p) => named.has(p.orderId) || mintedSince(p.orderId, since),
  );
}

/** An order id minted at or after `since`; an id that is not the shop's kind is kept (never hidden). */
function mintedSince(orderId: string, since: number): boolean {
  try {
    return decode(orderId).timestampMs >= since;
  } catch {
    return true;
  }
}

/** What a history names: the idempotency keys of its orders, and the order ids clients were given or read. */
export function namedInHistory(ops: readonly HistoryOp[]): { keys: string[]; orderIds: string[] } {
  const keys = new Set<string>();
  const ids = new Set<string>();
  for (const op of ops) {
    if (op.process !== "client") continue;
    if (op.kind === "order" && op.value.idempotencyKey) keys.add(op.value.idempotencyKey);
    if ((op.kind === "order" || op.kind === "order-read") && op.value.orderId) ids.add(op.value.orderId);
  }
  return { keys: [...keys], orderIds: [...ids] };
}
