import type { FastifyBaseLogger as Logger } from "fastify";
import type { BuiltInBug } from "../built-in-bugs.ts";
import { formatHlc, type HybridLogicalClock } from "../domain/hlc.ts";
import {
  type ActiveState,
  type CancelReason,
  cancellationMustSettlePayment,
  isTerminal,
  type OrderState,
} from "../domain/order.ts";
import type { ReserveResult, SettleResult } from "../inventory/client.ts";
import type { PaymentClient } from "../payments/client.ts";
import { DependencyError } from "../resilience/policies.ts";
import type { InventoryPort } from "./gated-inventory.ts";
import type { OrderStore, OutboxEvent, ShopPaymentState, StoredOrder } from "./store.ts";
import type { VoidWatch } from "./void-watch.ts";

export interface SagaEvents {
  settled?(order: StoredOrder): void;
  step?(state: OrderState, ms: number): void;
}

export interface SagaDeps {
  store: OrderStore;
  inventory: InventoryPort;
  payments: PaymentClient;
  clock: HybridLogicalClock;
  log: Logger;
  events?: SagaEvents;
  /** The lab's regression guard (src/shop/built-in-bugs.ts); undefined in the real shop. */
  builtInBug?: BuiltInBug;
  /**
   * Voids of cancelled orders that sent an authorize: watched for `windowMs` (how late the provider
   * may still apply an authorize), first checked at once by `watch`, then by the recovery loop.
   */
  voids: { windowMs: number; watch?: Pick<VoidWatch, "check"> };
}

/** False only for a dependency call that certainly never left this process. */
function mayHaveReached(error: unknown): boolean {
  return !(error instanceof DependencyError) || error.mayHaveReachedDependency;
}

/** An authorize is sent only from RESERVED: an order cancelled before it never reached the provider. */
function authorizeMayHaveBeenSent(state: ActiveState): boolean {
  return state !== "PENDING";
}

/** The order after a step, or undefined when the step's transition did not apply. */
type Step = StoredOrder | undefined;

/** What one run of the saga knows beyond the stored order. */
interface RunState {
  /**
   * Whether a reserve of this order may have reached the inventory. A run that placed the order
   * starts at false (nobody drove it before) and sets it once a reserve attempt starts; any other
   * run (recovery, a replay, a restarted process) cannot know, and starts at true.
   */
  reserveMayHaveBeenSent: boolean;
}

/** More steps than any legal path takes; a saga exceeding it is reported instead of spinning. */
const MAX_STEPS = 16;

/**
 * Drives orders through the saga of docs/architecture.md §Saga. Every step acts on a dependency (each call
 * idempotent by order id), then persists the result with a conditional transition, so several
 * drivers (the request, the recovery loop, a restarted process) can race safely: a driver that
 * loses a transition re-reads the order and continues from whatever state won.
 *
 * Compensation releases stock first: once the release has landed no commit can succeed, which makes
 * the cancellation irrevocable before any money moves. If a commit beat it, the order was paid and
 * fulfilled, and is confirmed instead.
 */
export class OrderSaga {
  private readonly driving = new Map<string, Promise<StoredOrder>>();

  constructor(private readonly deps: SagaDeps) {}

  /**
   * Drives the order to a terminal state; concurrent calls for one order share one run. `known` is
   * the order as the caller just read or wrote it, which saves the first read; `placedNow` says the
   * caller has just created it, so no reserve of it can have been sent before this run.
   */
  drive(id: string, requestId?: string, known?: StoredOrder, placedNow = false): Promise<StoredOrder> {
    let run = this.driving.get(id);
    if (!run) {
      const state: RunState = { reserveMayHaveBeenSent: !placedNow };
      run = this.run(id, state, requestId, known).finally(() => this.driving.delete(id));
      this.driving.set(id, run);
    }
    return run;
  }

  get inFlight(): number {
    return this.driving.size;
  }

  /** The orders this process is driving now (whose leases it keeps renewing). */
  drivingIds(): string[] {
    return [...this.driving.keys()];
  }

