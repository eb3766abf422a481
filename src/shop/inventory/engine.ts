import type { BuiltInBug } from "../built-in-bugs.ts";
import { pgCode } from "../db/errors.ts";
import type { Allocation, RejectReason, ReservationState, ReserveRequest } from "../domain/allocation.ts";
import { BatchRaceError, type ReservationRow, type SettleOutcome } from "./records.ts";
import type { BucketAllocation, BucketStock, InventoryStore } from "./store.ts";

export type Strategy = "coalesce" | "direct";

export interface EngineOptions {
  strategy: Strategy;
  /**
   * How long the first request of a batch waits for company before the batch is written, when no
   * batch of its SKU is in flight. 0 (the default): it waits only for the requests that arrived in
   * the same turn of the event loop, so a lone buyer's reserve goes out at once; under load the
   * batch in flight is the window (arrivals during it form the next batch).
   */
  batchWindowMs: number;
  batchMax: number;
  /** With stock buckets: requests queued for a bucket before the next bucket's lane takes some. */
  bucketSpill: number;
  reservationTtlMs: number;
  /** How long a locally observed sold-out is trusted before the database is asked again. */
  soldOutTtlMs: number;
  sweepIntervalMs: number;
  sweepLimit: number;
  /** The lab's regression guard (src/shop/built-in-bugs.ts); undefined in the real shop. */
  builtInBug?: BuiltInBug;
}

export type ReserveOutcome =
  | {
      kind: "granted";
      orderId: string;
      sku: string;
      qty: number;
      state: "HELD" | "COMMITTED";
      replay: boolean;
    }
  | { kind: "rejected"; orderId: string; sku: string; qty: number; reason: RejectReason | "sold_out" };

export interface EngineEvents {
  batch?(sku: string, size: number, granted: number, ms: number): void;
  outcome?(outcome: ReserveOutcome): void;
  swept?(rows: ReservationRow[]): void;
  error?(context: string, error: unknown): void;
}

interface Pending extends ReserveRequest {
  resolve(outcome: ReserveOutcome): void;
  reject(error: unknown): void;
  /** Buckets this request has been sent to so far (a bucket split SKU's request moves on when one runs dry). */
  hops: number;
  /** Whether the SKU's units were moved into one bucket for this request already. */
  consolidated?: boolean;
  /** The batch this request is in answers it, whatever it decides (it does not move on). */
  final?: boolean;
}

interface KnownStock extends BucketStock {
  /** Date.now() after which the figure is no longer trusted. */
  validUntil: number;
}

/** One bucket's queue of a SKU: at most one batch per bucket is in flight. */
class BucketLane {
  queue: Pending[] = [];
  /** The pending flush of a batch that waits for company (a timeout, or an immediate for window 0). */
  timer: { cancel(): void } | undefined;
  inFlight: Promise<void> | undefined;

  get idle(): boolean {
    return this.queue.length === 0 && !this.timer && !this.inFlight;
  }

  /** Work queued or in flight here: the router sends a request to the bucket with least. */
  get load(): number {
    return this.queue.length + (this.inFlight ? 1 : 0);
  }
}

/**
 * Per-SKU state. Only this process's event loop touches it, so it needs no locking. A lane lives
 * while it has work queued or in flight, or a sold-out mark to remember; then it is dropped, so an
 * unknown SKU (or one nobody asks for any more) costs nothing once its requests are answered.
 */
class SkuLane {
  buckets: BucketLane[];
  /**
   * What each bucket had on sale after the newest batch seen there (by row version), and when;
   * undefined when not known. Only batches take stock, so a figure can only be too high until stock
   * comes back: a release here forgets them all, and a figure older than the sold-out TTL counts as
   * unknown (stock a release elsewhere returned is seen within that bound, as for the sold-out
   * mark). They only route: a request is never refused on them, only by a batch.
   */
  known: (KnownStock | undefined)[] = [];
  /** The move of the SKU's units into one bucket in flight, and the requests waiting for it. */
  consolidating: Promise<void> | undefined;
  awaitingConsolidation: Pending[] = [];
  soldOutUntil = 0;
  /** Drops the sold-out mark (and the lane, if idle) when it expires. */
  soldOutTimer: NodeJS.Timeout | undefined;
  /** Orders that hold this SKU, loaded when it sells out, so replays still get their grant back. */
  holders: Set<string> | undefined;
  /** Bumped whenever stock comes back: a sold-out mark computed before that must not be applied after it. */
  returns = 0;

