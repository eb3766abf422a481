import type { BuiltInBug } from "../built-in-bugs.ts";
import { pgCode } from "../db/errors.ts";
import { ASSERTION_FAILED, pipelinedTransaction } from "../db/pipelined.ts";
import type { Db } from "../db/pool.ts";
import {
  type Allocation,
  allocate,
  type PriorReservation,
  type ReservationState,
  type ReserveRequest,
} from "../domain/allocation.ts";
import { reserveBatchFromReplica, sweepExpiredRowByRow } from "./built-in-bugs.ts";
import {
  BatchRaceError,
  type ReservationRow,
  SeedConflictError,
  type SeedResult,
  type SettleOutcome,
  type SkuSeed,
  type StockRow,
  UnknownSkuError,
} from "./records.ts";

/** SQL for the inventory tables. Every stock change writes its ledger movement in the same transaction. */

/**
 * Commit or release orders' reservations ($1, an array of order ids), each order all or nothing, in
 * one statement: the release tombstones, the reservations, the stock rows (locked in SKU, then
 * bucket order: each reservation settles the bucket it was taken from) and
 * the ledger. Many orders' commits share one statement and one commit (group commit, issue
 * "flash-sale speed" §3); a release settles one order (the caller holds that order's lock).
 *
 * The orders' reservation rows are locked first (`mine`, in order and SKU order: the sorted ids
 * drive the probes; a locking read returns each row's newest version), by one primary-key probe per
 * order. A plain `order_id = ANY($1)` was planned, on the statistics of a table of a few hundred
 * rows, as a scan of the whole table, and the cached plan kept scanning it as it grew (`npm run
 * bench:orders`, statistics taken at about 600 reservations: 830-1,650 rows read per confirmed
 * order; by key, none).
 *
 * A commit changes an order's rows only if every one is HELD:
 * an order whose item was released (expired, or compensated) must not have its other items sold. A
 * release changes the HELD ones unless any is COMMITTED (then the order was sold, and nothing is
 * returned). Answers every reservation of the orders with its state after the statement, and
 * whether this statement changed it.
 */
const settleStatement = (commitWhatIsHeld: boolean) => `
  WITH tombstone AS (
    INSERT INTO released_order (order_id) SELECT unnest($1::text[]) WHERE $2::text = 'RELEASED' ON CONFLICT DO NOTHING),
  mine AS MATERIALIZED (
    SELECT r.* FROM (SELECT DISTINCT id FROM unnest($1::text[]) AS u(id) ORDER BY id) o
    CROSS JOIN LATERAL (SELECT order_id, sku_id, bucket, qty, state, expires_at FROM reservation
                        WHERE order_id = o.id ORDER BY sku_id FOR UPDATE) r),
  allowed AS MATERIALIZED (
    SELECT order_id,
      CASE WHEN $2::text = 'COMMITTED' THEN ${commitWhatIsHeld ? "true" : "bool_and(state = 'HELD')"}
           ELSE NOT bool_or(state = 'COMMITTED') END AS ok
    FROM mine GROUP BY order_id),
  changed AS (
    UPDATE reservation r SET state = $2::text, updated_at = now()
    FROM mine m JOIN allowed a USING (order_id)
    WHERE a.ok AND m.state = 'HELD' AND r.order_id = m.order_id AND r.sku_id = m.sku_id
    RETURNING r.order_id, r.sku_id, r.bucket, r.qty, r.state, r.expires_at),
  per_bucket AS (SELECT sku_id, bucket, sum(qty)::int AS q FROM changed GROUP BY sku_id, bucket),
  locked AS MATERIALIZED (
    SELECT s.sku_id, s.bucket FROM stock s JOIN per_bucket d USING (sku_id, bucket) WHERE s.region = $3
    ORDER BY s.sku_id, s.bucket FOR UPDATE OF s),
  stocked AS (
    UPDATE stock s SET reserved = s.reserved - d.q, sold = s.sold + d.q * $5::int,
      available = s.available + d.q * (1 - $5::int), version = s.version + 1
    FROM per_bucket d JOIN locked l USING (sku_id, bucket)
    WHERE s.sku_id = d.sku_id AND s.bucket = d.bucket AND s.region = $3),
  -- Joined to \`locked\`: the movement is stamped (clock_timestamp()) only once this statement holds
  -- the stock row, so the ledger's order is the row's order. A sibling CTE would stamp it while
  -- still waiting behind a reserve batch, before that batch's own movements.
  ledger AS (
    INSERT INTO stock_movement (order_id, sku_id, region, kind, qty)
    SELECT c.order_id, c.sku_id, $3, $4::text, c.qty FROM changed c JOIN locked l USING (sku_id, bucket))
  SELECT order_id AS "orderId", sku_id AS sku, qty, state, expires_at AS "expiresAt", true AS changed FROM changed
  UNION ALL
  SELECT m.order_id, m.sku_id, m.qty, m.state, m.expires_at, false FROM mine m
  WHERE NOT EXISTS (SELECT 1 FROM changed c WHERE c.order_id = m.order_id AND c.sku_id = m.sku_id)
  ORDER BY "orderId", sku`;