  /** Waits for every saga this process is driving (for graceful shutdown). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.driving.values()]);
  }

  /**
   * Each step returns the order as its transition left it, or undefined when the transition did
   * not apply (another driver moved the order first) — then the order is read again.
   */
  private async run(
    id: string,
    state: RunState,
    requestId?: string,
    known?: StoredOrder,
  ): Promise<StoredOrder> {
    const log = this.deps.log.child({ orderId: id, reqId: requestId });
    let order = known ?? (await this.load(id));
    for (let step = 0; step < MAX_STEPS; step++) {
      if (isTerminal(order.state)) {
        this.deps.events?.settled?.(order);
        return order;
      }
      const started = performance.now();
      const next = order.cancelReason
        ? await this.compensate(order, state, log, requestId)
        : await this.forward(order, state, log, requestId);
      this.deps.events?.step?.(order.state, performance.now() - started);
      order = next ?? (await this.load(id));
    }
    throw new Error(`order ${id} did not settle within ${MAX_STEPS} steps`);
  }

  private async load(id: string): Promise<StoredOrder> {
    const order = await this.deps.store.get(id);
    if (!order) throw new Error(`order ${id} not found`);
    return order;
  }

  private forward(order: StoredOrder, state: RunState, log: Logger, requestId?: string): Promise<Step> {
    switch (order.state) {
      case "PENDING":
        return this.reserve(order, state, log, requestId);
      case "RESERVED":
        return this.authorize(order, log, requestId);
      case "PAID":
        return this.confirm(order, log, requestId);
      default:
        return Promise.resolve(undefined);
    }
  }

  private async reserve(order: StoredOrder, state: RunState, log: Logger, requestId?: string): Promise<Step> {
    const { inventory, store } = this.deps;
    const results = await Promise.allSettled(
      order.items.map((item) => inventory.reserve(order.id, item.sku, item.qty, requestId)),
    );
    if (results.some((r) => r.status === "fulfilled" || mayHaveReached(r.reason))) {
      state.reserveMayHaveBeenSent = true;
    }
    const failed = results.find((r) => r.status === "rejected");
    if (failed) {
      log.warn({ err: failed.reason, fallback_source: "compensation" }, "inventory unavailable, cancelling");
      return this.decideCancel(order, "inventory_unavailable");
    }
    const rejection = results
      .map((r) => (r as PromiseFulfilledResult<ReserveResult>).value)
      .find((r) => r.kind === "rejected");
    if (rejection?.kind === "rejected") {
      return this.decideCancel(order, rejection.reason === "unknown_sku" ? "unknown_sku" : "sold_out");
    }
    const reserved = await store.advance(
      order.id,
      "PENDING",
      "RESERVED",
      this.event("StockReserved", { items: order.items }),
    );
    if (!reserved) await this.releaseIfCancelled(order.id, log, requestId);
    return reserved;
  }

  /**
   * This run's reserve was granted but another driver moved the order first. If that driver
   * cancelled it, it may have done so without a release (its own reserves never sent): the units
   * this run reserved are released here, whoever else also releases (a release is idempotent).
   */
  private async releaseIfCancelled(id: string, log: Logger, requestId?: string): Promise<void> {
    const now = await this.deps.store.get(id);
    if (!now || now.state === "CONFIRMED" || (!now.cancelReason && now.state !== "CANCELLED")) return;
    await this.deps.inventory.release(id, requestId).catch((error: unknown) => {
      // Left to the reservation's expiry, which returns the units.
      log.warn({ err: error, resilience_stage: "compensation" }, "release after a lost race failed");
    });
  }

  private async authorize(order: StoredOrder, log: Logger, requestId?: string): Promise<Step> {
    let result: Awaited<ReturnType<PaymentClient["authorize"]>>;
    try {
      result = await this.deps.payments.authorize(order.id, order.total, requestId);
    } catch (error) {
      log.warn({ err: error, fallback_source: "compensation" }, "payment unavailable, cancelling");
      return this.decideCancel(order, "payment_unavailable");
    }
    if (result.kind === "declined") return this.decideCancel(order, "payment_declined");
    if (result.kind === "conflict") return this.decideCancel(order, "payment_unavailable");
    return this.deps.store.advance(
      order.id,
      "RESERVED",
      "PAID",
      this.event("PaymentAuthorized", { amount: order.total, providerRef: result.providerRef }),
      { state: "AUTHORIZED", amount: order.total, providerRef: result.providerRef },
    );
  }

