import { Counter, Histogram, type Registry } from "prom-client";
import type { EngineEvents } from "./engine.ts";

/** Engine events as Prometheus metrics. */
export function inventoryMetrics(registry: Registry): EngineEvents {
  const batchSize = new Histogram({
    name: "chaoscart_inventory_batch_size",
    help: "Reservations decided per coalesced batch",
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
    registers: [registry],
  });
  const batchSeconds = new Histogram({
    name: "chaoscart_inventory_batch_seconds",
    help: "Duration of one batch transaction, commit included",
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1],
    registers: [registry],
  });
  const outcomes = new Counter({
    name: "chaoscart_inventory_reservations_total",
    help: "Reserve outcomes by result and reason",
    labelNames: ["result", "reason"],
    registers: [registry],
  });
  const swept = new Counter({
    name: "chaoscart_inventory_expired_released_total",
    help: "HELD reservations released by the expiry sweeper",
    registers: [registry],
  });
  const errors = new Counter({
    name: "chaoscart_inventory_background_errors_total",
    help: "Errors in background work (sweeper, sold-out cache)",
    labelNames: ["context"],
    registers: [registry],
  });
  return {
    batch(_sku, size, _granted, ms) {
      batchSize.observe(size);
      batchSeconds.observe(ms / 1000);
    },
    outcome(outcome) {
      if (outcome.kind === "granted")
        outcomes.inc({ result: outcome.replay ? "replay" : "granted", reason: "" });
      else outcomes.inc({ result: "rejected", reason: outcome.reason });
    },
    swept(rows) {
      swept.inc(rows.length);
    },
    error(context) {
      errors.inc({ context });
    },
  };
}