const SETTLE = settleStatement(false);

/**
 * The per-order lock shared by reserves and exclusive to releases: a release and a grant for the
 * same order cannot both commit. Without it, a release of an order whose reserve is in flight
 * (read the tombstones, not inserted yet) commits its tombstone unseen, and the grant stays HELD
 * for a cancelled order. Reserves take it before the stock row's lock, releases before anything:
 * no lock cycle. A hash collision between two orders only makes one wait for the other.
 */
export const ORDER_LOCK_CLASS = 7_123_402;

type SettledRow = ReservationRow & { changed: boolean };

/** Each order's outcome from the settlement's rows (ordered by order, then SKU). */
function settleOutcomes(
  orderIds: readonly string[],
  target: "COMMITTED" | "RELEASED",
  rows: readonly SettledRow[],
): Map<string, SettleOutcome> {
  const byOrder = new Map<string, SettledRow[]>();
  for (const row of rows) {
    const mine = byOrder.get(row.orderId);
    if (mine) mine.push(row);
    else byOrder.set(row.orderId, [row]);
  }
  const outcomes = new Map<string, SettleOutcome>();
  for (const orderId of orderIds) {
    const settled = byOrder.get(orderId);
    if (!settled) {
      outcomes.set(orderId, { kind: "not_found" });
      continue;
    }
    const items = settled.map(({ changed: _, ...item }) => item);
    const moved = items.filter((_, i) => settled[i]?.changed);
    if (items.every((item) => item.state === target)) {
      outcomes.set(orderId, { kind: "done", state: target, items, changed: moved.length > 0, moved });
      continue;
    }
    // The state that decided against the settlement: a HELD item is only reported when nothing else is.
    const decisive = items.find((item) => item.state !== target && item.state !== "HELD") ?? items[0];
    outcomes.set(orderId, { kind: "conflict", state: decisive?.state ?? "HELD", items });
  }
  return outcomes;
}

/** One bucket of a SKU's stock, as the engine routes by it. */
export interface BucketStock {
  bucket: number;
  available: number;
  /** The row's version: of two reads of a bucket, the one with the higher version is the newer. */
  version: number;
}

/** A batch's allocation, with what the engine learns from it about the SKU's buckets. */
export interface BucketAllocation extends Allocation {
  /** How many buckets the SKU has here. */
  buckets: number;
  /** The bucket's row version after the batch (its `remaining` is the bucket's available then). */
  version: number;
}

export class InventoryStore {
  private readonly staleStockSource: Db | undefined;
  private readonly settleSql: string;
  private readonly partialSettlement: boolean;
  private readonly stockBuckets: number;

  constructor(
    private readonly db: Db,
    readonly region: string,
    options: {
      /** How many buckets a SKU's stock is split into when it is seeded without saying (default 1). */
      stockBuckets?: number;
      /** The lab's regression guard (src/shop/built-in-bugs.ts); undefined in the real shop. */
      bug?: BuiltInBug;
      /** Only with the built-in bug "stock-from-replica": the replica it reads. */
      staleStockSource?: Db;
    } = {},
  ) {
    this.stockBuckets = options.stockBuckets ?? 1;
    this.staleStockSource = options.staleStockSource;
    // Built-in bug "partial-commit" (lab regression guard): a commit sells whichever items are
    // still held, and expiry releases reservations one by one, as this store did before.
    this.partialSettlement = options.bug === "partial-commit";
    this.settleSql = this.partialSettlement ? settleStatement(true) : SETTLE;
  }

