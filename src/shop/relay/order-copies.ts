import type { TransactionSql } from "postgres";
import type { Db } from "../db/pool.ts";
import { applyDecision, type OrderVersion, type PaymentOutcome } from "../domain/conflicts.ts";
import type { CancelReason, OrderState } from "../domain/order.ts";
import { applySlots, type SlotOwnership } from "../orders/slots.ts";
import type { OutboxPosition } from "./outbox-log.ts";

/**
 * An order as one region ships it to another (docs/architecture.md §Regions): the whole row and its
 * payment, not the operation that changed it. The peer keeps whichever version wins the total order
 * of src/shop/domain/conflicts.ts, so shipping a version twice, late or out of order changes nothing.
 * Local bookkeeping (the saga's lease, the request hash) stays home: a copy is never driven.
 */
export interface OrderCopy {
  id: string;
  userId: string;
  idemKey: string;
  homeRegion: string;
  state: OrderState;
  cancelReason: CancelReason | null;
  items: unknown;
  total: number;
  hlc: string;
  versionHlc: string;
  versionRegion: string;
  createdAt: Date;
  payment: { state: PaymentOutcome; amount: number; providerRef: string | null } | null;
}

const COPY_COLUMNS = `o.id, o.user_id AS "userId", o.idem_key AS "idemKey", o.home_region AS "homeRegion",
  o.state, o.cancel_reason AS "cancelReason", o.items, o.total::int AS total, o.hlc,
  coalesce(o.version_hlc, o.hlc) AS "versionHlc", coalesce(o.version_region, o.home_region) AS "versionRegion",
  o.created_at AS "createdAt",
  CASE WHEN p.order_id IS NULL THEN NULL
       ELSE json_build_object('state', p.state, 'amount', p.amount, 'providerRef', p.provider_ref) END AS payment`;

/** The current versions of `ids` in the source region (ids it does not have are left out). */
export async function readOrderCopies(db: Db, ids: readonly string[]): Promise<OrderCopy[]> {
  if (ids.length === 0) return [];
  return db.unsafe<OrderCopy[]>(
    `SELECT ${COPY_COLUMNS} FROM orders o LEFT JOIN payment p ON p.order_id = o.id
     WHERE o.id = ANY($1::text[]) ORDER BY o.id`,
    [ids as string[]],
  );
}

export function versionOf(copy: OrderCopy): OrderVersion {
  return {
    id: copy.id,
    state: copy.state,
    cancelReason: copy.cancelReason,
    payment: copy.payment?.state ?? null,
    hlc: copy.versionHlc,
    region: copy.versionRegion,
  };
}

export interface ApplyOutcome {
  inserted: number;
  replaced: number;
  kept: number;
  /** Versions written by two regions that differed: both are in the conflict log. */
  conflicts: number;
  /** A copy whose idempotency key a different order of this region holds: logged, not applied. */
  keyCollisions: number;
  /** Slot ownerships that replaced an older epoch here. */
  slotsApplied: number;
}

export interface ShippedBatch {
  source: string;
  copies: readonly OrderCopy[];
  /** Unit ownership changed at the source (slot moves): a higher epoch replaces a lower one. */
  slots?: readonly SlotOwnership[];
  /** The source's log position after this batch: recorded with the data, in the same transaction. */
  position: OutboxPosition;
  /** When the newest change of the batch was written at the source. */
  sourceAt: Date;
  /** Who resolves conflicts here, for the log (e.g. "relay east->west"). */
  resolvedBy: string;
}

/**
 * Applies one shipped batch at the peer in one transaction, with the position it reached: a relay
 * that dies after this commit resumes after the batch, one that dies before repeats all of it.
 * Rows are locked in id order, so two relays applying into one region never deadlock.
 */
export async function applyOrderCopies(db: Db, batch: ShippedBatch): Promise<ApplyOutcome> {
  const outcome: ApplyOutcome = {
    inserted: 0,
    replaced: 0,
    kept: 0,
    conflicts: 0,
    keyCollisions: 0,
    slotsApplied: 0,
  };
  await db.begin(async (tx) => {
    outcome.slotsApplied = await applySlots(tx, batch.slots ?? []);
    const ids = batch.copies.map((c) => c.id);
    const held = new Map(
      (
        await tx.unsafe<OrderCopy[]>(
          `SELECT ${COPY_COLUMNS} FROM orders o LEFT JOIN payment p ON p.order_id = o.id
         WHERE o.id = ANY($1::text[]) ORDER BY o.id FOR UPDATE OF o`,
          [ids],
        )
      ).map((c) => [c.id, c]),
    );
    for (const copy of [...batch.copies].sort((a, b) => (a.id < b.id ? -1 : 1))) {
      const mine = held.get(copy.id);
      const decision = applyDecision(mine && versionOf(mine), versionOf(copy));
      if (decision.action === "insert") {
        const taken = await insertCopy(tx, copy);
        if (taken) {
          outcome.keyCollisions++;
          await logConflict(tx, "key-collision", copy.id, taken, copy, batch.resolvedBy);
        } else outcome.inserted++;
        continue;
      }
      if (decision.conflict) {
        outcome.conflicts++;
        const [kept, discarded] = decision.action === "replace" ? [copy, mine] : [mine, copy];
        await logConflict(tx, "concurrent-versions", copy.id, kept, discarded, batch.resolvedBy);
      }
      if (decision.action === "replace") {
        await replaceWith(tx, copy);
        outcome.replaced++;
      } else outcome.kept++;
    }
    await tx`
      INSERT INTO replication_applied (source_region, txid, id, source_at)
      VALUES (${batch.source}, ${batch.position.txid}::xid8, ${batch.position.id}::bigint, ${batch.sourceAt})
      ON CONFLICT (source_region) DO UPDATE
        SET txid = EXCLUDED.txid, id = EXCLUDED.id, source_at = EXCLUDED.source_at, applied_at = now()
        WHERE (replication_applied.txid, replication_applied.id) < (EXCLUDED.txid, EXCLUDED.id)`;
  });
  return outcome;
}

