import { ExponentialBackoff, handleAll, retry } from "cockatiel";
import type { Db } from "../db/pool.ts";
import { readAllSlots, type SlotOwnership } from "../orders/slots.ts";
import {
  type AppliedBatch,
  type ApplyOutcome,
  appliedPosition,
  applyOrderCopies,
  COPY_JSON,
  copyFromJson,
  type OrderCopy,
  type OrderCopyJson,
  type ShippedBatch,
} from "./order-copies.ts";
import {
  comparePositions,
  LOG_START,
  type OutboxEntry,
  OutboxLog,
  type OutboxPosition,
} from "./outbox-log.ts";
import { type ReconcileReport, reconcile } from "./reconcile.ts";

/**
 * Ships one region's changes to one peer (docs/architecture.md §Regions): reads the source's outbox
 * as a log in commit order (outbox-log.ts), fetches the current version of every order the batch
 * touched, applies them at the peer in one transaction together with the position reached
 * (order-copies.ts), then confirms the position at the source.
 *
 * Why the outbox and not a logical replication slot: on PostgreSQL 15 a slot lives only on the
 * primary and is gone after a promotion, and the region's own failover is one of the faults the lab
 * injects. The outbox and both positions are ordinary rows, synchronously replicated with the data
 * they describe, so a promoted replica resumes exactly where its primary stopped, in either region.
 * The peer's position (written with the applied rows) is the truth the relay resumes from; the
 * source's cursor (written after) only tells the source what it may prune and how much it retains.
 */

export interface RelayOptions {
  source: { region: string; db: Db };
  peer: { region: string; db: Db };
  /** Log entries per batch. */
  batchSize: number;
  /**
   * How soon a relay level with its source checks for news there (inside the database: OutboxLog
   * waitForNews), so also how long a change may wait for the read that finds it...
   */
  pollMs: number;
  /** ...and the longest interval the checks back off to while nothing comes (default pollMs: none). */
  pollMaxMs?: number;
  maxBackoffMs: number;
  telemetry?: RelayTelemetry;
  /**
   * The lab's fault (PUT /lab/replication-faults): shares of order versions lost or garbled on the
   * way, the position advancing all the same. Read on every batch; absent in a real deployment.
   */
  faults?: { drop: number; corrupt: number };
  random?: () => number;
}

/**
 * Where a batch's lag went, in seconds: each change's commit at the source (from its transaction's
 * start; only where the source records commit times), its wait there until the read that found it
 * (the safe horizon, the poll; and its commit, where that is not known), the read of the log and of
 * the current versions, and from the send to the batch applied at the peer, before its commit (the
 * WAN, any batch ahead of it there, the apply statement). Differences of the clocks of the source,
 * the relay and the peer: exact only on one host.
 */
export interface LagStages {
  commit: readonly number[];
  sourceWait: readonly number[];
  read: number;
  transit: number;
}

export interface RelayTelemetry {
  shipped(entries: number, outcome: ApplyOutcome, lagSeconds: readonly number[], stages: LagStages): void;
  /** Versions the lab's fault dropped or garbled in a batch. */
  injected?(dropped: number, corrupted: number): void;
  /** The source pruned changes the peer never applied; reconciliation brought the peer level. */
  caughtUp?(report: ReconcileReport): void;
  failed(error: unknown): void;
}

export interface ShipResult extends ApplyOutcome {
  entries: number;
  position: OutboxPosition;
}

/**
 * Batches in flight to the peer at once (see pump). The peer applies them one after another on one
 * connection, each with its synchronously replicated commit: 8 in flight made the queue there the
 * lag (p50 500 ms at 40 orders/s a region on the 2-core bench host), 2 keeps one crossing the WAN
 * while one applies.
 */
const PIPELINE_DEPTH = 2;
/**
 * How often the pump confirms its position at the source while it ships (and whenever it runs out
 * of work). The cursor only tells the source what it may prune (retention keeps rows for minutes);
 * the peer's position is what the relay resumes from. Confirming every batch cost the source one
 * synchronously replicated commit per batch.
 */
const CONFIRM_EVERY_MS = 500;
/**
 * The longest a relay waits for news in one statement before it reads the log anyway (a read also
 * keeps its readiness, lastCaughtUpAt, fresh). The waiting statement holds a snapshot, so back
 * vacuum's horizon, for as long: kept short.
 */