  /**
   * One coalesced batch for one bucket of one SKU in one transaction: lock the bucket's stock row,
   * read what the batch's orders already hold (in any bucket of the SKU), allocate in arrival order,
   * write grants, stock and ledger, commit. Also answers how many buckets the SKU has and the
   * bucket's row version after the batch, for the engine's routing.
   * `decided`, when given, is called with the allocation inside the transaction, before anything is
   * written (only the built-in bug "ack-before-commit" passes it).
   */
  async reserveBatch(
    sku: string,
    bucket: number,
    requests: readonly ReserveRequest[],
    ttlMs: number,
    decided?: (allocation: Allocation) => void,
    lockFirst = true,
  ): Promise<BucketAllocation> {
    // Built-in bug "stock-from-replica" (lab regression guard): decide from the replica's copy of the
    // stock row and write absolute counters back. The real path below never reads the replica.
    if (this.staleStockSource) {
      const allocation = await reserveBatchFromReplica(
        this.db,
        this.staleStockSource,
        this.region,
        sku,
        requests,
        ttlMs,
      );
      return { ...allocation, buckets: 1, version: 0 };
    }
    const orderIds = [...new Set(requests.map((r) => r.orderId))];
    // Two round trips: BEGIN and the reads, then the writes and COMMIT (db/pipelined.ts).
    return pipelinedTransaction(this.db, async (tx, commitWith) => {
      // Pipelined, executed in order: the reads after the locks see every batch and release
      // committed before them.
      const [, stockRows, priorRows, releasedRows] = await Promise.all([
        tx`SELECT pg_advisory_xact_lock_shared(${ORDER_LOCK_CLASS}, hashtext(o))
           FROM unnest(${orderIds}::text[]) AS o`,
        tx<{ available: number; version: string; buckets: number }[]>`
          SELECT available, version,
                 (SELECT count(*)::int FROM stock WHERE sku_id = ${sku} AND region = ${this.region}) AS buckets
          FROM stock WHERE sku_id = ${sku} AND region = ${this.region} AND bucket = ${bucket}
          ${lockFirst ? tx`FOR UPDATE` : tx``}`,
        // One primary-key probe per order. A plain `order_id = ANY(...)` drifts, once the plan turns
        // generic, into scanning every reservation of the hot SKU (measured: 40-85 ms per batch).
        tx<{ orderId: string; qty: number; state: ReservationState }[]>`
          SELECT r.order_id AS "orderId", r.qty, r.state
          FROM unnest(${orderIds}::text[]) AS o(id)
          CROSS JOIN LATERAL (SELECT order_id, qty, state FROM reservation
                              WHERE order_id = o.id AND sku_id = ${sku} LIMIT 1) r`,
        tx<{ orderId: string }[]>`
          SELECT order_id AS "orderId" FROM released_order WHERE order_id = ANY(${orderIds}::text[])`,
      ]);
      const stock = stockRows[0];
      if (!stock) throw new UnknownSkuError(sku);
      const prior = new Map<string, PriorReservation>(priorRows.map((r) => [r.orderId, r]));
      const released = new Set(releasedRows.map((r) => r.orderId));
      const plan = allocate(requests, { available: stock.available, prior, released });
      decided?.(plan);
      const allocation = { ...plan, buckets: stock.buckets, version: Number(stock.version) };
      if (allocation.grants.length === 0) return allocation;

      const ids = allocation.grants.map((g) => g.orderId);
      const qtys = allocation.grants.map((g) => g.qty);
      try {
        const [[taken]] = await commitWith([
          // Planned on a read without the row's lock, the plan holds only if what was on sale has not
          // changed since (settlement moves reserved to sold and leaves it alone): else the batch is
          // retried, locking first. The stock row is locked before the reservations are inserted, as
          // a lone reserve does (reserveOne): inserting first deadlocked against a lone reserve of the
          // same order on another instance (engine.test.ts, two engine instances racing).
          tx`WITH taken AS (
               UPDATE stock SET available = available - ${allocation.granted}, reserved = reserved + ${allocation.granted},
                 version = version + 1
               WHERE sku_id = ${sku} AND region = ${this.region} AND bucket = ${bucket} AND available = ${stock.available}
               RETURNING version)
             SELECT chaoscart_assert((SELECT count(*) FROM taken) = 1,
                                     ${`batch for ${sku} planned on ${stock.available} units but their number changed`}),
                    (SELECT version FROM taken) AS version`,
          // A reservation another writer inserted since the reads (none of ours is lost: ON CONFLICT
          // skips it) makes the batch's plan wrong: the assertion aborts the transaction before the
          // COMMIT behind it, and the batch is retried from fresh reads.
          tx`WITH inserted AS (
               INSERT INTO reservation (order_id, sku_id, bucket, region, qty, state, expires_at)
               SELECT o, ${sku}, ${bucket}, ${this.region}, q, 'HELD', now() + ${ttlMs} * interval '1 millisecond'
               FROM unnest(${ids}::text[], ${qtys}::int[]) AS g(o, q)
               ON CONFLICT DO NOTHING RETURNING order_id)
             SELECT chaoscart_assert((SELECT count(*) FROM inserted) = ${ids.length},
                                     ${`batch for ${sku} planned ${ids.length} grants but another writer got in first`})`,
          tx`INSERT INTO stock_movement (order_id, sku_id, region, kind, qty)
             SELECT o, ${sku}, ${this.region}, 'reserve', q FROM unnest(${ids}::text[], ${qtys}::int[]) AS g(o, q)`,
        ]);
        allocation.version = Number((taken as { version: string }).version);
        return allocation;
      } catch (error) {
        if (pgCode(error) === ASSERTION_FAILED) throw new BatchRaceError((error as Error).message);
        throw error;
      }
    });
  }

