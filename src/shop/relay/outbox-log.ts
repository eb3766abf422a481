import type { PendingQuery, Row } from "postgres";
import type { Db } from "../db/pool.ts";

/**
 * The transactional outbox read as a log, in an order that never skips or repeats a row (the change
 * stream a relay ships to a peer region: docs/architecture.md §Regions).
 *
 * Ids and timestamps are assigned at insert, not at commit: a reader whose cursor is "the last id I
 * saw" skips a row whose transaction commits after a later row's (the classic outbox-polling gap).
 * Each row records the id of the transaction that wrote it (`txid`, migration 004). A transaction
 * older than the oldest one still running (the horizon, from `pg_current_snapshot()`)
 * has finished, so the rows below the horizon form a set that can no longer grow; ordered by
 * (txid, id) it is a stable sequence, and a cursor on (txid, id) reads it exactly once. Rows above
 * the horizon wait for the next read.
 *
 * Only a transaction that may write the outbox can hold the horizon back. Sessions that never do
 * are declared by application_name in `outbox_free_session` (migration 010; a trigger refuses their
 * outbox writes), and their running transactions are left out: the inventory's batches, which hold
 * a stock row through a synchronous commit and queue on each other's locks for up to a second or two
 * under load, used to stall every order event behind them. A transaction is left out only if its
 * xid is seen, live, on such a session: one that ended and was replaced between the snapshot and
 * that look is kept in, which only delays a read. Any other long transaction (an operator's psql,
 * a writer of the outbox) still holds the log: it stalls, and says so through `horizon`, rather
 * than guess.
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
  /** When the writing transaction started (the row's default: now()), by the source's clock. */
  createdAt: Date;
  /** When it committed, where the source records commit times (track_commit_timestamp); null elsewhere. */
  committedAt: Date | null;
}

export interface OutboxRead<A = never> {
  /** `attached`: what the read's `attach` expression gave for the entry (null without one). */
  entries: (OutboxEntry & { attached: A | null })[];
  /** The oldest transaction still running when the read was made: nothing at or above it was read. */
  horizon: string;
  /** Every row at or below this position may have been pruned (undefined: nothing ever was). */
  prunedTo: OutboxPosition | undefined;
}

export interface RetentionPolicy {
  /** How long a row every consumer has confirmed is kept (for operators and the lab's checks). */
  keepMs: number;
  /** The bound: a row older than this is pruned even if a consumer has not confirmed it. */
  maxRetentionMs: number;
  /** Rows deleted per call at most. */
  limit: number;
}

export interface PruneResult {
  pruned: number;
  /** Of those, rows some consumer had not confirmed: that consumer has a gap (prunedTo). */
  unconfirmed: number;
  prunedTo: OutboxPosition | undefined;
}

/** Before every row: the position of a consumer that has read nothing yet. */
export const LOG_START: OutboxPosition = { txid: "0", id: "0" };

/** Negative, zero or positive as position `a` is before, at or after `b` in the log. */
export function comparePositions(a: OutboxPosition, b: OutboxPosition): number {
  return Number(BigInt(a.txid) - BigInt(b.txid)) || Number(BigInt(a.id) - BigInt(b.id));
}

/**
 * The horizon as a CTE `h` (outbox_horizon(), migration 012): the oldest transaction still running
 * that may write the outbox, or the next xid to be assigned when none is; in the statement's snapshot.
 */
function horizonCte(db: Db) {
  return db`h AS (SELECT outbox_horizon() AS horizon)`;
}

export class OutboxLog {
  constructor(private readonly db: Db) {}