const NEWS_WAIT_MS = 250;

interface PreparedBatch {
  kind: "batch";
  entries: OutboxEntry[];
  batch: ShippedBatch;
  /** When the read that found these entries started, and when the batch was ready to send (Date.now()). */
  readAt: number;
  sentAt: number;
}

/**
 * Read with each log entry (OutboxLog.read's attach), in the log's statement: the current version of
 * the order or the slot ownership the entry names, once per aggregate (on its latest entry). One
 * round trip for the whole read; reading the versions after the log cost a second one (stage
 * "read" of the lag). Current, not as of the entry: the peer keeps the greater version, so a newer
 * one shipped early changes nothing when its own entry follows.
 */
const CURRENT_VERSIONS = `CASE WHEN NOT e.latest THEN NULL
  WHEN e.aggregate = 'order' THEN
    (SELECT ${COPY_JSON} FROM orders o LEFT JOIN payment p ON p.order_id = o.id WHERE o.id = e.aggregate_id)
  WHEN e.aggregate = 'slot' THEN
    (SELECT jsonb_build_object('slot', s.slot, 'region', s.region, 'epoch', s.epoch::int)
     FROM slot_owner s WHERE s.slot = e.aggregate_id::int)
  END`;

const NOTHING_APPLIED: ApplyOutcome = {
  inserted: 0,
  replaced: 0,
  kept: 0,
  conflicts: 0,
  keyCollisions: 0,
  slotsApplied: 0,
};

export class Relay {
  private position: OutboxPosition | undefined;
  private readonly log: OutboxLog;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private readonly wake = new AbortController();
  private readonly stopping = new Promise<void>((resolve) =>
    this.wake.signal.addEventListener("abort", () => resolve(), { once: true }),
  );
  /** The wait for news after a position, while one runs (see news). */
  private waiting: { after: OutboxPosition; news: Promise<boolean> } | undefined;
  private readonly poll: { firstMs: number; maxMs: number };
  /** When the relay last read the source to its horizon (for readiness: is it keeping up?). */
  lastCaughtUpAt: number | undefined;

  constructor(private readonly options: RelayOptions) {
    this.log = new OutboxLog(options.source.db);
    this.poll = { firstMs: options.pollMs, maxMs: options.pollMaxMs ?? options.pollMs };
  }

  /** The name of this stream in the source's outbox_cursor table. */
  get consumer(): string {
    return `relay:${this.options.peer.region}`;
  }

  /** Ships one batch (possibly empty). Throws on any failure; the next call resumes from the peer's position. */
  async shipOnce(): Promise<ShipResult> {
    try {
      const from = await this.resume();
      const next = await this.prepare(from);
      if (next.kind === "gap") await this.catchUp(next.prunedTo);
      if (next.kind !== "batch") return { entries: 0, position: this.position ?? from, ...NOTHING_APPLIED };
      const shipped = this.finish(next, await applyOrderCopies(this.options.peer.db, next.batch));
      // After the peer committed. A failure here loses nothing: the peer's position is the truth.
      await this.log.confirm(this.consumer, shipped.position);
      return shipped;
    } catch (error) {
      this.position = undefined;
      throw error;
    }
  }

