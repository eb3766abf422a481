import type { FastifyBaseLogger as Logger } from "fastify";
import type { PaymentClient } from "../payments/client.ts";
import type { OrderStore } from "./store.ts";

export interface VoidWatchOptions {
  /** How often an order with no authorization yet is looked at again while its window lasts. */
  recheckMs: number;
  /** Watches checked in one pass. */
  batch?: number;
}

/**
 * Makes sure no cancelled order keeps an authorization open at the payment provider.
 *
 * An order cancelled after it sent an authorize (a timeout, an error, the breaker) may have an
 * authorization the shop never heard of — and a provider may still apply that authorize after the
 * shop gave up, even after the shop's void found nothing. So the void is durable: the cancellation
 * writes a watch row (OrderStore.finishCancel), and every pass of the recovery loop voids the due
 * watches until the provider confirms: the authorization is voided or was declined (a late
 * authorize is then a replay and opens nothing), or none appeared by the end of the window. A void
 * that fails is retried on a later pass, by any instance.
 */
export class VoidWatch {
  private readonly checking = new Set<string>();

  constructor(
    private readonly store: OrderStore,
    private readonly payments: PaymentClient,
    private readonly log: Logger,
    private readonly options: VoidWatchOptions,
  ) {}

  /** One pass: claim the due watches and check each. Returns how many were claimed. */
  async runOnce(): Promise<number> {
    const due = await this.store.claimVoidWatches(this.options.batch ?? 50);
    await Promise.all(due.map(({ orderId, windowOver }) => this.check(orderId, windowOver)));
    return due.length;
  }

  /** Voids the order's authorization now if it can; whatever it cannot settle stays watched. */
  async check(orderId: string, windowOver = false): Promise<void> {
    if (this.checking.has(orderId)) return;
    this.checking.add(orderId);
    try {
      await this.checkOnce(orderId, windowOver);
    } catch (error) {
      // The watch stays open; its claim lease brings it back to a later pass.
      this.log.warn({ err: error, orderId, resilience_stage: "void_watch" }, "void not confirmed yet");
    } finally {
      this.checking.delete(orderId);
    }
  }

  private async checkOnce(orderId: string, windowOver: boolean): Promise<void> {
    const { store, payments } = this;
    const voided = await payments.void(orderId);
    if (voided.kind === "done") return store.closeVoidWatch(orderId, "voided", "VOIDED");
    if (voided.kind === "not_found") {
      if (windowOver) return store.closeVoidWatch(orderId, "none");
      return store.recheckVoidWatch(orderId, this.options.recheckMs);
    }
    switch (voided.state) {
      case "VOIDED":
        return store.closeVoidWatch(orderId, "voided", "VOIDED");
      case "DECLINED":
        return store.closeVoidWatch(orderId, "declined");
      case "REFUNDED":
        return store.closeVoidWatch(orderId, "refunded", "REFUNDED");
      case "CAPTURED": {
        // Only a PAID order is ever captured, and its cancellation settles the payment itself; a
        // capture here is a defect elsewhere, but the customer's money still goes back.
        this.log.error({ orderId, resilience_stage: "void_watch" }, "captured payment on a cancelled order");
        const refunded = await payments.refund(orderId);
        if (refunded.kind === "done") return store.closeVoidWatch(orderId, "refunded", "REFUNDED");
        throw new Error(`refund of ${orderId} answered ${JSON.stringify(refunded)}`);
      }
      default:
        throw new Error(`void of ${orderId} answered ${JSON.stringify(voided)}`);
    }
  }
}
