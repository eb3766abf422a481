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
  private running: Promise<unknown> | undefined;
  /**
   * Orders this loop is driving. A pass claims only up to `batch` minus these and never waits for
   * them: one drive stuck on a dependency must not hold up the recovery of every other stale order.
   */
  private readonly recovering = new Set<string>();

  constructor(
    private readonly store: OrderStore,
    private readonly saga: OrderSaga,
    private readonly log: Logger,
    private readonly intervalMs: number,
    private readonly batch = 50,
    private readonly onRecovered: (count: number) => void = () => {},
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  start(): void {
    this.timer ??= setInterval(() => {
      this.running ??= this.runOnce()
        .then(() => {})
        .catch((error) => {
          this.onError(error);
          this.log.warn({ err: error, resilience_stage: "recovery" }, "recovery pass failed");
        })
        .finally(() => {
          this.running = undefined;
        });
    }, this.intervalMs);
    this.timer.unref();
  }

  /** One pass: claim stale orders and start driving each to a terminal state. Returns how many were claimed. */
  async runOnce(): Promise<number> {
    const room = this.batch - this.recovering.size;
    if (room <= 0) return 0;
    const ids = (await this.store.claimStale(room)).filter((id) => !this.recovering.has(id));
    if (ids.length === 0) return 0;
    this.log.info({ resilience_stage: "recovery", orders: ids.length }, "recovering stale orders");
    this.onRecovered(ids.length);
    for (const id of ids) {
      this.recovering.add(id);
      this.saga
        .drive(id)
        .catch((error) => {
          this.onError(error);
          this.log.warn({ err: error, orderId: id, resilience_stage: "recovery" }, "order still unsettled");
        })
        .finally(() => this.recovering.delete(id));
    }
    return ids.length;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
