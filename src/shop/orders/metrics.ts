import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { SagaEvents } from "./saga.ts";

export function orderMetrics(registry: Registry, inFlight: () => number) {
  const settled = new Counter({
    name: "chaoscart_orders_settled_total",
    help: "Orders that reached a terminal state, by state and cancel reason",
    labelNames: ["state", "reason"],
    registers: [registry],
  });
  const steps = new Histogram({
    name: "chaoscart_saga_step_seconds",
    help: "Duration of one saga step, by the state it started from",
    labelNames: ["from"],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const recovered = new Counter({
    name: "chaoscart_orders_recovered_total",
    help: "In-flight orders claimed by the recovery loop",
    registers: [registry],
  });
  new Gauge({
    name: "chaoscart_sagas_in_flight",
    help: "Sagas this process is driving",
    registers: [registry],
    collect() {
      this.set(inFlight());
    },
  });
  const events: SagaEvents = {
    settled(order) {
      settled.inc({ state: order.state, reason: order.cancelReason ?? "" });
    },
    step(state, ms) {
      steps.observe({ from: state }, ms / 1000);
    },
  };
  return { events, recovered: (n: number) => recovered.inc(n) };
}

/** Group commit of the saga's writes (src/shop/db/group-commit.ts): statements sent, and writes in them, by kind. */
export function groupCommitMetrics(
  registry: Registry,
  kinds: Record<string, { readonly sent: { batches: number; items: number } }>,
) {
  new Counter({
    name: "chaoscart_order_group_commit_batches_total",
    help: "Statements (and commits) that carried the saga's placements (kind=place), forward steps (kind=advance) or the inventory calls carrying reserves (kind=inventory_reserve) or commits (kind=inventory_commit)",
    labelNames: ["kind"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [kind, group] of Object.entries(kinds)) this.inc({ kind }, group.sent.batches);
    },
  });
  new Counter({
    name: "chaoscart_order_group_commit_writes_total",
    help: "Placements, forward steps, reserves or commits those statements or calls carried (writes ÷ batches is the mean batch size)",
    labelNames: ["kind"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [kind, group] of Object.entries(kinds)) this.inc({ kind }, group.sent.items);
    },
  });
}

/** The sold-out gate (README "The sold-out gate"): what it answered, what it holds, how its polls go. */
export function soldOutGateMetrics(registry: Registry, gatedSkus: () => number) {
  const gated = new Counter({
    name: "chaoscart_orders_gated_total",
    help: "New orders answered 409 sold_out by the sold-out gate, from memory, nothing written; by the gated SKU",
    labelNames: ["sku"],
    registers: [registry],
  });
  const polls = new Counter({
    name: "chaoscart_sold_out_gate_polls_total",
    help: "The sold-out gate's availability reads of its gated SKUs, by result",
    labelNames: ["result"],
    registers: [registry],
  });
  new Gauge({
    name: "chaoscart_sold_out_gate_skus",
    help: "SKUs the sold-out gate holds state for (gated, or with a reserve in flight)",
    registers: [registry],
    collect() {
      this.set(gatedSkus());
    },
  });
  return {
    gated: (sku: string) => gated.inc({ sku }),
    poll: (result: "ok" | "failed") => polls.inc({ result }),
  };
}
