import type { Db } from "../db/pool.ts";

/**
 * The transactional outbox read as a log, in an order that never skips or repeats a row (the change
 * stream a relay ships to a peer region: docs/architecture.md §Regions).
 *
 * Ids and timestamps are assigned at insert, not at commit: a reader whose cursor is "the last id I
 * saw" skips a row whose transaction commits after a later row's (the classic outbox-polling gap).
 * Each row records the id of the transaction that wrote it (`txid`, migration 004). A transaction
 * older than the oldest one still running (`pg_snapshot_xmin(pg_current_snapshot())`, the horizon)
 * has finished, so the rows below the horizon form a set that can no longer grow; ordered by
 * (txid, id) it is a stable sequence, and a cursor on (txid, id) reads it exactly once. Rows above
 * the horizon wait for the next read. A long-running transaction anywhere in the cluster holds the
 * horizon back: the log then stalls (and says so through `horizon`) rather than guess.
 */

export interface OutboxPosition {
  /** xid8 as text: 64-bit, beyond a JavaScript number's exact range. */
  txid: string;
  id: string;
}

export interface OutboxEntry extends OutboxPosition {
  aggregate: string;
  aggregateId: string;
  event: string;
  payload: unknown;
  hlc: string;
  createdAt: Date;
}

export interface OutboxRead {
  entries: OutboxEntry[];
  /** The oldest transaction still running when the read was made: nothing at or above it was read. */
  horizon: string;
}

/** Before every row: the position of a consumer that has read nothing yet. */
export const LOG_START: OutboxPosition = { txid: "0", id: "0" };

export class OutboxLog {
  constructor(private readonly db: Db) {}

  /** Up to `limit` entries after `after`, all written by finished transactions, in log order. */
  async read(after: OutboxPosition, limit: number): Promise<OutboxRead> {
    const rows = await this.db<(OutboxEntry & { horizon: string })[]>`
      WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS horizon)
      SELECT o.id::text AS id, o.txid::text AS txid, o.aggregate, o.aggregate_id AS "aggregateId",
             o.event, o.payload, o.hlc, o.created_at AS "createdAt", h.horizon::text AS horizon
      FROM h LEFT JOIN LATERAL (
        SELECT * FROM outbox
        WHERE txid < h.horizon AND (txid, id) > (${after.txid}::xid8, ${after.id}::bigint)
        ORDER BY txid, id LIMIT ${limit}) o ON true
      ORDER BY o.txid, o.id`;
    const horizon = rows[0]?.horizon ?? "0";
    const entries = rows.filter((r) => r.id !== null).map(({ horizon: _, ...entry }) => entry);
    return { entries, horizon };
  }

  /** Where `consumer` confirmed it had read up to; LOG_START if it never did. */
  async position(consumer: string): Promise<OutboxPosition> {
    const [row] = await this.db<OutboxPosition[]>`
      SELECT txid::text AS txid, id::text AS id FROM outbox_cursor WHERE consumer = ${consumer}`;
    return row ?? LOG_START;
  }

  /**
   * Records that `consumer` has everything up to `position` (call it only after the consumer's side
   * committed what it read). Never moves a cursor backwards: a late confirmation of an older
   * position (a retried or reordered call) changes nothing.
   */
  async confirm(consumer: string, position: OutboxPosition): Promise<void> {
    await this.db`
      INSERT INTO outbox_cursor (consumer, txid, id)
      VALUES (${consumer}, ${position.txid}::xid8, ${position.id}::bigint)
      ON CONFLICT (consumer) DO UPDATE SET txid = EXCLUDED.txid, id = EXCLUDED.id, updated_at = now()
      WHERE (outbox_cursor.txid, outbox_cursor.id) < (EXCLUDED.txid, EXCLUDED.id)`;
  }
}
