import type { BuiltInBug } from "../built-in-bugs.ts";
import { GroupCommit } from "../db/group-commit.ts";
import type { Db } from "../db/pool.ts";
import type { ActiveState, CancelReason, Order, OrderItem, OrderState } from "../domain/order.ts";
import { NotSlotOwnerError, slotOwner } from "./slots.ts";

/** SQL for orders, their payments and the outbox. Every state change writes its outbox event in the same transaction. */

export type ShopPaymentState = "AUTHORIZED" | "CAPTURED" | "VOIDED" | "REFUNDED";
export type VoidWatchOutcome = "voided" | "declined" | "refunded" | "none";

export interface NewOrder {
  id: string;
  userId: string;
  idemKey: string;
  fingerprint: string;
  homeRegion: string;
  /** The user's unit: the order is placed only while `homeRegion` owns it (slots.ts). */
  slot: number;
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

/** What a transition writes to the shop's payment row, in the same statement. */
export interface PaymentRow {
  state: ShopPaymentState;
  amount: number;
  providerRef?: string;
}

/**
 * JSON goes in as text and is cast in SQL (`$n::text::jsonb`), so the driver's own JSON encoding
 * of jsonb parameters never applies to it.
 *
 * Every state change is ONE statement: the conditional UPDATE of the order, the payment row and the
 * outbox event are data-modifying CTEs of a single autocommit statement, so they commit together in
 * one round trip (a saga step used to take four: BEGIN, UPDATE, INSERT, COMMIT), and the statement
 * returns the order as it now is, so the saga need not read it again. $1-$9 are shared by all
 * transitions (`typed` fixes their types even where a transition does not use them); a
 * transition's own parameters start at $10.
 */
const TRANSITION = (update: string, also = "") => `
  WITH typed AS (SELECT $1::text, $2::text, $3::int, $4::text, $5::text, $6::text, $7::text, $8::bigint, $9::text),
  moved AS (${update} RETURNING ${ORDER_COLUMNS}),${also}
  paid AS (
    INSERT INTO payment (order_id, state, amount, provider_ref)
    SELECT id, $7::text, $8::bigint, $9::text FROM moved WHERE $7::text IS NOT NULL
    ON CONFLICT (order_id) DO UPDATE SET state = EXCLUDED.state, updated_at = now(),
      provider_ref = coalesce(EXCLUDED.provider_ref, payment.provider_ref)),
  emitted AS (
    INSERT INTO outbox (aggregate, aggregate_id, event, payload, hlc)
    SELECT 'order', id, $4, $5::text::jsonb, $6 FROM moved)
  SELECT * FROM moved`;

const LEASE = `lease_owner = $2, lease_until = now() + $3::int * interval '1 millisecond'`;
/** The stamp of the row's current version (a peer keeps the winning version: migration 005). Only the home region drives a saga. */
const VERSION = `version_hlc = $6, version_region = home_region`;
const ACTIVE = `('PENDING', 'RESERVED', 'PAID')`;

const ADVANCE = TRANSITION(`
  UPDATE orders SET state = $11, updated_at = now(), ${VERSION}, ${LEASE}
  WHERE id = $1 AND state = $10 AND cancel_reason IS NULL`);
const DECIDE_CANCEL = TRANSITION(`
  UPDATE orders SET cancel_reason = $10, updated_at = now(), ${VERSION}, ${LEASE}
  WHERE id = $1 AND state IN ${ACTIVE} AND cancel_reason IS NULL`);
const FINISH_CANCEL_UPDATE = `
  UPDATE orders SET state = 'CANCELLED', updated_at = now(), ${VERSION}, lease_until = NULL
  WHERE id = $1 AND state IN ${ACTIVE} AND cancel_reason IS NOT NULL`;
const FINISH_CANCEL = TRANSITION(FINISH_CANCEL_UPDATE);
/** The cancellation of an order that sent an authorize: its void is watched for $10 ms (void-watch.ts). */
const FINISH_CANCEL_WATCHING_VOID = TRANSITION(
  FINISH_CANCEL_UPDATE,
  `
  watched AS (
    INSERT INTO payment_void_watch (order_id, watch_until)
    SELECT id, now() + $10::int * interval '1 millisecond' FROM moved ON CONFLICT DO NOTHING),`,
);
const CONFIRM_DESPITE_CANCEL = TRANSITION(`
  UPDATE orders SET state = 'CONFIRMED', cancel_reason = NULL, updated_at = now(), ${VERSION}, lease_until = NULL
  WHERE id = $1 AND state = 'PAID' AND cancel_reason IS NOT NULL`);

/**
 * ADVANCE for many orders in one statement (group commit, src/shop/db/group-commit.ts): the same
 * conditional UPDATE, payment upsert and outbox event per order, from parallel arrays. The request
 * columns are named r_* so that ORDER_COLUMNS in RETURNING can only mean the order's own.
 */
const ADVANCE_MANY = `
  WITH req AS (
    SELECT * FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                         $10::bigint[], $11::text[])
      AS r(r_id, r_from, r_to, r_event, r_payload, r_hlc, r_pay_state, r_pay_amount, r_pay_ref)),
  moved AS (
    UPDATE orders SET state = r_to, updated_at = now(), version_hlc = r_hlc, version_region = home_region,
      lease_owner = $1, lease_until = now() + $2::int * interval '1 millisecond'
    FROM req WHERE id = r_id AND state = r_from AND cancel_reason IS NULL
    RETURNING ${ORDER_COLUMNS}),
  paid AS (
    INSERT INTO payment (order_id, state, amount, provider_ref)
    SELECT r_id, r_pay_state, r_pay_amount, r_pay_ref FROM moved JOIN req ON r_id = moved.id
    WHERE r_pay_state IS NOT NULL
    ON CONFLICT (order_id) DO UPDATE SET state = EXCLUDED.state, updated_at = now(),
      provider_ref = coalesce(EXCLUDED.provider_ref, payment.provider_ref)),
  emitted AS (
    INSERT INTO outbox (aggregate, aggregate_id, event, payload, hlc)
    SELECT 'order', r_id, r_event, r_payload::jsonb, r_hlc FROM moved JOIN req ON r_id = moved.id)
  SELECT * FROM moved`;

/**
 * Inserts the order unless its key is taken, with its OrderPlaced event; answers the key's order
 * either way. Fenced: only while this region ($5) owns the user's slot ($13), read under a share
 * lock, so a slot move at this region waits for this statement and every later one sees the move.
 */
const PLACE = `
  WITH owner AS (SELECT region FROM slot_owner WHERE slot = $13::int FOR SHARE),
  placed AS (
    INSERT INTO orders (id, user_id, idem_key, request_hash, home_region, state, items, total, hlc,
                        version_hlc, version_region, lease_owner, lease_until)
    SELECT $1, $2, $3, $4, $5, 'PENDING', $6::text::jsonb, $7::bigint, $8, $8, $5, $9, now() + $10::int * interval '1 millisecond'
    WHERE EXISTS (SELECT 1 FROM owner WHERE region = $5)
    ON CONFLICT (idem_key) DO NOTHING RETURNING ${ORDER_COLUMNS}),
  emitted AS (
    INSERT INTO outbox (aggregate, aggregate_id, event, payload, hlc)
    SELECT 'order', id, $11, $12::text::jsonb, $8 FROM placed)
  SELECT true AS created, * FROM placed
  UNION ALL
  SELECT false AS created, ${ORDER_COLUMNS} FROM orders WHERE idem_key = $3 AND NOT EXISTS (SELECT 1 FROM placed)`;

/**
 * PLACE for many orders in one statement (group commit): each order is placed unless its key is
 * taken, fenced by its own slot, with its OrderPlaced event; every key's order comes back. The slots
 * are share-locked in slot order, as moveSlots updates them, so a batch and a move cannot deadlock.
 * A key taken before this statement comes back from the second branch (the statement's snapshot
 * sees it; the rows this statement inserts it does not).
 */
const PLACE_MANY = `
  WITH req AS (
    SELECT * FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[],
                         $10::text[], $11::text[], $12::text[], $13::int[])
      AS r(r_id, r_user, r_key, r_hash, r_home, r_items, r_total, r_hlc, r_event, r_payload, r_slot)),
  owner AS (SELECT slot, region FROM slot_owner WHERE slot IN (SELECT r_slot FROM req) ORDER BY slot FOR SHARE),
  placed AS (
    INSERT INTO orders (id, user_id, idem_key, request_hash, home_region, state, items, total, hlc,
                        version_hlc, version_region, lease_owner, lease_until)
    SELECT r_id, r_user, r_key, r_hash, r_home, 'PENDING', r_items::jsonb, r_total, r_hlc, r_hlc, r_home, $1,
           now() + $2::int * interval '1 millisecond'
    FROM req WHERE EXISTS (SELECT 1 FROM owner WHERE owner.slot = r_slot AND owner.region = r_home)
    ON CONFLICT (idem_key) DO NOTHING RETURNING ${ORDER_COLUMNS}),
  emitted AS (
    INSERT INTO outbox (aggregate, aggregate_id, event, payload, hlc)
    SELECT 'order', r_id, r_event, r_payload::jsonb, r_hlc FROM placed JOIN req ON r_id = placed.id)
  SELECT true AS created, * FROM placed
  UNION ALL
  SELECT false AS created, ${ORDER_COLUMNS} FROM orders WHERE idem_key IN (SELECT r_key FROM req)`;

/** Sends writes (the write guard: refused at once while the endpoint is known read-only). */
export interface WriteGate {
  write<T>(send: () => Promise<T>): Promise<T>;
}

const UNGUARDED: WriteGate = { write: (send) => send() };

export interface OrderStoreOptions {
  /** This driver's name on the leases it takes. */
  owner: string;
  leaseMs: number;
  /** The region this store drives sagas for: copies of a peer's orders are never claimed. */
  region: string;
  /** Placements and forward steps share commits (GroupCommit), at most this many batches of each in flight; absent: one commit each. */
  groupCommit?: { maxInFlight: number; maxBatch: number };
  builtInBug?: BuiltInBug;
}

interface PlaceRequest {
  order: NewOrder;
  placed: OutboxEvent;
}

type PlacedRow = StoredOrder & { created: boolean };

interface AdvanceRequest {
  id: string;
  from: ActiveState;
  to: OrderState;
  event: OutboxEvent;
  payment: PaymentRow | undefined;
}

export class OrderStore {
  readonly owner: string;
  readonly leaseMs: number;
  readonly region: string;
  private readonly builtInBug: BuiltInBug | undefined;
  /** Forward steps' group commit (undefined: each is its own statement). */
  readonly advances: GroupCommit<AdvanceRequest, StoredOrder | undefined> | undefined;
  /** Placements' group commit, by idempotency key (undefined: each is its own statement). */
  readonly placements: GroupCommit<PlaceRequest, PlacedRow | undefined> | undefined;

