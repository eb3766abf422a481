import type { TransactionSql } from "postgres";
import type { Db } from "../db/pool.ts";
import type { ActiveState, CancelReason, Order, OrderItem, OrderState } from "../domain/order.ts";

/** SQL for orders, their payments and the outbox. Every state change writes its outbox event in the same transaction. */

export type ShopPaymentState = "AUTHORIZED" | "CAPTURED" | "VOIDED" | "REFUNDED";

export interface NewOrder {
  id: string;
  userId: string;
  idemKey: string;
  fingerprint: string;
  homeRegion: string;
  items: OrderItem[];
  total: number;
  hlc: string;
}

export interface StoredOrder extends Order {
  fingerprint: string;
}

export interface OutboxEvent {
  event: string;
  payload: Record<string, unknown>;
  hlc: string;
}

const ORDER_COLUMNS = `id, user_id AS "userId", idem_key AS "idemKey", request_hash AS fingerprint,
  home_region AS "homeRegion", state, cancel_reason AS "cancelReason", items, total::int AS total, hlc,
  created_at AS "createdAt", updated_at AS "updatedAt"`;

export class OrderStore {
  constructor(
    readonly db: Db,
    readonly owner: string,
    readonly leaseMs: number,
  ) {}

  /** Inserts a PENDING order unless its idempotency key is taken; either way returns the key's order. */
  async placeOrGet(order: NewOrder, placed: OutboxEvent): Promise<{ created: boolean; order: StoredOrder }> {
    return this.db.begin(async (tx) => {
      const inserted = await tx`
        INSERT INTO orders (id, user_id, idem_key, request_hash, home_region, state, items, total, hlc,
                            lease_owner, lease_until)
        VALUES (${order.id}, ${order.userId}, ${order.idemKey}, ${order.fingerprint}, ${order.homeRegion}, 'PENDING',
                ${tx.json(order.items as never)}, ${order.total}, ${order.hlc},
                ${this.owner}, now() + ${this.leaseMs} * interval '1 millisecond')
        ON CONFLICT (idem_key) DO NOTHING RETURNING id`;
      if (inserted.count === 1) await this.emit(tx, order.id, placed);
      const [row] = await tx.unsafe<StoredOrder[]>(
        `SELECT ${ORDER_COLUMNS} FROM orders WHERE idem_key = $1`,
        [order.idemKey],
      );
      if (!row) throw new Error(`order for key ${order.idemKey} vanished`);
      return { created: inserted.count === 1, order: row };
    });
  }

  async get(id: string, db: Db = this.db): Promise<StoredOrder | undefined> {
    const [row] = await db.unsafe<StoredOrder[]>(`SELECT ${ORDER_COLUMNS} FROM orders WHERE id = $1`, [id], {
      prepare: true,
    });
    return row;
  }

  /** A forward step, if the order is still in `from` and no cancellation was decided. Renews the lease. */
  async advance(
    id: string,
    from: ActiveState,
    to: OrderState,
    event: OutboxEvent,
    payment?: { state: ShopPaymentState; amount: number; providerRef?: string },
  ): Promise<boolean> {
    return this.db.begin(async (tx) => {
      const moved = await tx`
        UPDATE orders SET state = ${to}, updated_at = now(), lease_owner = ${this.owner},
          lease_until = now() + ${this.leaseMs} * interval '1 millisecond'
        WHERE id = ${id} AND state = ${from} AND cancel_reason IS NULL RETURNING id`;
      if (moved.count === 0) return false;
      if (payment) await this.upsertPayment(tx, id, payment.state, payment.amount, payment.providerRef);
      await this.emit(tx, id, event);
      return true;
    });
  }

  /** Decides a cancellation; from here on only compensation runs. False if already decided or terminal. */
  async decideCancel(id: string, reason: CancelReason, event: OutboxEvent): Promise<boolean> {
    return this.db.begin(async (tx) => {
      const decided = await tx`
        UPDATE orders SET cancel_reason = ${reason}, updated_at = now()
        WHERE id = ${id} AND state IN ('PENDING', 'RESERVED', 'PAID') AND cancel_reason IS NULL RETURNING id`;
      if (decided.count === 0) return false;
      await this.emit(tx, id, event);
      return true;
    });
  }

