import postgres from "postgres";
import type { FinalOrder } from "../checkers/acknowledged-orders.ts";
import type { LedgerState } from "../checkers/inventory-ledger.ts";
import { readInventoryState } from "../checkers/inventory-state.ts";
import type { ProviderPayment } from "../checkers/money.ts";

export interface FinalState {
  orders: (FinalOrder & {
    total: number;
    items: { sku: string; qty: number }[];
    /** The order's outbox has a StockReserved event. */
    stockReserved: boolean;
  })[];
  inventory: LedgerState;
  payments: ProviderPayment[];
}

/**
 * Reads what the shop ended with, limited to this experiment: its SKUs, and the orders created since
 * it started or named by its history (so a shared topology can run a suite one experiment after another).
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
  paymentUrl: string;
  token: string;
}): Promise<FinalState> {
  const sql = postgres(options.databaseUrl, { max: 2, onnotice: () => {}, connect_timeout: 10 });
  try {
    const skus = new Set(options.skus);
    const full = await readInventoryState(sql, options.region);
    const inventory: LedgerState = {
      stock: full.stock.filter((s) => skus.has(s.sku)),
      reservations: full.reservations.filter((r) => skus.has(r.sku)),
      movements: full.movements.filter((m) => skus.has(m.sku)),
    };
    const orders = await sql<FinalState["orders"]>`
      SELECT o.id, coalesce(placed.payload->>'idempotencyKey', o.idem_key) AS "idemKey", o.state,
        o.home_region AS region, o.total::float8 AS total, o.items,
        EXISTS (SELECT 1 FROM outbox e WHERE e.aggregate = 'order' AND e.aggregate_id = o.id
                AND e.event = 'StockReserved') AS "stockReserved"
      FROM orders o
      LEFT JOIN LATERAL (SELECT payload FROM outbox e WHERE e.aggregate = 'order' AND e.aggregate_id = o.id
                         AND e.event = 'OrderPlaced' LIMIT 1) placed ON true
      WHERE o.created_at >= ${options.since} OR o.idem_key = ANY(${[...options.keys]}::text[])`;
    const response = await fetch(`${options.paymentUrl}/admin/payments`, {
      headers: { authorization: `Bearer ${options.token}` },
    });
    if (!response.ok) throw new Error(`payment provider answered ${response.status}`);
    const ids = new Set(orders.map((o) => o.id));
    const payments = ((await response.json()) as { payments: ProviderPayment[] }).payments.filter((p) =>
      ids.has(p.orderId),
    );
    return { orders: [...orders], inventory, payments };
  } finally {
    await sql.end({ timeout: 2 });
  }
}
