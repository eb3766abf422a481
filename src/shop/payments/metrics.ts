import { Counter, Gauge, type Registry } from "prom-client";
import type { FaultKnobs } from "./faults.ts";
import type { Operation, Payment, PaymentState } from "./provider.ts";

export type OperationResult = "applied" | "replay" | "declined" | "conflict" | "not_found";

export interface PaymentMetrics {
  operation(operation: Operation, result: OperationResult): void;
  injected(operation: Operation | "get", when: "before" | "after", status: number): void;
  captured(): void;
  /** Every `/payments` request that arrived: served or shed for want of capacity, first or a repeat. */
  received(operation: Operation | "get", shed: boolean, repeat: boolean): void;
}

export interface PaymentMetricsSources {
  payments(): Iterable<Payment>;
  knobs(): FaultKnobs;
}

const STATES: PaymentState[] = ["AUTHORIZED", "CAPTURED", "VOIDED", "REFUNDED", "DECLINED"];

/** Simulator operations, injected faults and stored payments as Prometheus metrics. */
export function paymentMetrics(registry: Registry, sources: PaymentMetricsSources): PaymentMetrics {
  const operations = new Counter({
    name: "chaoscart_payment_operations_total",
    help: "Payment operations by type and result (injected errors not included)",
    labelNames: ["operation", "result"],
    registers: [registry],
  });
  const injected = new Counter({
    name: "chaoscart_payment_injected_errors_total",
    help: "Errors injected by the fault knobs, by operation and by whether the operation was applied",
    labelNames: ["operation", "when", "status"],
    registers: [registry],
  });
  const received = new Counter({
    name: "chaoscart_payment_requests_total",
    help: "Payment API requests received, by operation, served or shed (capacity knob), and whether the same operation on the same order came before (a retry)",
    labelNames: ["operation", "result", "attempt"],
    registers: [registry],
  });
  const captures = new Counter({
    name: "chaoscart_payment_captures_total",
    help: "Captures applied (at most one per order, ever)",
    registers: [registry],
  });
  new Gauge({
    name: "chaoscart_payment_payments",
    help: "Stored payments by state",
    labelNames: ["state"],
    registers: [registry],
    collect() {
      const counts = new Map<PaymentState, number>(STATES.map((state) => [state, 0]));
      for (const payment of sources.payments()) {
        counts.set(payment.state, (counts.get(payment.state) ?? 0) + 1);
      }
      for (const [state, count] of counts) this.set({ state }, count);
    },
  });
  new Gauge({
    name: "chaoscart_payment_fault_knob",
    help: "Current fault knobs (latency_ms, jitter_ms, error_rate, error_status, decline_rate, capacity)",
    labelNames: ["knob"],
    registers: [registry],
    collect() {
      const knobs = sources.knobs();
      this.set({ knob: "latency_ms" }, knobs.latencyMs);
      this.set({ knob: "jitter_ms" }, knobs.jitterMs);
      this.set({ knob: "error_rate" }, knobs.errorRate);
      this.set({ knob: "error_status" }, knobs.errorStatus);
      this.set({ knob: "decline_rate" }, knobs.declineRate);
      this.set({ knob: "capacity" }, knobs.capacity);
    },
  });
  return {
    operation(operation, result) {
      operations.inc({ operation, result });
    },
    injected(operation, when, status) {
      injected.inc({ operation, when, status: String(status) });
    },
    captured() {
      captures.inc();
    },
    received(operation, shed, repeat) {
      received.inc({ operation, result: shed ? "shed" : "served", attempt: repeat ? "repeat" : "first" });
    },
  };
}
