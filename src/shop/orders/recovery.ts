import type { FastifyBaseLogger as Logger } from "fastify";
import type { OrderSaga } from "./saga.ts";
import type { OrderStore } from "./store.ts";
import type { VoidWatch } from "./void-watch.ts";

export interface RecoveryLoopOptions {
  store: OrderStore;
  saga: OrderSaga;
  /** Durable voids of cancelled orders' authorizations; checked on every pass. */
  voidWatch?: VoidWatch;
  log: Logger;
  intervalMs: number;
  /** Stale orders driven at once by this loop. */
  batch?: number;
  onRecovered?: (count: number) => void;
  onError?: (error: unknown) => void;
}

/**
 * Keeps every order moving. Each pass:
 * - renews the leases of the orders this process is driving, so a live driver keeps its orders
 *   however long a step takes, and a dead one loses them one lease after its last renewal (the
 *   lease can then be short: a killed instance's orders are taken over within seconds);
 * - claims in-flight orders nobody is driving any more (their driver crashed, was paused past its
 *   lease, or gave up on an unavailable dependency) and drives each to a terminal state;
 * - checks the due void watches of cancelled orders (void-watch.ts).
 * Safe to run in every instance: claims use SKIP LOCKED and leases, and the saga itself tolerates
 * racing drivers.
 */
export class RecoveryLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  /**
   * Orders this loop is driving. A pass claims only up to `batch` minus these and never waits for
   * them: one drive stuck on a dependency must not hold up the recovery of every other stale order.
   */
  private readonly recovering = new Set<string>();

  constructor(private readonly options: RecoveryLoopOptions) {}

  start(): void {
    this.timer ??= setInterval(() => {
      this.running ??= this.pass()
        .catch((error) => {
          this.options.onError?.(error);
          this.options.log.warn({ err: error, resilience_stage: "recovery" }, "recovery pass failed");
        })
        .finally(() => {
          this.running = undefined;
        });
    }, this.options.intervalMs);
    this.timer.unref();
  }

  private async pass(): Promise<void> {
    const { store, saga, voidWatch } = this.options;
    const driving = saga.drivingIds();
    if (driving.length > 0) await store.renewLeases(driving);
    await this.runOnce();
    await voidWatch?.runOnce();
  }

  /** Claims stale orders and starts driving each to a terminal state. Returns how many were claimed. */
  async runOnce(): Promise<number> {
    const { store, saga, log } = this.options;
    const room = (this.options.batch ?? 50) - this.recovering.size;
    if (room <= 0) return 0;
    const ids = (await store.claimStale(room)).filter((id) => !this.recovering.has(id));
    if (ids.length === 0) return 0;
    log.info({ resilience_stage: "recovery", orders: ids.length }, "recovering stale orders");
    this.options.onRecovered?.(ids.length);
    for (const id of ids) {
      this.recovering.add(id);
      saga
        .drive(id)
        .catch((error) => {
          this.options.onError?.(error);
          log.warn({ err: error, orderId: id, resilience_stage: "recovery" }, "order still unsettled");
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
