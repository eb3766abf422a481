import type { FastifyBaseLogger as Logger } from "fastify";
import type { OrderSaga } from "./saga.ts";
import type { OrderStore } from "./store.ts";

/**
 * Drives forward (or back) the in-flight orders nobody is driving any more: their driver crashed,
 * was paused past its lease, or gave up on an unavailable dependency. Safe to run in every instance:
 * claims use SKIP LOCKED and leases, and the saga itself tolerates racing drivers.
 */
export class RecoveryLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly store: OrderStore,
    private readonly saga: OrderSaga,
    private readonly log: Logger,
    private readonly intervalMs: number,
    private readonly batch = 50,
    private readonly onRecovered: (count: number) => void = () => {},
  ) {}

  start(): void {
    this.timer ??= setInterval(() => {
      this.running ??= this.runOnce()
        .then(() => {})
        .catch((error) => this.log.warn({ err: error, resilience_stage: "recovery" }, "recovery pass failed"))
        .finally(() => {
          this.running = undefined;
        });
    }, this.intervalMs);
    this.timer.unref();
  }

  /** One pass: claim stale orders and drive each to a terminal state. Returns how many were claimed. */
  async runOnce(): Promise<number> {
    const ids = await this.store.claimStale(this.batch);
    if (ids.length === 0) return 0;
    this.log.info({ resilience_stage: "recovery", orders: ids.length }, "recovering stale orders");
    this.onRecovered(ids.length);
    const results = await Promise.allSettled(ids.map((id) => this.saga.drive(id)));
    for (const [i, result] of results.entries()) {
      if (result.status === "rejected") {
        this.log.warn(
          { err: result.reason, orderId: ids[i], resilience_stage: "recovery" },
          "order still unsettled",
        );
      }
    }
    return ids.length;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
