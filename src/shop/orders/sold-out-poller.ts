import type { FastifyBaseLogger as Logger } from "fastify";
import type { SoldOutGate } from "./sold-out-gate.ts";

export interface SoldOutPollerOptions {
  gate: SoldOutGate;
  /** Units on sale now per SKU (the inventory's `GET /stock?skus=`); SKUs it does not stock are left out. */
  available(skus: readonly string[], signal: AbortSignal): Promise<Map<string, number>>;
  intervalMs: number;
  timeoutMs: number;
  log: Logger;
  onPoll?(result: "ok" | "failed"): void;
  now?: () => number;
}

/**
 * While any SKU is gated, asks the inventory every `intervalMs` how many units of the gated SKUs are
 * on sale: a SKU with any opens, one with none stays gated (a TTL from this poll's send). One poll
 * at a time; a failed poll changes nothing, and the gate's TTL then bounds the staleness alone.
 * Costs nothing while nothing is gated.
 */
export class SoldOutPoller {
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;

  constructor(private readonly options: SoldOutPollerOptions) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.polling ??= this.pollOnce().finally(() => {
        this.polling = undefined;
      });
    }, this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.polling;
  }

  async pollOnce(): Promise<void> {
    const { gate, log } = this.options;
    const now = this.options.now ?? (() => performance.now());
    const skus = gate.gatedSkus(now());
    if (skus.length === 0) return;
    const sentAt = now();
    let available: Map<string, number>;
    try {
      available = await this.options.available(skus, AbortSignal.timeout(this.options.timeoutMs));
    } catch (error) {
      this.options.onPoll?.("failed");
      log.debug({ err: error, skus: skus.length }, "sold-out gate poll failed; marks expire on their TTL");
      return;
    }
    this.options.onPoll?.("ok");
    gate.returned(skus.filter((sku) => (available.get(sku) ?? 0) > 0));
    gate.confirmed(
      skus.filter((sku) => available.get(sku) === 0),
      sentAt,
    );
  }
}