  constructor(bucketCount: number) {
    this.buckets = Array.from({ length: bucketCount }, () => new BucketLane());
  }

  get idle(): boolean {
    return this.buckets.every((b) => b.idle) && !this.consolidating && this.holders === undefined;
  }

  /** Learns the SKU's buckets (the first batch tells how many there are). */
  grow(bucketCount: number): void {
    while (this.buckets.length < bucketCount) this.buckets.push(new BucketLane());
  }

  learn(stock: BucketStock, validUntil: number): void {
    const before = this.known[stock.bucket];
    if (!before || before.version <= stock.version) this.known[stock.bucket] = { ...stock, validUntil };
  }

  private figure(bucket: number, now: number): number | undefined {
    const stock = this.known[bucket];
    return stock && now <= stock.validUntil ? stock.available : undefined;
  }

  /** What the buckets together have on sale at most, when every bucket's figure is known. */
  knownTotal(now: number): number | undefined {
    let total = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      const available = this.figure(i, now);
      if (available === undefined) return undefined;
      total += available;
    }
    return total;
  }

  /**
   * The bucket to send a request for `qty` to, of those that may have enough: the first whose queue
   * is shorter than `spill`, else the least loaded. Another bucket's lane opens only when the one
   * before it has that many requests waiting: each batch costs CPU whatever its size, so parallel
   * batches pay only when the commit wait, not the CPU, is what queues (measured in the README).
   * A SKU of one bucket always sends it there: its batch decides.
   */
  pick(qty: number, now: number, spill: number): number | undefined {
    if (this.buckets.length === 1) return 0;
    const mayHave = (i: number) => (this.figure(i, now) ?? qty) >= qty;
    for (let i = 0; i < this.buckets.length; i++) {
      if (mayHave(i) && (this.buckets[i]?.queue.length ?? 0) < spill) return i;
    }
    return this.leastLoaded(mayHave);
  }

  leastLoaded(eligible: (bucket: number) => boolean = () => true): number | undefined {
    let best: number | undefined;
    for (let i = 0; i < this.buckets.length; i++) {
      if (!eligible(i)) continue;
      if (best === undefined || (this.buckets[i]?.load ?? 0) < (this.buckets[best]?.load ?? 0)) best = i;
    }
    return best;
  }

  clearSoldOut(): void {
    if (this.soldOutTimer) clearTimeout(this.soldOutTimer);
    this.soldOutTimer = undefined;
    this.holders = undefined;
    this.soldOutUntil = 0;
  }
}

/** Above this many holders the sold-out fast path is skipped: every request goes to its batch. */
const MAX_SOLD_OUT_HOLDERS = 100_000;

/** How many times, per bucket of its SKU, a request may move on to another bucket before it is refused. */
const MAX_HOPS_PER_BUCKET = 2;

const RETRYABLE_PG_CODES = new Set(["40001", "40P01"]);
const MAX_BATCH_ATTEMPTS = 3;

/**
 * The coalescing reservation engine (docs/architecture.md §Inventory). Concurrent reserves for one SKU queue for at most
 * `batchWindowMs` (or until `batchMax`), then one transaction decides them all; at most one batch
 * per SKU is in flight, and arrivals during it form the next batch. Outcomes are returned only
 * after the batch has committed.
 */