  constructor(
    readonly db: Db,
    options: OrderStoreOptions,
    private readonly writes: WriteGate = UNGUARDED,
  ) {
    this.owner = options.owner;
    this.leaseMs = options.leaseMs;
    this.region = options.region;
    this.builtInBug = options.builtInBug;
    this.advances = options.groupCommit
      ? new GroupCommit({
          ...options.groupCommit,
          key: (request) => request.id,
          send: (requests) => this.advanceMany(requests),
        })
      : undefined;
    this.placements = options.groupCommit
      ? new GroupCommit({
          ...options.groupCommit,
          key: (request) => request.order.idemKey,
          send: (requests) => this.placeMany(requests),
        })
      : undefined;
  }

  /** Inserts a PENDING order unless its idempotency key is taken; either way returns the key's order. */
  async placeOrGet(order: NewOrder, placed: OutboxEvent): Promise<{ created: boolean; order: StoredOrder }> {
    const row = this.placements
      ? await this.placements.submit({ order, placed })
      : await this.placeOne(order, placed);
    if (row) {
      const { created, ...stored } = row;
      return { created, order: stored };
    }
    // Nothing placed and no order under the key: this region does not own the slot (fenced), or
    // the key was taken by a transaction that committed after this statement's snapshot was taken
    // (ON CONFLICT saw its row, the snapshot did not; a fresh read does).
    const owner = await slotOwner(this.db, order.slot);
    if (owner?.region !== order.homeRegion) throw new NotSlotOwnerError(order.slot, owner);
    const existing = await this.byIdempotencyKey(order.idemKey);
    if (!existing) throw new Error(`order for key ${order.idemKey} vanished`);
    return { created: false, order: existing };
  }