  /**
   * A batch of one, granted in one round trip: BEGIN, the order's lock, one statement that takes
   * the units only if the bucket has them and the order neither holds this SKU nor was released,
   * and COMMIT, all sent at once. Resolves undefined when it granted nothing (too few units, a
   * replay, a released order, an unknown SKU, or another writer's reservation of the order landing
   * first): the batch path then decides the request, so refusals and replays have one source.
   * Two round trips of the batch path made a lone buyer slower than the per-request baseline.
   */
  async reserveOne(
    sku: string,
    bucket: number,
    request: ReserveRequest,
    ttlMs: number,
  ): Promise<BucketAllocation | undefined> {
    if (this.staleStockSource) return undefined;
    const { orderId, qty } = request;
    try {
      const [, taken] = await pipelinedTransaction(this.db, (tx, commitWith) =>
        commitWith([
          tx`SELECT pg_advisory_xact_lock_shared(${ORDER_LOCK_CLASS}, hashtext(${orderId}))`,
          tx`
            WITH taken AS (
              UPDATE stock SET available = available - ${qty}, reserved = reserved + ${qty}, version = version + 1
              WHERE sku_id = ${sku} AND region = ${this.region} AND bucket = ${bucket} AND available >= ${qty}
                AND NOT EXISTS (SELECT 1 FROM released_order WHERE order_id = ${orderId})
                AND NOT EXISTS (SELECT 1 FROM reservation WHERE order_id = ${orderId} AND sku_id = ${sku})
              RETURNING available, version),
            held AS (
              INSERT INTO reservation (order_id, sku_id, bucket, region, qty, state, expires_at)
              SELECT ${orderId}, ${sku}, ${bucket}, ${this.region}, ${qty}, 'HELD',
                     now() + ${ttlMs} * interval '1 millisecond'
              FROM taken RETURNING order_id),
            moved AS (
              INSERT INTO stock_movement (order_id, sku_id, region, kind, qty)
              SELECT order_id, ${sku}, ${this.region}, 'reserve', ${qty} FROM held)
            SELECT available, version,
                   (SELECT count(*)::int FROM stock WHERE sku_id = ${sku} AND region = ${this.region}) AS buckets
            FROM taken`,
        ]),
      );
      const row = taken[0] as { available: number; version: string; buckets: number } | undefined;
      if (!row) return undefined;
      return {
        decisions: [{ kind: "grant", orderId, qty }],
        grants: [{ orderId, qty }],
        granted: qty,
        remaining: row.available,
        buckets: row.buckets,
        version: Number(row.version),
      };
    } catch (error) {
      if (isUniqueViolation(error)) return undefined;
      throw error;
    }
  }

