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
 *
 * Set-based and pipelined: the peer is across the WAN, so the cost is round trips, not rows. A
 * batch takes the same few round trips whatever its size (lock and read what is held; write every
 * insert, replacement, payment and the position; log conflicts), where a statement per row took
 * seconds per batch at 20 ms each way.
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
  const copies = [...batch.copies].sort((a, b) => (a.id < b.id ? -1 : 1));
  await db.begin(async (tx) => {
    const [slotsApplied, heldRows] = await Promise.all([
      applySlots(tx, batch.slots ?? []),
      tx.unsafe<OrderCopy[]>(
        `SELECT ${COPY_COLUMNS} FROM orders o LEFT JOIN payment p ON p.order_id = o.id
         WHERE o.id = ANY($1::text[]) ORDER BY o.id FOR UPDATE OF o`,
        [copies.map((c) => c.id)],
      ),
    ]);
    outcome.slotsApplied = slotsApplied;
    const held = new Map(heldRows.map((c) => [c.id, c]));
    const inserts: OrderCopy[] = [];
    const replaces: OrderCopy[] = [];
    const conflicts: { orderId: string; kept: OrderCopy | undefined; discarded: OrderCopy | undefined }[] =
      [];
    for (const copy of copies) {
      const mine = held.get(copy.id);
      const decision = applyDecision(mine && versionOf(mine), versionOf(copy));
      if (decision.action === "insert") {
        inserts.push(copy);
        continue;
      }
      if (decision.conflict) {
        const [kept, discarded] = decision.action === "replace" ? [copy, mine] : [mine, copy];
        conflicts.push({ orderId: copy.id, kept, discarded });
      }
      if (decision.action === "replace") replaces.push(copy);
      else outcome.kept++;
    }
    // Executed in this order on the transaction's connection, sent without waiting in between.
    const [inserted] = await Promise.all([
      insertCopies(tx, inserts),
      replaceWithCopies(tx, replaces),
      writePayments(tx, [...inserts, ...replaces]),
      tx`
        INSERT INTO replication_applied (source_region, txid, id, source_at)
        VALUES (${batch.source}, ${batch.position.txid}::xid8, ${batch.position.id}::bigint, ${batch.sourceAt})
        ON CONFLICT (source_region) DO UPDATE
          SET txid = EXCLUDED.txid, id = EXCLUDED.id, source_at = EXCLUDED.source_at, applied_at = now()
          WHERE (replication_applied.txid, replication_applied.id) < (EXCLUDED.txid, EXCLUDED.id)`,
    ]);
    outcome.inserted = inserted.size;
    outcome.replaced = replaces.length;
    outcome.conflicts = conflicts.length;
    // A copy not inserted although its id was new here: a different order holds its idempotency key
    // (or, rarely, another relay inserted the same order meanwhile: its next version resolves).
    const missed = inserts.filter((copy) => !inserted.has(copy.id));
    const holders =
      missed.length === 0
        ? new Map<string, OrderCopy>()
        : new Map(
            (
              await tx.unsafe<OrderCopy[]>(
                `SELECT ${COPY_COLUMNS} FROM orders o LEFT JOIN payment p ON p.order_id = o.id
                 WHERE o.idem_key = ANY($1::text[])`,
                [missed.map((c) => c.idemKey)],
              )
            ).map((c) => [c.idemKey, c]),
          );
    const collided = missed.filter((copy) => holders.get(copy.idemKey)?.id !== copy.id);
    outcome.keyCollisions = collided.length;
    await logConflicts(tx, batch.resolvedBy, [
      ...conflicts.map((c) => ({ kind: "concurrent-versions" as const, ...c })),
      ...collided.map((copy) => ({
        kind: "key-collision" as const,
        orderId: copy.id,
        kept: holders.get(copy.idemKey),
        discarded: copy,
      })),
    ]);
  });
  return outcome;
}

