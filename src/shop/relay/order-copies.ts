import type { TransactionSql } from "postgres";
import type { Db } from "../db/pool.ts";
import { compareVersions, type OrderVersion, type PaymentOutcome } from "../domain/conflicts.ts";
import type { CancelReason, OrderState } from "../domain/order.ts";
import type { SlotOwnership } from "../orders/slots.ts";
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

/** The current versions of `ids` in the source region (ids it does not have are left out). */
export async function readOrderCopies(db: Db, ids: readonly string[]): Promise<OrderCopy[]> {
  if (ids.length === 0) return [];
  const rows = await db.unsafe<{ copy: OrderCopyJson }[]>(
    `SELECT ${COPY_JSON} AS copy FROM orders o LEFT JOIN payment p ON p.order_id = o.id
     WHERE o.id = ANY($1::text[]) ORDER BY o.id`,
    [ids as string[]],
    { prepare: true },
  );
  return rows.map((row) => copyFromJson(row.copy));
}

/** An order copy as COPY_JSON builds it: a timestamp is a string in JSON. */
export type OrderCopyJson = Omit<OrderCopy, "createdAt"> & { createdAt: string };

export function copyFromJson(json: OrderCopyJson): OrderCopy {
  return { ...json, createdAt: new Date(json.createdAt) };
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

export interface AppliedBatch extends ApplyOutcome {
  /** False when the peer did not stand at `after`: nothing was written. */
  applied: boolean;
  /** The peer's clock when the batch's writes were done (its commit follows: the standby's confirmation). */
  appliedAt: Date;
}

export interface ShippedBatch {
  source: string;
  copies: readonly OrderCopy[];
  /** Unit ownership changed at the source (slot moves): a higher epoch replaces a lower one. */
  slots?: readonly SlotOwnership[];
  /** The source's log position after this batch: recorded with the data, in the same transaction. */
  position: OutboxPosition;
  /**
   * Where the peer must stand for this batch to apply (the previous batch's position): otherwise
   * the statement writes nothing and answers `applied: false`. What lets a relay send a batch
   * before the previous one is confirmed. Absent: applied wherever the peer stands.
   */
  after?: OutboxPosition;
  /** When the newest change of the batch was written at the source. */
  sourceAt: Date;
  /** Who resolves conflicts here, for the log (e.g. "relay east->west"). */
  resolvedBy: string;
}

/**
 * Applies one shipped batch at the peer in one statement, with the position it reached: a relay
 * that dies after this commit resumes after the batch, one that dies before repeats all of it.
 * Rows are locked in id order, so two relays applying into one region never deadlock.
 *
 * One round trip whatever the batch's size: the peer is across the WAN, so the cost of an apply is
 * its round trips, not its rows. The statement compares each incoming version with the one the
 * region holds by their version keys (domain/conflicts.ts versionKey, built in SQL by migration
 * 007), then writes inserts, replacements, payments, slot ownership, the position and the conflict
 * log. (A statement per step cost 7 round trips, over 300 ms per batch at 20 ms each way.)
 */
export async function applyOrderCopies(db: Db, batch: ShippedBatch): Promise<AppliedBatch> {
  const [row] = await db.unsafe<AppliedBatch[]>(
    APPLY_BATCH,
    [
      JSON.stringify(latestPerOrder(batch.copies)),
      JSON.stringify(batch.slots ?? []),
      batch.source,
      batch.position.txid,
      batch.position.id,
      batch.sourceAt,
      batch.resolvedBy,
      batch.after?.txid ?? null,
      batch.after?.id ?? null,
    ],
    // Prepared: after its first use on a connection the statement costs one Bind/Execute round
    // trip; unprepared, postgres.js describes it first and waits for the answer.
    { prepare: true },
  );
  if (!row) throw new Error("applying a batch returned no outcome row");
  return row;
}

/** One version per order, the greatest: the statement writes each row at most once. */
function latestPerOrder(copies: readonly OrderCopy[]): OrderCopy[] {
  const latest = new Map<string, OrderCopy>();
  for (const copy of copies) {
    const seen = latest.get(copy.id);
    if (!seen || compareVersions(versionOf(copy), versionOf(seen)) > 0) latest.set(copy.id, copy);
  }
  return [...latest.values()];
}

/**
 * An order row `o` and its payment `p` in OrderCopy's shape (copyFromJson), as the relay reads and
 * the conflict log keeps it.
 */
export const COPY_JSON = `jsonb_build_object('id', o.id, 'userId', o.user_id, 'idemKey', o.idem_key,
  'homeRegion', o.home_region, 'state', o.state, 'cancelReason', o.cancel_reason, 'items', o.items,
  'total', o.total::int, 'hlc', o.hlc, 'versionHlc', coalesce(o.version_hlc, o.hlc),
  'versionRegion', coalesce(o.version_region, o.home_region), 'createdAt', o.created_at,
  'payment', CASE WHEN p.order_id IS NULL THEN NULL
                  ELSE jsonb_build_object('state', p.state, 'amount', p.amount, 'providerRef', p.provider_ref) END)`;

/**
 * $1 the copies (OrderCopy[]), $2 slot ownerships, $3 source region, $4/$5 the position (txid, id),
 * $6 when the newest change was written at the source, $7 who resolves (for the conflict log),
 * $8/$9 where the peer must stand for the batch to apply (null: anywhere).
 * Sub-statements share one snapshot: `held` is what the region held before this batch.
 */
const APPLY_BATCH = `
WITH gate AS (
  SELECT true AS open WHERE $8::text IS NULL
     OR EXISTS (SELECT 1 FROM replication_applied WHERE source_region = $3
                AND (txid, id) = ($8::text::xid8, $9::text::bigint) FOR UPDATE)
     OR ($8::text = '0' AND $9::text = '0'
         AND NOT EXISTS (SELECT 1 FROM replication_applied WHERE source_region = $3))
),
incoming AS (
  SELECT v.*, to_jsonb(v) AS copy, v.payment->>'state' AS payment_state,
         chaoscart_version_key(v.state, v."cancelReason", v.payment->>'state', v."versionHlc", v."versionRegion")
           COLLATE "C" AS key
  FROM jsonb_to_recordset($1::text::jsonb) AS v(id text, "userId" text, "idemKey" text, "homeRegion" text,
       state text, "cancelReason" text, items jsonb, total bigint, hlc text, "versionHlc" text,
       "versionRegion" text, "createdAt" timestamptz, payment jsonb)
  WHERE EXISTS (SELECT 1 FROM gate)
),
-- One index lookup per incoming order, in id order (the order its row is locked in). Joined with
-- \`incoming\` instead, the generic plan (which counts on 100 rows from jsonb_to_recordset) scanned the
-- whole orders table on every apply: 4 ms of CPU per apply at 20,000 orders.
held AS (
  SELECT h.* FROM (SELECT id FROM incoming ORDER BY id) i, LATERAL (
    SELECT o.id, coalesce(o.version_region, o.home_region) AS region, ${COPY_JSON} AS copy,
           chaoscart_version_key(o.state, o.cancel_reason, p.state, coalesce(o.version_hlc, o.hlc),
                                 coalesce(o.version_region, o.home_region)) COLLATE "C" AS key
    FROM orders o LEFT JOIN payment p ON p.order_id = o.id
    WHERE o.id = i.id
    FOR UPDATE OF o) h
),
decided AS (
  SELECT i.*, h.key AS held_key, h.region AS held_region, h.copy AS held_copy,
         CASE WHEN h.id IS NULL THEN 'insert' WHEN i.key > h.key THEN 'replace' ELSE 'keep' END AS action
  FROM incoming i LEFT JOIN held h ON h.id = i.id
),
inserted AS (
  INSERT INTO orders (id, user_id, idem_key, request_hash, home_region, state, cancel_reason, items, total,
                      hlc, version_hlc, version_region, created_at)
  SELECT id, "userId", "idemKey", '', "homeRegion", state, "cancelReason", items, total, hlc, "versionHlc",
         "versionRegion", "createdAt"
  FROM decided WHERE action = 'insert' ORDER BY id
  ON CONFLICT DO NOTHING
  RETURNING id
),
replaced AS (
  UPDATE orders o SET state = d.state, cancel_reason = d."cancelReason", version_hlc = d."versionHlc",
         version_region = d."versionRegion", updated_at = now()
  FROM decided d WHERE d.action = 'replace' AND o.id = d.id
  RETURNING o.id
),
written AS (
  SELECT d.* FROM decided d WHERE d.id IN (SELECT id FROM inserted UNION ALL SELECT id FROM replaced)
),
paid AS (
  INSERT INTO payment (order_id, state, amount, provider_ref)
  SELECT id, payment_state, (payment->>'amount')::bigint, payment->>'providerRef' FROM written
  WHERE payment_state IS NOT NULL
  ON CONFLICT (order_id) DO UPDATE
    SET state = EXCLUDED.state, amount = EXCLUDED.amount, provider_ref = EXCLUDED.provider_ref, updated_at = now()
),
unpaid AS (
  DELETE FROM payment WHERE order_id IN (SELECT id FROM written WHERE payment_state IS NULL)
),
slots AS (
  INSERT INTO slot_owner (slot, region, epoch)
  SELECT slot, region, epoch FROM jsonb_to_recordset($2::text::jsonb) AS s(slot int, region text, epoch bigint)
  WHERE EXISTS (SELECT 1 FROM gate)
  ORDER BY slot
  ON CONFLICT (slot) DO UPDATE SET region = EXCLUDED.region, epoch = EXCLUDED.epoch, changed_at = now()
    WHERE slot_owner.epoch < EXCLUDED.epoch
  RETURNING 1
),
position AS (
  INSERT INTO replication_applied (source_region, txid, id, source_at)
  SELECT $3, $4::text::xid8, $5::text::bigint, $6::timestamptz WHERE EXISTS (SELECT 1 FROM gate)
  ON CONFLICT (source_region) DO UPDATE
    SET txid = EXCLUDED.txid, id = EXCLUDED.id, source_at = EXCLUDED.source_at, applied_at = now()
    WHERE (replication_applied.txid, replication_applied.id) < (EXCLUDED.txid, EXCLUDED.id)
),
-- Two regions wrote different versions of one order: both go to the log (one region's progress on
-- its own order is not a conflict).
conflicts AS (
  INSERT INTO conflict_log (kind, order_id, kept, discarded, resolved_by)
  SELECT 'concurrent-versions', id,
         CASE WHEN action = 'replace' THEN copy ELSE held_copy END,
         CASE WHEN action = 'replace' THEN held_copy ELSE copy END, $7
  FROM decided WHERE action <> 'insert' AND key <> held_key AND "versionRegion" <> held_region
  RETURNING 1
),
-- A copy of an order new here whose idempotency key a different order of this region holds: the
-- unique key refuses it; logged with the order that holds the key.
collisions AS (
  INSERT INTO conflict_log (kind, order_id, kept, discarded, resolved_by)
  SELECT 'key-collision', d.id, ${COPY_JSON}, d.copy, $7
  FROM decided d JOIN orders o ON o.idem_key = d."idemKey" AND o.id <> d.id
       LEFT JOIN payment p ON p.order_id = o.id
  WHERE d.action = 'insert'
  RETURNING 1
)
-- (A data-modifying sub-statement runs to completion whether or not the query reads it.)
SELECT EXISTS (SELECT 1 FROM gate) AS applied,
       (SELECT count(*) FROM inserted)::int AS inserted,
       (SELECT count(*) FROM replaced)::int AS replaced,
       (SELECT count(*) FROM decided WHERE action = 'keep')::int AS kept,
       (SELECT count(*) FROM conflicts)::int AS conflicts,
       (SELECT count(*) FROM collisions)::int AS "keyCollisions",
       (SELECT count(*) FROM slots)::int AS "slotsApplied",
       clock_timestamp() AS "appliedAt"`;

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
