import { setTimeout as sleep } from "node:timers/promises";
import { ExponentialBackoff, handleAll, retry } from "cockatiel";
import type { Db } from "../db/pool.ts";
import { readSlots } from "../orders/slots.ts";
import {
  type ApplyOutcome,
  appliedPosition,
  applyOrderCopies,
  type OrderCopy,
  readOrderCopies,
} from "./order-copies.ts";
import { LOG_START, OutboxLog, type OutboxPosition } from "./outbox-log.ts";

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
  /** How long to wait before reading again when the log had nothing new. */
  idleMs: number;
  maxBackoffMs: number;
  telemetry?: RelayTelemetry;
  /**
   * The lab's fault (PUT /lab/replication-faults): shares of order versions lost or garbled on the
   * way, the position advancing all the same. Read on every batch; absent in a real deployment.
   */
  faults?: { drop: number; corrupt: number };
  random?: () => number;
}

export interface RelayTelemetry {
  shipped(entries: number, outcome: ApplyOutcome, lagSeconds: readonly number[]): void;
  /** Versions the lab's fault dropped or garbled in a batch. */
  injected?(dropped: number, corrupted: number): void;
  failed(error: unknown): void;
}

export interface ShipResult extends ApplyOutcome {
  entries: number;
  position: OutboxPosition;
}

export class Relay {
  private position: OutboxPosition | undefined;
  private readonly log: OutboxLog;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private readonly wake = new AbortController();
  /** When the relay last read the source to its horizon (for readiness: is it keeping up?). */
  lastCaughtUpAt: number | undefined;

  constructor(private readonly options: RelayOptions) {
    this.log = new OutboxLog(options.source.db);
  }

  /** The name of this stream in the source's outbox_cursor table. */
  get consumer(): string {
    return `relay:${this.options.peer.region}`;
  }

  /** Ships one batch (possibly empty). Throws on any failure; the next call resumes from the peer's position. */
  async shipOnce(): Promise<ShipResult> {
    const { source, peer, batchSize } = this.options;
    try {
      this.position ??= (await appliedPosition(peer.db, source.region)) ?? LOG_START;
      const read = await this.log.read(this.position, batchSize);
      const last = read.entries.at(-1);
      if (!last) {
        this.lastCaughtUpAt = Date.now();
        return {
          entries: 0,
          position: this.position,
          inserted: 0,
          replaced: 0,
          kept: 0,
          conflicts: 0,
          keyCollisions: 0,
          slotsApplied: 0,
        };
      }
      const ids = [...new Set(read.entries.filter((e) => e.aggregate === "order").map((e) => e.aggregateId))];
      const copies = this.injectFaults(await readOrderCopies(source.db, ids));
      const slotIds = [
        ...new Set(read.entries.filter((e) => e.aggregate === "slot").map((e) => Number(e.aggregateId))),
      ];
      const slots = await readSlots(source.db, slotIds);
      const position = { txid: last.txid, id: last.id };
      const sourceAt = new Date(Math.max(...read.entries.map((e) => e.createdAt.getTime())));
      const outcome = await applyOrderCopies(peer.db, {
        source: source.region,
        copies,
        slots,
        position,
        sourceAt,
        resolvedBy: `relay ${source.region}->${peer.region}`,
      });
      this.position = position;
      const now = Date.now();
      this.options.telemetry?.shipped(
        read.entries.length,
        outcome,
        read.entries.map((e) => (now - e.createdAt.getTime()) / 1000),
      );
      if (read.entries.length < batchSize) this.lastCaughtUpAt = now;
      // After the peer committed. A failure here loses nothing: the peer's position is the truth.
      await this.log.confirm(this.consumer, position);
      return { entries: read.entries.length, position, ...outcome };
    } catch (error) {
      this.position = undefined;
      throw error;
    }
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

  /** Ships until stopped: at once while there is a backlog, every `idleMs` otherwise, backing off on failures. */
  start(): void {
    const policy = retry(handleAll, {
      maxAttempts: Number.POSITIVE_INFINITY,
      backoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: this.options.maxBackoffMs }),
    });
    policy.onRetry((event) => {
      if ("error" in event) this.options.telemetry?.failed(event.error);
    });
    this.loop ??= (async () => {
      while (!this.stopped) {
        const shipped = await policy
          .execute(
            ({ signal }) => (signal.aborted ? Promise.resolve(undefined) : this.shipOnce()),
            this.wake.signal,
          )
          .catch(() => undefined);
        if (this.stopped) break;
        if (!shipped || shipped.entries < this.options.batchSize)
          await sleep(this.options.idleMs, undefined, { signal: this.wake.signal }).catch(() => {});
      }
    })();
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