  /** Several placements, one statement and one commit; a lone one goes as PLACE. */
  private async placeMany(requests: PlaceRequest[]): Promise<(PlacedRow | undefined)[]> {
    if (requests.length === 1) {
      const { order, placed } = requests[0] as PlaceRequest;
      return [await this.placeOne(order, placed)];
    }
    const column = <T>(pick: (order: NewOrder, placed: OutboxEvent) => T) =>
      requests.map((r) => pick(r.order, r.placed));
    const rows = await this.writes.write(() =>
      this.db.unsafe<PlacedRow[]>(
        PLACE_MANY,
        [
          this.owner,
          this.leaseMs,
          column((o) => o.id),
          column((o) => o.userId),
          column((o) => o.idemKey),
          column((o) => o.fingerprint),
          column((o) => o.homeRegion),
          column((o) => JSON.stringify(o.items)),
          column((o) => o.total),
          column((o) => o.hlc),
          column((_, p) => p.event),
          column((_, p) => JSON.stringify(p.payload)),
          column((o) => o.slot),
        ] as never[],
        { prepare: true },
      ),
    );
    const byKey = new Map(rows.map((row) => [row.idemKey, row]));
    return requests.map((r) => byKey.get(r.order.idemKey));
  }

  private async placeOne(order: NewOrder, placed: OutboxEvent): Promise<PlacedRow | undefined> {
    const [row] = await this.writes.write(() =>
      this.db.unsafe<PlacedRow[]>(
        PLACE,
        [
          order.id,
          order.userId,
          order.idemKey,
          order.fingerprint,
          order.homeRegion,
          JSON.stringify(order.items),
          order.total,
          order.hlc,
          this.owner,
          this.leaseMs,
          placed.event,
          JSON.stringify(placed.payload),
          order.slot,
        ],
        { prepare: true },
      ),
    );
    return row;
  }

