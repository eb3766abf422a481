import { setTimeout as sleep } from "node:timers/promises";
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { orderIdSchema } from "../domain/identifiers.ts";
import type { ServiceApp } from "../http/app.ts";
import { registerRealm } from "../http/bearer-token.ts";
import { type FaultPlan, type FaultPlanner, faultKnobsPatchSchema } from "./faults.ts";
import type { PaymentLedger } from "./ledger.ts";
import type { OperationResult, PaymentMetrics } from "./metrics.ts";
import type { Command, Operation, Outcome, Payment } from "./provider.ts";

const orderParams = z.object({ orderId: orderIdSchema });
const authorizeBody = z.object({
  amount: z.number().int().positive().max(1e12),
  currency: z.literal("EUR").default("EUR"),
});

export interface PaymentRoutesOptions {
  ledger: PaymentLedger;
  faults: FaultPlanner;
  metrics: PaymentMetrics;
  adminToken: string | undefined;
  serviceToken: string;
  newProviderRef: () => string;
  now?: () => Date;
}

/**
 * The simulator's HTTP API. Every `/payments` call first takes the fault knobs' draw: its latency,
 * then possibly an injected `provider_error`, before or after the operation is applied.
 */
export function registerPaymentRoutes(app: ServiceApp, options: PaymentRoutesOptions) {
  const { ledger, faults, metrics, adminToken, serviceToken, newProviderRef } = options;
  const now = () => (options.now?.() ?? new Date()).toISOString();
  let inFlight = 0;
  const seen = new Set<string>();

  /**
   * Runs `serve` within the capacity knob, or sheds the request with 503 + Retry-After. Counts it as
   * received, and as a repeat when the same operation on the same order came before with the same
   * `x-request-id` (the order service's retries of one call; its later passes, e.g. the void watch's
   * rechecks, are new calls). A request without an id is always a first.
   */
  async function admit(
    request: FastifyRequest,
    reply: FastifyReply,
    operation: Operation | "get",
    orderId: string,
    serve: () => Promise<unknown>,
  ): Promise<unknown> {
    const { capacity, retryAfterMs } = faults.knobs;
    const shed = capacity > 0 && inFlight >= capacity;
    const requestId = request.headers["x-request-id"];
    const key = typeof requestId === "string" ? `${operation} ${orderId} ${requestId}` : undefined;
    const repeat = key !== undefined && seen.has(key);
    if (key && !repeat) {
      if (seen.size >= SEEN_LIMIT) seen.clear(); // bounded memory; a few repeats then count as first
      seen.add(key);
    }
    metrics.received(operation, shed, repeat);
    if (shed) {
      return reply
        .code(503)
        .header("retry-after", String(Math.ceil(retryAfterMs / 1000)))
        .send({ error: "overloaded", message: `the provider is serving ${inFlight} requests, its capacity` });
    }
    inFlight += 1;
    try {
      return await serve();
    } finally {
      inFlight -= 1;
    }
  }

  async function operate(
    log: FastifyBaseLogger,
    reply: FastifyReply,
    operation: Operation,
    orderId: string,
    command: (current: Payment | undefined) => Command,
  ) {
    const plan = faults.draw();
    if (plan.delayMs > 0) await sleep(plan.delayMs);
    if (plan.error?.when === "before") return injectError(log, reply, operation, orderId, plan);
    const outcome = await ledger.execute(orderId, command);
    metrics.operation(operation, resultOf(operation, outcome));
    if (operation === "capture" && outcome.kind === "applied") metrics.captured();
    if (plan.error) return injectError(log, reply, operation, orderId, plan);
    return sendOutcome(reply, operation, outcome);
  }

  function injectError(
    log: FastifyBaseLogger,
    reply: FastifyReply,
    operation: Operation | "get",
    orderId: string,
    plan: FaultPlan,
  ) {
    const error = plan.error;
    if (!error) throw new Error("no injected error in this plan");
    metrics.injected(operation, error.when, error.status);
    log.info(
      { resilience_stage: "fault_injection", operation, orderId, when: error.when, status: error.status },
      "injected provider error",
    );
    return reply.code(error.status).send({ error: "provider_error", message: "simulated provider failure" });
  }

  // The order service's calls.
  registerRealm(app, { realm: "internal", token: serviceToken }, (internal) => {
    internal.post(
      "/payments/:orderId/authorize",
      { schema: { params: orderParams, body: authorizeBody } },
      async (request, reply) => {
        const { orderId } = request.params;
        const { amount, currency } = request.body;
        return admit(request, reply, "authorize", orderId, () =>
          operate(request.log, reply, "authorize", orderId, (current) => ({
            op: "authorize",
            orderId,
            amount,
            currency,
            providerRef: current ? current.providerRef : newProviderRef(),
            declined: current === undefined && faults.decline(),
            at: now(),
          })),
        );
      },
    );

    for (const op of ["capture", "void", "refund"] as const) {
      internal.post(
        `/payments/:orderId/${op}`,
        { schema: { params: orderParams } },
        async (request, reply) => {
          const { orderId } = request.params;
          return admit(request, reply, op, orderId, () =>
            operate(request.log, reply, op, orderId, () => ({ op, orderId, at: now() })),
          );
        },
      );
    }

    internal.get("/payments/:orderId", { schema: { params: orderParams } }, async (request, reply) => {
      const { orderId } = request.params;
      return admit(request, reply, "get", orderId, async () => {
        const plan = faults.draw();
        if (plan.delayMs > 0) await sleep(plan.delayMs);
        if (plan.error) return injectError(request.log, reply, "get", orderId, plan);
        const payment = ledger.get(orderId);
        if (!payment) return notFound(reply, orderId);
        return payment;
      });
    });
  });

  registerRealm(app, { realm: "admin", token: adminToken }, (admin) => {
    admin.get("/admin/payments", async () => {
      const payments = ledger.all();
      return { count: payments.length, payments };
    });
    admin.get("/admin/faults", async () => faults.knobs);
    admin.put("/admin/faults", { schema: { body: faultKnobsPatchSchema } }, async (request) => {
      const knobs = faults.update(request.body);
      request.log.info({ resilience_stage: "fault_injection", knobs }, "fault knobs changed");
      return knobs;
    });
  });
}

const SEEN_LIMIT = 500_000;

function resultOf(operation: Operation, outcome: Outcome): OperationResult {
  if (operation === "authorize" && outcome.kind === "applied" && outcome.payment.state === "DECLINED") {
    return "declined";
  }
  return outcome.kind;
}

function sendOutcome(reply: FastifyReply, operation: Operation, outcome: Outcome) {
  switch (outcome.kind) {
    case "not_found":
      return notFound(reply, outcome.orderId);
    case "conflict":
      return reply
        .code(409)
        .send({ error: "conflict", message: outcome.message, state: outcome.payment.state });
    case "applied":
    case "replay": {
      const { payment } = outcome;
      const replay = outcome.kind === "replay";
      if (operation === "authorize" && payment.state === "DECLINED") {
        return reply.code(402).send({
          error: "card_declined",
          message: "the card issuer declined the authorisation",
          orderId: payment.orderId,
          providerRef: payment.providerRef,
          replay,
        });
      }
      return reply.code(200).send({ ...payment, replay });
    }
  }
}

function notFound(reply: FastifyReply, orderId: string) {
  return reply.code(404).send({ error: "not_found", message: `no payment for order ${orderId}`, orderId });
}