  /**
   * The per-request baseline (bench mode "direct"): one conditional UPDATE per request, after the
   * order's lock (pipelined, one transaction). A replayed order id violates the primary key, which
   * aborts the whole statement; the stored outcome is then read back. On a SKU split into buckets it
   * takes the first bucket that had enough when the statement began, and does not rebalance: it is
   * the single-row baseline.
   */
  async reserveDirect(orderId: string, sku: string, qty: number, ttlMs: number) {
    try {
      const rows = await this.db.begin(async (tx) => {
        const [, granted] = await Promise.all([
          tx`SELECT pg_advisory_xact_lock_shared(${ORDER_LOCK_CLASS}, hashtext(${orderId}))`,
          tx<{ orderId: string }[]>`
        WITH upd AS (
          UPDATE stock SET available = available - ${qty}, reserved = reserved + ${qty}, version = version + 1
          WHERE sku_id = ${sku} AND region = ${this.region} AND available >= ${qty}
            AND bucket = (SELECT min(bucket) FROM stock
                          WHERE sku_id = ${sku} AND region = ${this.region} AND available >= ${qty})
            AND NOT EXISTS (SELECT 1 FROM released_order WHERE order_id = ${orderId})
          RETURNING sku_id, bucket),
        ins AS (
          INSERT INTO reservation (order_id, sku_id, bucket, region, qty, state, expires_at)
          SELECT ${orderId}, sku_id, bucket, ${this.region}, ${qty}, 'HELD', now() + ${ttlMs} * interval '1 millisecond'
          FROM upd RETURNING order_id, sku_id),
        mv AS (
          INSERT INTO stock_movement (order_id, sku_id, region, kind, qty)
          SELECT order_id, sku_id, ${this.region}, 'reserve', ${qty} FROM ins)
        SELECT order_id AS "orderId" FROM ins`,
        ]);
        return granted;
      });
      if (rows.length === 1) return { kind: "grant" as const };
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
    }
    const existing = await this.reservation(orderId, sku);
    if (existing) {
      return existing.qty === qty
        ? { kind: "replay" as const, state: existing.state }
        : { kind: "reject" as const, reason: "qty_mismatch" as const };
    }
    const [known] = await this
      .db`SELECT 1 FROM stock WHERE sku_id = ${sku} AND region = ${this.region} LIMIT 1`;
    if (!known) throw new UnknownSkuError(sku);
    const [released] = await this.db`SELECT 1 FROM released_order WHERE order_id = ${orderId}`;
    return {
      kind: "reject" as const,
      reason: released ? ("order_released" as const) : ("insufficient_stock" as const),
    };
  }

  /** HELD → COMMITTED for every reservation of the order; replays of a commit succeed without change. */
  async commit(orderId: string): Promise<SettleOutcome> {
    return (await this.commitMany([orderId])).get(orderId) ?? { kind: "not_found" };
  }

  /**
   * `commit` of each of the orders, in one statement and one commit; each order is settled all or
   * nothing on its own, whatever happens to the others. Answers an outcome for every order asked.
   */
  async commitMany(orderIds: readonly string[]): Promise<Map<string, SettleOutcome>> {
    const params = [orderIds, "COMMITTED", this.region, "commit", 1];
    const rows = await this.db.unsafe<SettledRow[]>(this.settleSql, params, { prepare: true });
    return settleOutcomes(orderIds, "COMMITTED", rows);
  }