  async get(id: string, db: Db = this.db): Promise<StoredOrder | undefined> {
    const [row] = await db.unsafe<StoredOrder[]>(`SELECT ${ORDER_COLUMNS} FROM orders WHERE id = $1`, [id], {
      prepare: true,
    });
    return row;
  }

  /**
   * Which of `keys` have an order, read on the primary (a replica may not have it yet): one read of
   * the unique index, however many keys (the sold-out gate's KeyLookup batches them).
   */
  async keysWithOrders(keys: readonly string[]): Promise<Set<string>> {
    const rows = await this.db.unsafe<{ idem_key: string }[]>(
      "SELECT idem_key FROM orders WHERE idem_key = ANY($1::text[])",
      [keys as string[]],
      { prepare: true },
    );
    return new Set(rows.map((row) => row.idem_key));
  }

  private async byIdempotencyKey(key: string): Promise<StoredOrder | undefined> {
    const [row] = await this.db.unsafe<StoredOrder[]>(
      `SELECT ${ORDER_COLUMNS} FROM orders WHERE idem_key = $1`,
      [key],
      { prepare: true },
    );
    return row;
  }

  /**
   * A forward step, if the order is still in `from` and no cancellation was decided. Renews the
   * lease. Returns the order as it now is, or undefined when the transition did not apply.
   */
  advance(
    id: string,
    from: ActiveState,
    to: OrderState,
    event: OutboxEvent,
    payment?: PaymentRow,
  ): Promise<StoredOrder | undefined> {
    if (this.advances) return this.advances.submit({ id, from, to, event, payment });
    return this.transition(ADVANCE, id, event, payment, [from, to]);
  }