export class InventoryEngine {
  private readonly lanes = new Map<string, SkuLane>();
  /** How many buckets each SKU seen has (fixed when it is seeded); kept after its lane is dropped. */
  private readonly bucketCounts = new Map<string, number>();
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly store: InventoryStore,
    readonly options: EngineOptions,
    private readonly events: EngineEvents = {},
  ) {}

  async reserve(orderId: string, sku: string, qty: number): Promise<ReserveOutcome> {
    if (this.closed) throw new Error("inventory engine is shutting down");
    const outcome =
      this.options.strategy === "direct"
        ? await this.reserveDirect(orderId, sku, qty)
        : await this.reserveCoalesced(orderId, sku, qty);
    this.events.outcome?.(outcome);
    return outcome;
  }

  async commit(orderId: string): Promise<SettleOutcome> {
    return this.store.commit(orderId);
  }

  /** `commit` of many orders in one statement and one commit (the order service batches its calls). */
  async commitMany(orderIds: readonly string[]): Promise<Map<string, SettleOutcome>> {
    return this.store.commitMany(orderIds);
  }

  async release(orderId: string): Promise<SettleOutcome> {
    const outcome = await this.store.release(orderId);
    if (outcome.kind === "done" && outcome.changed) this.stockReturned(outcome.items.map((i) => i.sku));
    return outcome;
  }

  startSweeper(): void {
    if (this.sweeper) return;
    this.sweeper = setInterval(() => {
      if (this.sweeping) return;
      this.sweeping = this.sweepOnce()
        .then(() => {})
        .catch((error) => this.events.error?.("sweeper", error))
        .finally(() => {
          this.sweeping = undefined;
        });
    }, this.options.sweepIntervalMs);
    this.sweeper.unref();
  }

  /** Releases expired HELD reservations until none are left. */
  async sweepOnce(): Promise<ReservationRow[]> {
    const all: ReservationRow[] = [];
    for (;;) {
      const rows = await this.store.sweepExpired(this.options.sweepLimit);
      if (rows.length === 0) break;
      all.push(...rows);
      this.stockReturned(rows.map((r) => r.sku));
      this.events.swept?.(rows);
      if (rows.length < this.options.sweepLimit) break;
    }
    return all;
  }

  /** SKUs with live per-SKU state (work queued or in flight, or a sold-out mark). */
  get laneCount(): number {
    return this.lanes.size;
  }

  /** Stops taking work and waits for every queued and in-flight batch to finish. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    for (const [sku, lane] of this.lanes) {
      lane.clearSoldOut();
      lane.buckets.forEach((bucket, i) => {
        bucket.timer?.cancel();
        bucket.timer = undefined;
        if (!bucket.inFlight && bucket.queue.length > 0) this.flush(sku, lane, i);
      });
    }
    for (;;) {
      const busy = [...this.lanes.values()].flatMap((lane) => [
        ...lane.buckets.flatMap((bucket) => (bucket.inFlight ? [bucket.inFlight] : [])),
        ...(lane.consolidating ? [lane.consolidating] : []),
      ]);
      if (this.sweeping) busy.push(this.sweeping);
      if (busy.length === 0) return;
      await Promise.allSettled(busy);
    }
  }

  private async reserveDirect(orderId: string, sku: string, qty: number): Promise<ReserveOutcome> {
    const result = await this.store.reserveDirect(orderId, sku, qty, this.options.reservationTtlMs);
    if (result.kind === "grant") return { kind: "granted", orderId, sku, qty, state: "HELD", replay: false };
    if (result.kind === "replay") return replayOutcome(orderId, sku, qty, result.state);
    return { kind: "rejected", orderId, sku, qty, reason: result.reason };
  }

  private reserveCoalesced(orderId: string, sku: string, qty: number): Promise<ReserveOutcome> {
    const known = this.lanes.get(sku);
    if (known?.holders && Date.now() < known.soldOutUntil && !known.holders.has(orderId)) {
      return Promise.resolve({ kind: "rejected", orderId, sku, qty, reason: "sold_out" });
    }
    const lane = known ?? this.lane(sku);
    return new Promise<ReserveOutcome>((resolve, reject) => {
      this.route(sku, lane, { orderId, qty, resolve, reject, hops: 0 });
    });
  }

  /**
   * Sends a request to a bucket that may have enough for it. When none may, but the buckets
   * together may, their units are first moved into one. When they together have too few (or still
   * did not, once moved), one batch answers the request for good: the figures are only hints, and
   * a batch also knows an order that already holds its grant (a retry gets it back).
   */
  private route(sku: string, lane: SkuLane, pending: Pending): void {
    const maxHops = MAX_HOPS_PER_BUCKET * lane.buckets.length;
    const now = Date.now();
    let index = pending.hops < maxHops ? lane.pick(pending.qty, now, this.options.bucketSpill) : undefined;
    if (index === undefined) {
      const total = lane.knownTotal(now);
      if ((total === undefined || total >= pending.qty) && !pending.consolidated) {
        pending.consolidated = true;
        pending.hops = Math.min(pending.hops, maxHops - 1);
        this.consolidate(sku, lane, pending);
        return;
      }
      pending.final = true;
      index = lane.leastLoaded() ?? 0;
    }
    pending.hops++;
    const bucket = lane.buckets[index] as BucketLane;
    bucket.queue.push(pending);
    if (bucket.inFlight) return; // the batch in flight flushes this one when it ends
    if (bucket.queue.length >= this.options.batchMax) this.flush(sku, lane, index);
    else bucket.timer ??= this.afterWindow(() => this.flush(sku, lane, index));
  }

  /** Moves the SKU's units into one bucket, then routes the waiting requests again. */
  private consolidate(sku: string, lane: SkuLane, pending: Pending): void {
    lane.awaitingConsolidation.push(pending);
    if (lane.consolidating) return;
    lane.consolidating = this.store
      .consolidate(sku)
      .then((buckets) => {
        const validUntil = Date.now() + this.options.soldOutTtlMs;
        for (const stock of buckets) lane.learn(stock, validUntil);
      })
      .catch((error) => {
        for (const waiting of lane.awaitingConsolidation.splice(0)) waiting.reject(error);
      })
      .finally(() => {
        lane.consolidating = undefined;
        for (const waiting of lane.awaitingConsolidation.splice(0)) this.route(sku, lane, waiting);
        this.dropIfIdle(sku, lane);
      });
  }

  /**
   * Node's setTimeout(0) waits at least 1 ms; setImmediate runs once the event loop has read what
   * arrived, so window 0 costs a lone request nothing and still batches a burst read together.
   */
  private afterWindow(flush: () => void): { cancel(): void } {
    if (this.options.batchWindowMs === 0) {
      const immediate = setImmediate(flush);
      return { cancel: () => clearImmediate(immediate) };
    }
    const timeout = setTimeout(flush, this.options.batchWindowMs);
    return { cancel: () => clearTimeout(timeout) };
  }

  private lane(sku: string): SkuLane {
    let lane = this.lanes.get(sku);
    if (!lane) {
      lane = new SkuLane(this.bucketCounts.get(sku) ?? 1);
      this.lanes.set(sku, lane);
    }
    return lane;
  }

  private flush(sku: string, lane: SkuLane, index: number): void {
    const bucket = lane.buckets[index] as BucketLane;
    bucket.timer?.cancel();
    bucket.timer = undefined;
    if (bucket.inFlight || bucket.queue.length === 0) return;
    const batch = bucket.queue.splice(0, this.options.batchMax);
    bucket.inFlight = this.runBatch(sku, lane, index, batch).finally(() => {
      bucket.inFlight = undefined;
      // Arrivals during the batch have already waited at least one transaction: write them now.
      if (bucket.queue.length > 0) this.flush(sku, lane, index);
      else this.dropIfIdle(sku, lane);
    });
  }

  private dropIfIdle(sku: string, lane: SkuLane): void {
    if (lane.idle && this.lanes.get(sku) === lane) this.lanes.delete(sku);
  }

  private async runBatch(sku: string, lane: SkuLane, index: number, batch: Pending[]): Promise<void> {
    const started = performance.now();
    try {
      const allocation = await this.withRetries((attempt) =>
        this.reserveInBucket(sku, index, batch, attempt),
      );
      this.events.batch?.(sku, batch.length, allocation.granted, performance.now() - started);
      this.bucketCounts.set(sku, allocation.buckets);
      lane.grow(allocation.buckets);
      const learnt = { bucket: index, available: allocation.remaining, version: allocation.version };
      lane.learn(learnt, Date.now() + this.options.soldOutTtlMs);
      const moved: Pending[] = [];
      answerBatch(sku, batch, allocation, (pending) => {
        if (lane.buckets.length === 1 || pending.final) return false;
        moved.push(pending);
        return true;
      });
      for (const pending of moved) this.route(sku, lane, pending);
      // After answering: the holder set is only an optimisation for the requests still to come.
      if (lane.knownTotal(Date.now()) === 0) await this.markSoldOut(sku, lane);
    } catch (error) {
      // The outcome is unknown to the callers (the commit may or may not have landed); a retry
      // with the same order id is safe and returns whatever did happen.
      for (const pending of batch) pending.reject(error);
    }
  }

  /**
   * A lone request is tried in one round trip first; whatever that does not grant, the batch
   * decides. A batch's first attempt plans on a read of the stock row without its lock, so the lock
   * is held from the update to the commit, not across a round trip to this process (a settlement
   * of the SKU waits for it); a retry locks first, so a SKU whose stock keeps coming back still
   * gets its batch through.
   */
  private async reserveInBucket(
    sku: string,
    index: number,
    batch: Pending[],
    attempt: number,
  ): Promise<BucketAllocation> {
    const ttlMs = this.options.reservationTtlMs;
    const [lone] = batch;
    if (lone && batch.length === 1 && !this.options.builtInBug) {
      const granted = await this.store.reserveOne(sku, index, lone, ttlMs);
      if (granted) return granted;
    }
    return this.store.reserveBatch(
      sku,
      index,
      batch,
      ttlMs,
      // Built-in bug "ack-before-commit" (lab regression guard): answer the callers as soon as
      // the batch is decided, inside its transaction, before its writes commit.
      this.options.builtInBug === "ack-before-commit"
        ? (allocation) => answerBatch(sku, batch, allocation, () => false)
        : undefined,
      attempt > 1,
    );
  }

  private async withRetries<T>(attempt: (n: number) => Promise<T>): Promise<T> {
    for (let n = 1; ; n++) {
      try {
        return await attempt(n);
      } catch (error) {
        const retryable = error instanceof BatchRaceError || RETRYABLE_PG_CODES.has(pgCode(error));
        if (!retryable || n >= MAX_BATCH_ATTEMPTS) throw error;
      }
    }
  }

  private async markSoldOut(sku: string, lane: SkuLane): Promise<void> {
    const returns = lane.returns;
    try {
      const holders = await this.store.orderIdsHolding(sku, MAX_SOLD_OUT_HOLDERS);
      if (lane.returns !== returns) return; // a release landed meanwhile: not sold out any more
      lane.clearSoldOut();
      if (!holders) return; // too many to keep: batches still answer correctly, only slower
      lane.holders = holders;
      lane.soldOutUntil = Date.now() + this.options.soldOutTtlMs;
      lane.soldOutTimer = setTimeout(() => {
        lane.clearSoldOut();
        this.dropIfIdle(sku, lane);
      }, this.options.soldOutTtlMs);
      lane.soldOutTimer.unref();
    } catch (error) {
      lane.clearSoldOut(); // no fast path without the holder set; batches still answer correctly
      this.events.error?.("sold-out holders", error);
    }
  }

  private stockReturned(skus: string[]): void {
    for (const sku of skus) {
      const lane = this.lanes.get(sku);
      if (!lane) continue;
      lane.returns++;
      lane.known = [];
      lane.clearSoldOut();
      this.dropIfIdle(sku, lane);
    }
  }
}

/**
 * Resolves every request of a batch with its decision (a request already answered keeps its
 * answer), except a request the bucket had too few units for that `moveOn` takes to try elsewhere.
 */
function answerBatch(
  sku: string,
  batch: readonly Pending[],
  allocation: Allocation,
  moveOn: (pending: Pending) => boolean,
): void {
  allocation.decisions.forEach((decision, i) => {
    const pending = batch[i];
    if (!pending) return;
    if (decision.kind === "reject" && decision.reason === "insufficient_stock" && moveOn(pending)) return;
    const { orderId, qty } = pending;
    if (decision.kind === "grant")
      pending.resolve({ kind: "granted", orderId, sku, qty, state: "HELD", replay: false });
    else if (decision.kind === "replay") pending.resolve(replayOutcome(orderId, sku, qty, decision.state));
    else pending.resolve({ kind: "rejected", orderId, sku, qty, reason: decision.reason });
  });
}

function replayOutcome(orderId: string, sku: string, qty: number, state: ReservationState): ReserveOutcome {
  if (state === "RELEASED") return { kind: "rejected", orderId, sku, qty, reason: "order_released" };
  return { kind: "granted", orderId, sku, qty, state, replay: true };
}