/**
 * Reconciliation's repair: makes this region's row of each order exactly the home region's version,
 * whatever this region holds (a lost or corrupted change would otherwise win or stay). One
 * transaction per order, so one that cannot be written (e.g. its key taken here) spoils no other.
 */
export async function overwriteWithCopies(db: Db, copies: readonly OrderCopy[]): Promise<void> {
  for (const copy of copies) {
    await db.begin(async (tx) => {
      await tx`
        INSERT INTO orders (id, user_id, idem_key, request_hash, home_region, state, cancel_reason, items, total,
                            hlc, version_hlc, version_region, created_at)
        VALUES (${copy.id}, ${copy.userId}, ${copy.idemKey}, '', ${copy.homeRegion}, ${copy.state},
                ${copy.cancelReason}, ${JSON.stringify(copy.items)}::text::jsonb, ${copy.total}, ${copy.hlc},
                ${copy.versionHlc}, ${copy.versionRegion}, ${copy.createdAt})
        ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id, idem_key = EXCLUDED.idem_key,
          home_region = EXCLUDED.home_region, state = EXCLUDED.state, cancel_reason = EXCLUDED.cancel_reason,
          items = EXCLUDED.items, total = EXCLUDED.total, hlc = EXCLUDED.hlc, version_hlc = EXCLUDED.version_hlc,
          version_region = EXCLUDED.version_region, updated_at = now()`;
      await upsertPayment(tx, copy);
    });
  }
}

/** Where this region has applied `source`'s stream up to (the relay resumes there). */
export async function appliedPosition(db: Db, source: string): Promise<OutboxPosition | undefined> {
  const [row] = await db<OutboxPosition[]>`
    SELECT txid::text AS txid, id::text AS id FROM replication_applied WHERE source_region = ${source}`;
  return row;
}

/**
 * Inserts a copy of an order this region has never seen. Returns the order that already holds its
 * idempotency key under another id (a cross-region key collision), in which case nothing was written.
 */
async function insertCopy(tx: TransactionSql, copy: OrderCopy): Promise<OrderCopy | undefined> {
  const [inserted] = await tx<{ id: string }[]>`
    INSERT INTO orders (id, user_id, idem_key, request_hash, home_region, state, cancel_reason, items, total,
                        hlc, version_hlc, version_region, created_at)
    VALUES (${copy.id}, ${copy.userId}, ${copy.idemKey}, '', ${copy.homeRegion}, ${copy.state},
            ${copy.cancelReason}, ${JSON.stringify(copy.items)}::text::jsonb, ${copy.total}, ${copy.hlc},
            ${copy.versionHlc}, ${copy.versionRegion}, ${copy.createdAt})
    ON CONFLICT (idem_key) DO NOTHING RETURNING id`;
  if (!inserted) {
    const [taken] = await tx.unsafe<OrderCopy[]>(
      `SELECT ${COPY_COLUMNS} FROM orders o LEFT JOIN payment p ON p.order_id = o.id WHERE o.idem_key = $1`,
      [copy.idemKey],
    );
    return taken;
  }
  await upsertPayment(tx, copy);
  return undefined;
}

async function replaceWith(tx: TransactionSql, copy: OrderCopy): Promise<void> {
  await tx`
    UPDATE orders SET state = ${copy.state}, cancel_reason = ${copy.cancelReason},
      version_hlc = ${copy.versionHlc}, version_region = ${copy.versionRegion}, updated_at = now()
    WHERE id = ${copy.id}`;
  await upsertPayment(tx, copy);
}

/** The payment row as the winning version has it (none: none). */
async function upsertPayment(tx: TransactionSql, copy: OrderCopy): Promise<void> {
  if (!copy.payment) {
    await tx`DELETE FROM payment WHERE order_id = ${copy.id}`;
    return;
  }
  await tx`
    INSERT INTO payment (order_id, state, amount, provider_ref)
    VALUES (${copy.id}, ${copy.payment.state}, ${copy.payment.amount}, ${copy.payment.providerRef})
    ON CONFLICT (order_id) DO UPDATE
      SET state = EXCLUDED.state, amount = EXCLUDED.amount, provider_ref = EXCLUDED.provider_ref, updated_at = now()`;
}

async function logConflict(
  tx: TransactionSql,
  kind: "concurrent-versions" | "key-collision",
  orderId: string,
  kept: OrderCopy | undefined,
  discarded: OrderCopy | undefined,
  resolvedBy: string,
): Promise<void> {
  await tx`
    INSERT INTO conflict_log (kind, order_id, kept, discarded, resolved_by)
    VALUES (${kind}, ${orderId}, ${JSON.stringify(kept ?? null)}::text::jsonb, ${JSON.stringify(discarded ?? null)}::text::jsonb,
            ${resolvedBy})`;
}