  /** Several forward steps, one statement and one commit; a lone one goes as ADVANCE. */
  private async advanceMany(requests: AdvanceRequest[]): Promise<(StoredOrder | undefined)[]> {
    if (requests.length === 1) {
      const { id, from, to, event, payment } = requests[0] as AdvanceRequest;
      return [await this.transition(ADVANCE, id, event, payment, [from, to])];
    }
    const column = <T>(pick: (request: AdvanceRequest) => T) => requests.map(pick);
    const rows = await this.writes.write(() =>
      this.db.unsafe<StoredOrder[]>(
        ADVANCE_MANY,
        [
          this.owner,
          this.leaseMs,
          column((r) => r.id),
          column((r) => r.from),
          column((r) => r.to),
          column((r) => r.event.event),
          column((r) => JSON.stringify(r.event.payload)),
          column((r) => r.event.hlc),
          column((r) => r.payment?.state ?? null),
          column((r) => r.payment?.amount ?? null),
          column((r) => r.payment?.providerRef ?? null),
        ] as never[],
        { prepare: true },
      ),
    );
    const moved = new Map(rows.map((row) => [row.id, row]));
    return requests.map((request) => moved.get(request.id));
  }

  /** Decides a cancellation; from here on only compensation runs. Undefined if already decided or terminal. */
  decideCancel(id: string, reason: CancelReason, event: OutboxEvent): Promise<StoredOrder | undefined> {
    return this.transition(DECIDE_CANCEL, id, event, undefined, [reason]);
  }

  /**
   * Compensation done: the decided cancellation becomes final. With `watchVoidMs`, the order's
   * payment is put under watch (claimVoidWatches) in the same statement, for that long at least.
   */
  finishCancel(
    id: string,
    event: OutboxEvent,
    payment?: PaymentRow,
    watchVoidMs?: number,
  ): Promise<StoredOrder | undefined> {
    return watchVoidMs === undefined
      ? this.transition(FINISH_CANCEL, id, event, payment, [])
      : this.transition(FINISH_CANCEL_WATCHING_VOID, id, event, payment, [watchVoidMs]);
  }

  /**
   * Claims open void watches that are due, pushing their next check a lease away (so other
   * instances leave them alone meanwhile). `windowOver`: no authorization can land any more.
   */
  async claimVoidWatches(limit: number): Promise<{ orderId: string; windowOver: boolean }[]> {
    return this.writes.write(
      () => this.db<{ orderId: string; windowOver: boolean }[]>`
      UPDATE payment_void_watch SET next_check = now() + ${this.leaseMs} * interval '1 millisecond',
        attempts = attempts + 1
      WHERE order_id IN (SELECT order_id FROM payment_void_watch
                         WHERE closed_at IS NULL AND next_check <= now()
                         ORDER BY next_check LIMIT ${limit} FOR UPDATE SKIP LOCKED)
      RETURNING order_id AS "orderId", watch_until <= now() AS "windowOver"`,
    );
  }

  /** Checks the watch again after `delayMs`, or at the end of its window if that comes first. */
  async recheckVoidWatch(orderId: string, delayMs: number): Promise<void> {
    await this.writes.write(
      () => this.db`
      UPDATE payment_void_watch
      SET next_check = least(now() + ${delayMs} * interval '1 millisecond', watch_until)
      WHERE order_id = ${orderId} AND closed_at IS NULL`,
    );
  }

  /**
   * The provider confirmed no authorization of the order is open: records how, and the payment's
   * final state when there was one.
   */
  async closeVoidWatch(orderId: string, outcome: VoidWatchOutcome, paymentState?: ShopPaymentState) {
    await this.writes.write(
      () => this.db`
      WITH closed AS (
        UPDATE payment_void_watch SET closed_at = now(), outcome = ${outcome}
        WHERE order_id = ${orderId} AND closed_at IS NULL RETURNING order_id)
      INSERT INTO payment (order_id, state, amount)
      SELECT o.id, ${paymentState ?? null}::text, o.total FROM closed c JOIN orders o ON o.id = c.order_id
      WHERE ${paymentState ?? null}::text IS NOT NULL
      ON CONFLICT (order_id) DO UPDATE SET state = EXCLUDED.state, updated_at = now()`,
    );
  }