  /**
   * Capture first, then commit the stock: a capture without stock is refunded; stock cannot be
   * un-sold. The capture is recorded together with the confirmation: until then the provider's
   * journal is the record of it, and a cancellation of a PAID order refunds whatever was captured.
   */
  private async confirm(order: StoredOrder, log: Logger, requestId?: string): Promise<Step> {
    const { payments, inventory, store } = this.deps;
    let capture: Awaited<ReturnType<PaymentClient["capture"]>>;
    try {
      capture = await payments.capture(order.id, requestId);
    } catch (error) {
      log.warn({ err: error, fallback_source: "compensation" }, "capture failed, cancelling");
      return this.decideCancel(order, "payment_unavailable");
    }
    if (capture.kind !== "done") return this.decideCancel(order, "payment_unavailable");
    // An inventory outage here leaves the order PAID; this driver or the recovery loop retries the commit.
    const commit = await inventory.commit(order.id, requestId);
    if (commit.kind !== "done") return this.decideCancel(order, "reservation_expired");
    return store.advance(
      order.id,
      "PAID",
      "CONFIRMED",
      this.event("OrderConfirmed", { total: order.total }),
      {
        state: "CAPTURED",
        amount: order.total,
      },
    );
  }

  private decideCancel(order: StoredOrder, reason: CancelReason): Promise<Step> {
    return this.deps.store.decideCancel(
      order.id,
      reason,
      this.event("CancellationDecided", { reason, from: order.state }),
    );
  }

  private async compensate(
    order: StoredOrder,
    run: RunState,
    log: Logger,
    requestId?: string,
  ): Promise<Step> {
    const { inventory, payments, store } = this.deps;
    const state = order.state as ActiveState;
    log.info({ resilience_stage: "compensation", reason: order.cancelReason }, "compensating");

    // Nothing to release when no reserve of this order can have reached the inventory (its run
    // placed it and every reserve was refused before it was sent: breaker open, bulkhead full). The
    // release would be one more call per refused order, all sent at once when the breaker closes:
    // after an inventory outage that flood kept the inventory overloaded and the breaker reopening
    // for seconds after the outage ended.
    const nothingReserved = state === "PENDING" && !run.reserveMayHaveBeenSent;
    // Built-in bug "no-compensation" (lab regression guard): a payment failure cancels the order
    // without releasing its stock, which stays reserved until the reservation expires.
    const release: SettleResult =
      nothingReserved ||
      (this.deps.builtInBug === "no-compensation" && order.cancelReason?.startsWith("payment_"))
        ? { kind: "done" }
        : await inventory.release(order.id, requestId);
    if (release.kind === "conflict" && release.state === "COMMITTED") {
      const capture = await payments.capture(order.id, requestId);
      if (capture.kind !== "done") {
        throw new Error(`order ${order.id}: stock committed but capture answered ${JSON.stringify(capture)}`);
      }
      log.warn(
        { resilience_stage: "compensation" },
        "stock already committed: confirming instead of cancelling",
      );
      return store.confirmDespiteCancel(
        order.id,
        this.event("OrderConfirmed", { total: order.total }),
        order.total,
      );
    }

    const cancelled = this.event("OrderCancelled", { reason: order.cancelReason });
    if (cancellationMustSettlePayment(state)) {
      const payment = { state: await this.settlePayment(order.id, requestId), amount: order.total };
      return store.finishCancel(order.id, cancelled, payment);
    }
    if (!authorizeMayHaveBeenSent(state)) return store.finishCancel(order.id, cancelled);
    // An authorize was sent and its outcome is not known to be final: the void is durable
    // (void-watch.ts). The order is cancelled now; its payment stays watched until the provider
    // confirms no authorization is open.
    const finished = await store.finishCancel(order.id, cancelled, undefined, this.deps.voids.windowMs);
    if (finished) {
      this.deps.voids.watch?.check(order.id).catch((error) => {
        log.warn({ err: error, resilience_stage: "void_watch" }, "first void check failed");
      });
    }
    return finished;
  }

  /** Void an authorisation, or refund a capture; throws (retried later) until the provider confirms. */
  private async settlePayment(orderId: string, requestId?: string): Promise<ShopPaymentState> {
    const { payments } = this.deps;
    const voided = await payments.void(orderId, requestId);
    if (voided.kind === "done" || voided.kind === "not_found") return "VOIDED";
    if (voided.state === "VOIDED" || voided.state === "REFUNDED") return voided.state;
    if (voided.state === "DECLINED") return "VOIDED";
    const refunded = await payments.refund(orderId, requestId);
    if (refunded.kind === "done") return "REFUNDED";
    throw new DependencyError("payment", `cannot settle payment of ${orderId}: ${JSON.stringify(refunded)}`);
  }

  private event(event: string, payload: Record<string, unknown>): OutboxEvent {
    return { event, payload, hlc: formatHlc(this.deps.clock.now()) };
  }
}