  /**
   * Ships until it fails, with up to PIPELINE_DEPTH batches in flight: the next batch is read and
   * sent while the previous one crosses the WAN, so a change does not wait a round trip for the
   * batch ahead of it. Batches go over one connection, so the peer applies them in the order sent,
   * and each applies only where the one before it left the peer (`after`): if one fails, those
   * behind it write nothing, and the relay resumes from the peer's position.
   */
  private async pump(): Promise<void> {
    const { peer } = this.options;
    const connection = await peer.db.reserve();
    const inFlight: { prepared: PreparedBatch; applying: Promise<AppliedBatch> }[] = [];
    let confirmed = this.position;
    let confirmedAt = performance.now();
    const confirm = async () => {
      const position = this.position;
      if (!position || (confirmed && comparePositions(position, confirmed) <= 0)) return;
      await this.log.confirm(this.consumer, position);
      confirmed = position;
      confirmedAt = performance.now();
    };
    try {
      let sent = await this.resume();
      while (!this.stopped) {
        if (inFlight.length < PIPELINE_DEPTH) {
          const next = await this.prepare(sent);
          if (next.kind === "batch") {
            const applying = applyOrderCopies(connection, { ...next.batch, after: sent });
            applying.catch(() => {}); // awaited in turn below; a failure must not go unhandled meanwhile
            inFlight.push({ prepared: next, applying });
            sent = next.batch.position;
            continue;
          }
          if (next.kind === "gap" && inFlight.length === 0) {
            await this.catchUp(next.prunedTo);
            sent = next.prunedTo;
            continue;
          }
          if (inFlight.length === 0) {
            await confirm();
            await Promise.race([this.news(sent), this.stopping]);
            continue;
          }
          // Nothing new, batches in flight: read again on news unless the oldest comes back first.
          // Waiting for it instead held every change written meanwhile for a round trip. (A gap
          // waits for the batches in flight: the catch-up starts where they left the peer.)
          if (next.kind === "empty") {
            const oldestBack = (inFlight[0] as (typeof inFlight)[number]).applying.then(
              () => true,
              () => true,
            );
            const news = this.news(sent).then(
              () => false,
              () => false, // read again: the read meets the same failure and says so
            );
            if (!(await Promise.race([oldestBack, news]))) continue;
          }
        }
        const head = inFlight.shift() as (typeof inFlight)[number];
        const applied = await head.applying;
        if (!applied.applied)
          throw new Error(
            `${peer.region} was not where the batch before left it: resuming from its position`,
          );
        this.finish(head.prepared, applied);
        if (performance.now() - confirmedAt >= CONFIRM_EVERY_MS) await confirm();
      }
      await confirm();
    } finally {
      await Promise.allSettled(inFlight.map((f) => f.applying));
      connection.release();
    }
  }

  /**
   * Resolves when a read after `after` would find something, or after NEWS_WAIT_MS. A wait still
   * running for the same position is shared: the pump reads again whenever a batch comes back, and
   * starting a wait each time would leave the earlier ones holding the source's connections.
   */
  private news(after: OutboxPosition): Promise<boolean> {
    if (this.waiting && comparePositions(this.waiting.after, after) === 0) return this.waiting.news;
    const waiting = {
      after,
      news: this.log.waitForNews(after, NEWS_WAIT_MS, this.poll).finally(() => {
        if (this.waiting === waiting) this.waiting = undefined;
      }),
    };
    waiting.news.catch(() => {}); // a wait no one awaits any more may still fail
    this.waiting = waiting;
    return waiting.news;
  }

  /** Where to read from: where this relay got to, or the peer's position after a failure or a start. */
  private async resume(): Promise<OutboxPosition> {
    this.position ??= (await appliedPosition(this.options.peer.db, this.options.source.region)) ?? LOG_START;
    return this.position;
  }

  /** The next batch after `from`: its entries and the current versions they name, ready to ship. */
  private async prepare(
    from: OutboxPosition,
  ): Promise<PreparedBatch | { kind: "gap"; prunedTo: OutboxPosition } | { kind: "empty" }> {
    const { source, peer, batchSize } = this.options;
    const readAt = Date.now();
    const read = await this.log.read<OrderCopyJson | SlotOwnership>(
      from,
      batchSize,
      source.db.unsafe(CURRENT_VERSIONS),
    );
    if (read.prunedTo && comparePositions(from, read.prunedTo) < 0)
      return { kind: "gap", prunedTo: read.prunedTo };
    const last = read.entries.at(-1);
    if (read.entries.length < batchSize) this.lastCaughtUpAt = Date.now();
    if (!last) return { kind: "empty" };
    const copies: OrderCopy[] = [];
    const slots: SlotOwnership[] = [];
    for (const { aggregate, attached } of read.entries) {
      if (attached && aggregate === "order") copies.push(copyFromJson(attached as OrderCopyJson));
      if (attached && aggregate === "slot") slots.push(attached as SlotOwnership);
    }
    // In id and slot order: the lab's fault draws for each copy in turn, so a seeded run repeats.
    copies.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    slots.sort((a, b) => a.slot - b.slot);
    return {
      kind: "batch",
      readAt,
      sentAt: Date.now(),
      entries: read.entries,
      batch: {
        source: source.region,
        copies: this.injectFaults(copies),
        slots,
        position: { txid: last.txid, id: last.id },
        sourceAt: new Date(Math.max(...read.entries.map((e) => e.createdAt.getTime()))),
        resolvedBy: `relay ${source.region}->${peer.region}`,
      },
    };
  }