  /**
   * HELD → RELEASED for every reservation of the order, returning stock exactly once. Also records
   * the release, so that a reserve for this order still in flight cannot grant afterwards.
   *
   * The order's lock is taken first, in a statement of its own so that the settlement's snapshot,
   * taken after it, sees a grant committed by a reserve it waited for. The settlement is one
   * statement, so the hot SKU's stock row is locked only while the statement runs and commits,
   * never across a network round trip (a slow link to the database used to hold it for four).
   */
  async release(orderId: string): Promise<SettleOutcome> {
    const params = [[orderId], "RELEASED", this.region, "release", 0];
    const rows = await this.db.begin(async (tx) => {
      const [, settled] = await Promise.all([
        tx`SELECT pg_advisory_xact_lock(${ORDER_LOCK_CLASS}, hashtext(${orderId}))`,
        tx.unsafe<SettledRow[]>(this.settleSql, params, { prepare: true }),
      ]);
      return settled;
    });
    return settleOutcomes([orderId], "RELEASED", rows).get(orderId) ?? { kind: "not_found" };
  }

  /**
   * Releases the orders that have a HELD reservation past its expiry, at most `limit` orders per
   * call, each as a whole (every HELD item of the order, with the release tombstone) through the
   * release path: an order is never left with one item released and another committed. Returns
   * what it released.
   */
  async sweepExpired(limit: number): Promise<ReservationRow[]> {
    if (this.partialSettlement) return sweepExpiredRowByRow(this.db, this.region, limit);
    const due = await this.db<{ orderId: string }[]>`
      SELECT order_id AS "orderId" FROM reservation
      WHERE state = 'HELD' AND expires_at < now() AND region = ${this.region}
      GROUP BY order_id ORDER BY min(expires_at) LIMIT ${limit}`;
    const released: ReservationRow[] = [];
    for (const { orderId } of due) {
      const outcome = await this.release(orderId);
      if (outcome.kind === "done") released.push(...outcome.moved);
    }
    return released;
  }

  /** The SKU's stock here: the sum of its buckets. */
  async stock(sku: string): Promise<StockRow | undefined> {
    const [row] = await this.db<StockRow[]>`
      SELECT sku_id AS sku, region, sum(available)::int AS available, sum(reserved)::int AS reserved,
        sum(sold)::int AS sold, sum(quota)::int AS quota FROM stock
      WHERE sku_id = ${sku} AND region = ${this.region} GROUP BY sku_id, region`;
    return row;
  }

  /** The SKU's buckets here, with what each has on sale and its row version. */
  async buckets(sku: string): Promise<BucketStock[]> {
    const rows = await this.db<{ bucket: number; available: number; version: string }[]>`
      SELECT bucket, available, version FROM stock WHERE sku_id = ${sku} AND region = ${this.region} ORDER BY bucket`;
    return rows.map((r) => ({ bucket: r.bucket, available: r.available, version: Number(r.version) }));
  }

  /**
   * Moves all of a SKU's available units into one bucket (the one with most), so that a request
   * larger than any bucket's share can still be granted when the buckets together have enough. One
   * statement: the buckets are locked in bucket order, as the settlement does; a bucket's quota
   * moves with its units, so conservation holds per bucket and the SKU's totals (and its ledger)
   * do not change. Answers every bucket after the move.
   */
  async consolidate(sku: string): Promise<BucketStock[]> {
    const rows = await this.db<{ bucket: number; available: number; version: string }[]>`
      WITH locked AS MATERIALIZED (
        SELECT bucket, available FROM stock WHERE sku_id = ${sku} AND region = ${this.region}
        ORDER BY bucket FOR UPDATE),
      target AS (SELECT bucket FROM locked ORDER BY available DESC, bucket LIMIT 1),
      total AS (SELECT sum(available)::int AS units FROM locked)
      UPDATE stock s
      SET available = CASE WHEN s.bucket = t.bucket THEN total.units ELSE 0 END,
          quota = s.quota - s.available + CASE WHEN s.bucket = t.bucket THEN total.units ELSE 0 END,
          version = s.version + 1
      FROM target t, total, locked l
      WHERE s.sku_id = ${sku} AND s.region = ${this.region} AND s.bucket = l.bucket
      RETURNING s.bucket, s.available, s.version`;
    return rows
      .map((r) => ({ bucket: r.bucket, available: r.available, version: Number(r.version) }))
      .sort((a, b) => a.bucket - b.bucket);
  }