  /**
   * Up to `limit` entries after `after`, all written by finished transactions, in log order. With
   * `attach`, each entry also carries what that SQL expression reads for it (e.g. the current row the
   * entry names), in the same statement and snapshot: the expression sees the entry as `e` (its
   * outbox columns) and `e.latest` (no later entry of the same aggregate is in this read).
   */
  async read<A = never>(
    after: OutboxPosition,
    limit: number,
    attach?: PendingQuery<Row[]>,
  ): Promise<OutboxRead<A>> {
    const rows = await this.db<
      (OutboxEntry & {
        attached: A | null;
        horizon: string;
        prunedTxid: string | null;
        prunedId: string | null;
      })[]
    >`
      WITH ${horizonCte(this.db)},
      e AS (
        SELECT o.*, row_number() OVER (PARTITION BY o.aggregate, o.aggregate_id ORDER BY o.txid DESC, o.id DESC) = 1
                 AS latest
        FROM h, LATERAL (
          SELECT * FROM outbox
          WHERE txid < h.horizon AND (txid, id) > (${after.txid}::xid8, ${after.id}::bigint)
          ORDER BY txid, id LIMIT ${limit}) o)
      SELECT e.id::text AS id, e.txid::text AS txid, e.aggregate, e.aggregate_id AS "aggregateId",
             e.event, e.payload, e.hlc, e.created_at AS "createdAt",
             CASE WHEN current_setting('track_commit_timestamp')::boolean
                  THEN pg_xact_commit_timestamp(xid(e.txid)) END AS "committedAt",
             h.horizon::text AS horizon,
             (SELECT txid::text FROM outbox_pruned) AS "prunedTxid", (SELECT id::text FROM outbox_pruned) AS "prunedId",
             ${attach ?? this.db`NULL`} AS attached
      FROM h LEFT JOIN e ON true
      ORDER BY e.txid, e.id`;
    const first = rows[0];
    const horizon = first?.horizon ?? "0";
    const prunedTo =
      first?.prunedTxid && first.prunedId ? { txid: first.prunedTxid, id: first.prunedId } : undefined;
    const entries = rows
      .filter((r) => r.id !== null)
      .map(({ horizon: _, prunedTxid: __, prunedId: ___, ...entry }) => entry);
    return { entries, horizon, prunedTo };
  }

  /**
   * Waits inside the database until a read after `after` would find something (an entry, or a gap
   * the log was pruned past): true then, false once `timeoutMs` passed. It checks after `poll.firstMs`,
   * then twice as long after every check that found nothing, up to `poll.maxMs` (outbox_wait,
   * migrations 012 and 013). One statement for the whole wait: cheaper than reading the log that
   * often, and sooner than reading it less often.
   */
  async waitForNews(
    after: OutboxPosition,
    timeoutMs: number,
    poll: { firstMs: number; maxMs: number },
  ): Promise<boolean> {
    const [row] = await this.db<{ news: boolean }[]>`
      SELECT outbox_wait(${after.txid}::xid8, ${after.id}::bigint, ${timeoutMs}::int, ${poll.firstMs}::int,
                         ${poll.maxMs}::int) AS news`;
    return row?.news ?? false;
  }

  /**
   * Deletes the oldest rows that every consumer confirmed and that are older than `keepMs`, and any
   * row older than `maxRetentionMs`, confirmed or not; records the highest position deleted in
   * `outbox_pruned`. A consumer whose position is below it (a peer away longer than the bound, or one
   * that never read the log) must not trust the log for what came before: it reconciles instead.
   */
  async prune(policy: RetentionPolicy): Promise<PruneResult> {
    const [row] = await this.db<
      { pruned: number; unconfirmed: number; txid: string | null; id: string | null }[]
    >`
      WITH ${horizonCte(this.db)},
      confirmed AS (SELECT txid, id FROM outbox_cursor ORDER BY txid, id LIMIT 1),
      oldest AS (
        SELECT o.txid, o.id, o.created_at,
               EXISTS (SELECT 1 FROM confirmed c WHERE (o.txid, o.id) <= (c.txid, c.id)) AS by_everyone
        FROM outbox o, h WHERE o.txid < h.horizon ORDER BY o.txid, o.id LIMIT ${policy.limit}),
      doomed AS (
        DELETE FROM outbox o USING oldest d
        WHERE o.txid = d.txid AND o.id = d.id
          AND ((d.by_everyone AND d.created_at < now() - make_interval(secs => ${policy.keepMs / 1000}))
               OR d.created_at < now() - make_interval(secs => ${policy.maxRetentionMs / 1000}))
        RETURNING o.txid, o.id, d.by_everyone),
      top AS (SELECT txid, id FROM doomed ORDER BY txid DESC, id DESC LIMIT 1),
      marked AS (
        INSERT INTO outbox_pruned (txid, id) SELECT txid, id FROM top
        ON CONFLICT (singleton) DO UPDATE SET txid = EXCLUDED.txid, id = EXCLUDED.id, pruned_at = now()
          WHERE (outbox_pruned.txid, outbox_pruned.id) < (EXCLUDED.txid, EXCLUDED.id)
        RETURNING txid, id)
      SELECT (SELECT count(*) FROM doomed)::int AS pruned,
             (SELECT count(*) FROM doomed WHERE NOT by_everyone)::int AS unconfirmed,
             coalesce((SELECT txid FROM marked), (SELECT txid FROM outbox_pruned))::text AS txid,
             coalesce((SELECT id FROM marked), (SELECT id FROM outbox_pruned))::text AS id`;
    return {
      pruned: row?.pruned ?? 0,
      unconfirmed: row?.unconfirmed ?? 0,
      prunedTo: row?.txid && row.id ? { txid: row.txid, id: row.id } : undefined,
    };
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