  /** Compensation done: the decided cancellation becomes final. */
  async finishCancel(id: string, event: OutboxEvent, payment?: { state: ShopPaymentState; amount: number }) {
    return this.db.begin(async (tx) => {
      const done = await tx`
        UPDATE orders SET state = 'CANCELLED', updated_at = now(), lease_until = NULL
        WHERE id = ${id} AND state IN ('PENDING', 'RESERVED', 'PAID') AND cancel_reason IS NOT NULL RETURNING id`;
      if (done.count === 0) return false;
      if (payment) await this.upsertPayment(tx, id, payment.state, payment.amount);
      await this.emit(tx, id, event);
      return true;
    });
  }

  /**
   * A cancellation that found the stock already sold (a commit beat the release) cannot be
   * compensated; the order was paid and fulfilled, so it is confirmed instead.
   */
  async confirmDespiteCancel(id: string, event: OutboxEvent, amount: number): Promise<boolean> {
    return this.db.begin(async (tx) => {
      const done = await tx`
        UPDATE orders SET state = 'CONFIRMED', cancel_reason = NULL, updated_at = now(), lease_until = NULL
        WHERE id = ${id} AND state = 'PAID' AND cancel_reason IS NOT NULL RETURNING id`;
      if (done.count === 0) return false;
      await this.upsertPayment(tx, id, "CAPTURED", amount);
      await this.emit(tx, id, event);
      return true;
    });
  }

  async recordPayment(
    id: string,
    state: ShopPaymentState,
    amount: number,
    event: OutboxEvent,
  ): Promise<void> {
    await this.db.begin(async (tx) => {
      await this.upsertPayment(tx, id, state, amount);
      await this.emit(tx, id, event);
    });
  }

  async paymentState(id: string): Promise<ShopPaymentState | undefined> {
    const [row] = await this.db<
      { state: ShopPaymentState }[]
    >`SELECT state FROM payment WHERE order_id = ${id}`;
    return row?.state;
  }

  /** Takes over in-flight orders whose driver's lease ran out (a crash, a pause, a lost request). */
  async claimStale(limit: number): Promise<string[]> {
    const rows = await this.db<{ id: string }[]>`
      UPDATE orders SET lease_owner = ${this.owner}, lease_until = now() + ${this.leaseMs} * interval '1 millisecond'
      WHERE id IN (SELECT id FROM orders
                   WHERE state IN ('PENDING', 'RESERVED', 'PAID') AND (lease_until IS NULL OR lease_until < now())
                   ORDER BY lease_until NULLS FIRST LIMIT ${limit} FOR UPDATE SKIP LOCKED)
      RETURNING id`;
    return rows.map((r) => r.id);
  }

  async renewLease(id: string): Promise<void> {
    await this.db`
      UPDATE orders SET lease_owner = ${this.owner}, lease_until = now() + ${this.leaseMs} * interval '1 millisecond'
      WHERE id = ${id} AND state IN ('PENDING', 'RESERVED', 'PAID')`;
  }

  async prices(skus: readonly string[]): Promise<Map<string, number>> {
    const rows = await this.db<
      { id: string; price: string }[]
    >`SELECT id, price FROM sku WHERE id = ANY(${skus}::text[])`;
    return new Map(rows.map((r) => [r.id, Number(r.price)]));
  }

  private async upsertPayment(
    tx: TransactionSql,
    id: string,
    state: ShopPaymentState,
    amount: number,
    providerRef?: string,
  ) {
    await tx`
      INSERT INTO payment (order_id, state, amount, provider_ref) VALUES (${id}, ${state}, ${amount}, ${providerRef ?? null})
      ON CONFLICT (order_id) DO UPDATE SET state = EXCLUDED.state, updated_at = now(),
        provider_ref = coalesce(EXCLUDED.provider_ref, payment.provider_ref)`;
  }

  private async emit(tx: TransactionSql, id: string, event: OutboxEvent) {
    await tx`
      INSERT INTO outbox (aggregate, aggregate_id, event, payload, hlc)
      VALUES ('order', ${id}, ${event.event}, ${tx.json(event.payload as never)}, ${event.hlc})`;
  }
}