  /** Open void watches (orders whose authorization may still be open at the provider). */
  async openVoidWatches(): Promise<number> {
    const [row] = await this.db<{ n: number }[]>`
      SELECT count(*)::int AS n FROM payment_void_watch WHERE closed_at IS NULL`;
    return row?.n ?? 0;
  }

  /**
   * A cancellation that found the stock already sold (a commit beat the release) cannot be
   * compensated; the order was paid and fulfilled, so it is confirmed instead.
   */
  confirmDespiteCancel(id: string, event: OutboxEvent, amount: number): Promise<StoredOrder | undefined> {
    return this.transition(CONFIRM_DESPITE_CANCEL, id, event, { state: "CAPTURED", amount }, []);
  }

  private async transition(
    statement: string,
    id: string,
    event: OutboxEvent,
    payment: PaymentRow | undefined,
    params: unknown[],
  ): Promise<StoredOrder | undefined> {
    const [row] = await this.writes.write(() =>
      this.db.unsafe<StoredOrder[]>(
        statement,
        [
          id,
          this.owner,
          this.leaseMs,
          event.event,
          JSON.stringify(event.payload),
          event.hlc,
          payment?.state ?? null,
          payment?.amount ?? null,
          payment?.providerRef ?? null,
          ...params,
        ] as never[],
        { prepare: true },
      ),
    );
    return row;
  }

  /**
   * Extends this driver's leases on the given in-flight orders (the recovery loop's heartbeat).
   * Skips rows another statement holds: that statement is a step of the order, which renews the
   * lease itself. Waiting for them instead deadlocked against group-committed steps (both lock
   * many orders, in whatever order their plans visit them): a 1 s stall (deadlock_timeout) and a
   * failed batch every few seconds in `npm run bench:group-commit`, seen in PostgreSQL's log.
   */
  async renewLeases(ids: readonly string[]): Promise<void> {
    await this.writes.write(
      () => this.db`
      UPDATE orders SET lease_until = now() + ${this.leaseMs} * interval '1 millisecond'
      WHERE id IN (SELECT id FROM orders
                   WHERE id = ANY(${ids as string[]}::text[]) AND lease_owner = ${this.owner}
                     AND state IN ('PENDING', 'RESERVED', 'PAID')
                   FOR UPDATE SKIP LOCKED)`,
    );
  }

  /** Takes over in-flight orders whose driver's lease ran out (a crash, a pause, a lost request). */
  async claimStale(limit: number): Promise<string[]> {
    // Built-in bug "recover-copies" (lab regression guard): the home filter is forgotten, so copies
    // of other regions' orders (which carry no lease) are claimed and driven here too.
    const everyRegion = this.builtInBug === "recover-copies";
    const rows = await this.writes.write(
      () => this.db<{ id: string }[]>`
      UPDATE orders SET lease_owner = ${this.owner}, lease_until = now() + ${this.leaseMs} * interval '1 millisecond'
      WHERE id IN (SELECT id FROM orders
                   WHERE (${everyRegion} OR home_region = ${this.region})
                     AND state IN ('PENDING', 'RESERVED', 'PAID')
                     AND (lease_until IS NULL OR lease_until < now())
                   ORDER BY lease_until NULLS FIRST LIMIT ${limit} FOR UPDATE SKIP LOCKED)
      RETURNING id`,
    );
    return rows.map((r) => r.id);
  }

  async prices(skus: readonly string[]): Promise<Map<string, number>> {
    const rows = await this.db<
      { id: string; price: string }[]
    >`SELECT id, price FROM sku WHERE id = ANY(${skus}::text[])`;
    return new Map(rows.map((r) => [r.id, Number(r.price)]));
  }
}