/** Inserts copies of orders this region has never seen; answers the ids it inserted. */
async function insertCopies(tx: TransactionSql, copies: readonly OrderCopy[]): Promise<Set<string>> {
  if (copies.length === 0) return new Set();
  const rows = await tx.unsafe<{ id: string }[]>(
    `INSERT INTO orders (id, user_id, idem_key, request_hash, home_region, state, cancel_reason, items, total,
                         hlc, version_hlc, version_region, created_at)
     SELECT v.id, v.user_id, v.idem_key, '', v.home_region, v.state, v.cancel_reason, v.items::jsonb, v.total,
            v.hlc, v.version_hlc, v.version_region, v.created_at
     FROM jsonb_to_recordset($1::text::jsonb) AS v(id text, user_id text, idem_key text, home_region text,
          state text, cancel_reason text, items text, total bigint, hlc text, version_hlc text,
          version_region text, created_at timestamptz)
     ORDER BY v.id
     ON CONFLICT DO NOTHING RETURNING id`,
    [JSON.stringify(copies.map(rowOf))],
  );
  return new Set(rows.map((r) => r.id));
}

async function replaceWithCopies(tx: TransactionSql, copies: readonly OrderCopy[]): Promise<void> {
  if (copies.length === 0) return;
  await tx.unsafe(
    `UPDATE orders o SET state = v.state, cancel_reason = v.cancel_reason, version_hlc = v.version_hlc,
       version_region = v.version_region, updated_at = now()
     FROM jsonb_to_recordset($1::text::jsonb) AS v(id text, state text, cancel_reason text, version_hlc text,
          version_region text)
     WHERE o.id = v.id`,
    [JSON.stringify(copies.map(rowOf))],
  );
}

/** Every winning version's payment row as it has it: upserted, or deleted when it has none. */
async function writePayments(tx: TransactionSql, copies: readonly OrderCopy[]): Promise<void> {
  if (copies.length === 0) return;
  const withPayment = copies.filter((c) => c.payment);
  const without = copies.filter((c) => !c.payment).map((c) => c.id);
  await Promise.all([
    withPayment.length === 0
      ? undefined
      : tx.unsafe(
          // Only for orders that exist here (a copy that collided on its key was not inserted).
          `INSERT INTO payment (order_id, state, amount, provider_ref)
           SELECT v.order_id, v.state, v.amount, v.provider_ref
           FROM jsonb_to_recordset($1::text::jsonb) AS v(order_id text, state text, amount bigint, provider_ref text)
           WHERE EXISTS (SELECT 1 FROM orders o WHERE o.id = v.order_id)
           ON CONFLICT (order_id) DO UPDATE
             SET state = EXCLUDED.state, amount = EXCLUDED.amount, provider_ref = EXCLUDED.provider_ref, updated_at = now()`,
          [
            JSON.stringify(
              withPayment.map((c) => ({
                order_id: c.id,
                state: c.payment?.state,
                amount: c.payment?.amount,
                provider_ref: c.payment?.providerRef ?? null,
              })),
            ),
          ],
        ),
    without.length === 0 ? undefined : tx`DELETE FROM payment WHERE order_id = ANY(${without}::text[])`,
  ]);
}

function rowOf(copy: OrderCopy) {
  return {
    id: copy.id,
    user_id: copy.userId,
    idem_key: copy.idemKey,
    home_region: copy.homeRegion,
    state: copy.state,
    cancel_reason: copy.cancelReason,
    items: JSON.stringify(copy.items),
    total: copy.total,
    hlc: copy.hlc,
    version_hlc: copy.versionHlc,
    version_region: copy.versionRegion,
    created_at: new Date(copy.createdAt).toISOString(),
  };
}

async function logConflicts(
  tx: TransactionSql,
  resolvedBy: string,
  entries: readonly {
    kind: "concurrent-versions" | "key-collision";
    orderId: string;
    kept: OrderCopy | undefined;
    discarded: OrderCopy | undefined;
  }[],
): Promise<void> {
  if (entries.length === 0) return;
  await tx.unsafe(
    `INSERT INTO conflict_log (kind, order_id, kept, discarded, resolved_by)
     SELECT v.kind, v.order_id, v.kept, v.discarded, $2
     FROM jsonb_to_recordset($1::text::jsonb) AS v(kind text, order_id text, kept jsonb, discarded jsonb)`,
    [
      JSON.stringify(
        entries.map((e) => ({
          kind: e.kind,
          order_id: e.orderId,
          kept: e.kept ?? null,
          discarded: e.discarded ?? null,
        })),
      ),
      resolvedBy,
    ],
  );
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