  /** After the peer committed a batch: the relay's position, telemetry, and (shipOnce) the source's cursor. */
  private finish(prepared: PreparedBatch, result: AppliedBatch): ShipResult {
    const { appliedAt, applied: _, ...outcome } = result;
    const { entries, batch } = prepared;
    this.position = batch.position;
    // To the apply at the peer, by the peer's clock (the reply's way back is not lag), from the
    // change's commit at the source, when a client could first have been told of it; from its
    // transaction's start where the source does not record commit times (then an upper bound).
    const changedAt = entries.map((e) => (e.committedAt ?? e.createdAt).getTime());
    this.options.telemetry?.shipped(
      entries.length,
      outcome,
      changedAt.map((at) => (appliedAt.getTime() - at) / 1000),
      {
        commit: entries.flatMap((e) =>
          e.committedAt ? [(e.committedAt.getTime() - e.createdAt.getTime()) / 1000] : [],
        ),
        sourceWait: changedAt.map((at) => (prepared.readAt - at) / 1000),
        read: (prepared.sentAt - prepared.readAt) / 1000,
        transit: (appliedAt.getTime() - prepared.sentAt) / 1000,
      },
    );
    return { entries: entries.length, position: batch.position, ...outcome };
  }

  /**
   * The source pruned changes this peer never applied (it was away longer than the retention
   * bound, or never read the log): the log cannot bring it level any more, reconciliation can.
   * Every order homed at the source is made the source's version at the peer, every slot's
   * ownership shipped (the higher epoch wins there), and only then the position moved past the
   * gap: a relay that dies in between reconciles again.
   */
  private async catchUp(prunedTo: OutboxPosition): Promise<void> {
    const { source, peer } = this.options;
    const report = await reconcile(
      { name: source.region, db: source.db },
      { name: peer.region, db: peer.db },
      { buckets: 64, graceMs: 0, repair: true, onlyHome: source.region },
    );
    await applyOrderCopies(peer.db, {
      source: source.region,
      copies: [],
      slots: await readAllSlots(source.db),
      position: prunedTo,
      sourceAt: new Date(),
      resolvedBy: `relay ${source.region}->${peer.region} (catch-up)`,
    });
    this.position = prunedTo;
    this.options.telemetry?.caughtUp?.(report);
  }

  private injectFaults(copies: OrderCopy[]): OrderCopy[] {
    const faults = this.options.faults;
    if (!faults || (faults.drop === 0 && faults.corrupt === 0)) return copies;
    const random = this.options.random ?? Math.random;
    let dropped = 0;
    let corrupted = 0;
    const shipped = copies.flatMap((copy) => {
      if (random() < faults.drop) {
        dropped++;
        return [];
      }
      if (random() < faults.corrupt) {
        corrupted++;
        return [{ ...copy, total: copy.total + 1 }];
      }
      return [copy];
    });
    this.options.telemetry?.injected?.(dropped, corrupted);
    return shipped;
  }

  /** Ships until stopped (pump), backing off and resuming from the peer's position after a failure. */
  start(): void {
    const policy = retry(handleAll, {
      maxAttempts: Number.POSITIVE_INFINITY,
      backoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: this.options.maxBackoffMs }),
    });
    policy.onRetry((event) => {
      if ("error" in event) this.options.telemetry?.failed(event.error);
    });
    this.loop ??= policy
      .execute(async ({ signal }) => {
        if (signal.aborted || this.stopped) return;
        try {
          await this.pump();
        } catch (error) {
          this.position = undefined;
          if (!this.stopped) throw error;
        }
      }, this.wake.signal)
      .catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake.abort();
    await this.loop;
  }

  /** Source outbox rows the peer has not applied yet (what the source must retain for it). */
  async backlog(): Promise<number> {
    const position =
      this.position ?? (await appliedPosition(this.options.peer.db, this.options.source.region)) ?? LOG_START;
    const [row] = await this.options.source.db<{ n: string }[]>`
      SELECT count(*)::text AS n FROM outbox WHERE (txid, id) > (${position.txid}::xid8, ${position.id}::bigint)`;
    return Number(row?.n ?? 0);
  }
}