  /** Units on sale now, of those of `skus` this region stocks (the sold-out gate's poll). */
  async available(skus: readonly string[]): Promise<{ sku: string; available: number }[]> {
    return this.db<{ sku: string; available: number }[]>`
      SELECT sku_id AS sku, sum(available)::int AS available FROM stock
      WHERE sku_id = ANY(${this.db.array(skus as string[])}) AND region = ${this.region} GROUP BY sku_id`;
  }

  async reservation(orderId: string, sku: string): Promise<ReservationRow | undefined> {
    const [row] = await this.db<ReservationRow[]>`
      SELECT order_id AS "orderId", sku_id AS sku, qty, state, expires_at AS "expiresAt"
      FROM reservation WHERE order_id = ${orderId} AND sku_id = ${sku}`;
    return row;
  }

  async reservationsOf(orderId: string): Promise<ReservationRow[]> {
    return this.db<ReservationRow[]>`
      SELECT order_id AS "orderId", sku_id AS sku, qty, state, expires_at AS "expiresAt"
      FROM reservation WHERE order_id = ${orderId} ORDER BY sku_id`;
  }

  /**
   * Orders holding stock of this SKU here (HELD or COMMITTED): the ones the sold-out fast path must
   * still send to a batch, for their replay. At most the SKU's quota of them, since each holds a unit;
   * undefined when there are more than `limit`. Released reservations are left out (they are all the
   * churn): a released order's retry is then told sold_out instead of order_released, a rejection either way.
   */
  async orderIdsHolding(sku: string, limit: number): Promise<Set<string> | undefined> {
    const rows = await this.db<{ orderId: string }[]>`
      SELECT order_id AS "orderId" FROM reservation
      WHERE sku_id = ${sku} AND region = ${this.region} AND state <> 'RELEASED'
      LIMIT ${limit + 1}`;
    return rows.length > limit ? undefined : new Set(rows.map((r) => r.orderId));
  }

  /**
   * Creates SKUs with their initial stock. Idempotent: seeding an existing SKU with the same quota
   * is a no-op; a different quota is reported as a conflict and nothing is written.
   */
  async seed(skus: readonly SkuSeed[]): Promise<SeedResult[]> {
    return this.db.begin(async (tx) => {
      const results: SeedResult[] = [];
      for (const seed of skus) {
        await tx`INSERT INTO sku (id, name, price) VALUES (${seed.id}, ${seed.name ?? seed.id}, ${seed.price ?? 1000})
                 ON CONFLICT DO NOTHING`;
        const shares = bucketShares(seed.stock, seed.buckets ?? this.stockBuckets);
        const created = await tx`
          INSERT INTO stock (sku_id, region, bucket, available, reserved, sold, quota)
          SELECT ${seed.id}, ${this.region}, b - 1, q, 0, 0, q FROM unnest(${shares}::int[]) WITH ORDINALITY AS s(q, b)
          ON CONFLICT DO NOTHING RETURNING sku_id`;
        if (created.count > 0) {
          if (seed.stock > 0) {
            await tx`INSERT INTO stock_movement (sku_id, region, kind, qty)
                     VALUES (${seed.id}, ${this.region}, 'seed', ${seed.stock})`;
          }
          results.push({ sku: seed.id, created: true });
          continue;
        }
        const [existing] = await tx<StockRow[]>`
          SELECT sku_id AS sku, region, sum(available)::int AS available, sum(reserved)::int AS reserved,
        sum(sold)::int AS sold, sum(quota)::int AS quota FROM stock
          WHERE sku_id = ${seed.id} AND region = ${this.region} GROUP BY sku_id, region`;
        if (existing && existing.quota !== seed.stock) results.push({ sku: seed.id, conflict: existing });
        else results.push({ sku: seed.id, created: false });
      }
      if (results.some((r) => "conflict" in r)) throw new SeedConflictError(results);
      return results;
    });
  }
}

/** A SKU's units split as evenly as can be over its buckets (the first ones get the remainder). */
export function bucketShares(units: number, buckets: number): number[] {
  return Array.from(
    { length: buckets },
    (_, i) => Math.floor(units / buckets) + (i < units % buckets ? 1 : 0),
  );
}

function isUniqueViolation(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: string }).code === "23505";
}
