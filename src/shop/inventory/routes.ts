import type { FastifyReply } from "fastify";
import { z } from "zod";
import { orderIdSchema, skuSchema } from "../domain/identifiers.ts";
import type { ServiceApp } from "../http/app.ts";
import { registerRealm } from "../http/bearer-token.ts";
import type { InventoryEngine } from "./engine.ts";
import { SeedConflictError, type SettleOutcome, UnknownSkuError } from "./records.ts";
import type { InventoryStore } from "./store.ts";

const reserveBody = z.object({
  orderId: orderIdSchema,
  sku: skuSchema,
  qty: z.number().int().min(1).max(1000),
});

/** The most orders (or reservations) one batched call carries (the order service's batches are smaller). */
const CALL_BATCH_MAX = 256;

const commitsBody = z.object({ orderIds: z.array(orderIdSchema).min(1).max(CALL_BATCH_MAX) });
const reserveBatchBody = z.object({ reservations: z.array(reserveBody).min(1).max(CALL_BATCH_MAX) });

/** `?skus=A,B,…`: at most 100 SKU ids, comma-separated. */
const availabilityQuery = z
  .string()
  .transform((value) => value.split(","))
  .pipe(z.array(skuSchema).min(1).max(100));

const seedBody = z.object({
  skus: z
    .array(
      z.object({
        id: skuSchema,
        name: z.string().max(200).optional(),
        /** Unit price in minor units (cents). */
        price: z.number().int().min(0).max(1e12).optional(),
        stock: z.number().int().min(0).max(1e9),
        /** Rows the stock is split into (CHAOSCART_INVENTORY_STOCK_BUCKETS when absent). */
        buckets: z.number().int().min(1).max(64).optional(),
      }),
    )
    .min(1)
    .max(10_000),
});

export interface InventoryRoutesOptions {
  engine: InventoryEngine;
  store: InventoryStore;
  adminToken: string | undefined;
  serviceToken: string;
}

export function registerInventoryRoutes(
  app: ServiceApp,
  { engine, store, adminToken, serviceToken }: InventoryRoutesOptions,
) {
  // The order service's calls (the stock read too: it is not the public catalog).
  registerRealm(app, { realm: "internal", token: serviceToken }, (internal) => {
    internal.post("/reservations", { schema: { body: reserveBody } }, async (request, reply) => {
      const { status, body } = await reserved(engine, request.body);
      return reply.code(status).send(body);
    });
    // Many orders' reserves in one call: each joins its SKU's lane as its own call would, and is
    // answered as its own call would be ({status, body} per reservation, in order). A failure other
    // than an unknown SKU fails the whole call (503): every reserve is idempotent by order id, so the
    // caller retries it whole.
    internal.post("/reservations/batch", { schema: { body: reserveBatchBody } }, async (request) => {
      const { reservations } = request.body;
      const answers = await Promise.all(reservations.map((reservation) => reserved(engine, reservation)));
      return { results: answers.map((answer, i) => ({ orderId: reservations[i]?.orderId, ...answer })) };
    });

    const orderParams = z.object({ orderId: orderIdSchema });
    internal.post(
      "/reservations/:orderId/commit",
      { schema: { params: orderParams } },
      async (request, reply) => sendSettled(reply, await engine.commit(request.params.orderId)),
    );
    // Many orders' commits in one statement and one commit: each order is settled all or nothing on
    // its own, and answered as its own `/commit` call would be ({status, body} per order, in order).
    internal.post("/reservations/commits", { schema: { body: commitsBody } }, async (request) => {
      const { orderIds } = request.body;
      const outcomes = await engine.commitMany(orderIds);
      return {
        results: orderIds.map((orderId) => ({
          orderId,
          ...settledResponse(outcomes.get(orderId) ?? { kind: "not_found" }),
        })),
      };
    });
    internal.post(
      "/reservations/:orderId/release",
      { schema: { params: orderParams } },
      async (request, reply) => sendSettled(reply, await engine.release(request.params.orderId), true),
    );
    internal.get("/reservations/:orderId", { schema: { params: orderParams } }, async (request, reply) => {
      const items = await store.reservationsOf(request.params.orderId);
      if (items.length === 0)
        return reply.code(404).send({ error: "not_found", orderId: request.params.orderId });
      return { orderId: request.params.orderId, items };
    });

    // The order service's sold-out gate polls this for the SKUs it answers "sold out" from memory:
    // one indexed read of the stock rows, however many SKUs, never the engine's own sold-out flag.
    internal.get(
      "/stock",
      { schema: { querystring: z.object({ skus: availabilityQuery }) } },
      async (request) => ({ stock: await store.available(request.query.skus) }),
    );

    internal.get(
      "/stock/:sku",
      { schema: { params: z.object({ sku: skuSchema }) } },
      async (request, reply) => {
        const stock = await store.stock(request.params.sku);
        if (!stock) return reply.code(404).send({ error: "unknown_sku", sku: request.params.sku });
        return stock;
      },
    );
  });

  registerRealm(app, { realm: "admin", token: adminToken }, (admin) => {
    admin.post("/admin/skus", { schema: { body: seedBody } }, async (request, reply) => {
      try {
        const results = await store.seed(request.body.skus);
        return reply.code(results.some((r) => "created" in r && r.created) ? 201 : 200).send({ results });
      } catch (error) {
        if (error instanceof SeedConflictError) {
          return reply
            .code(409)
            .send({ error: "quota_conflict", message: error.message, results: error.results });
        }
        throw error;
      }
    });
  });
}

async function reserved(
  engine: InventoryEngine,
  { orderId, sku, qty }: z.infer<typeof reserveBody>,
): Promise<{ status: number; body: object }> {
  try {
    const outcome = await engine.reserve(orderId, sku, qty);
    if (outcome.kind === "granted") return { status: outcome.replay ? 200 : 201, body: outcome };
    return { status: 409, body: { error: outcome.reason, ...outcome } };
  } catch (error) {
    if (error instanceof UnknownSkuError) return { status: 404, body: { error: "unknown_sku", sku } };
    throw error;
  }
}

function sendSettled(reply: FastifyReply, outcome: SettleOutcome, releasing = false) {
  const { status, body } = settledResponse(outcome, releasing);
  return reply.code(status).send(body);
}

/** Release of an order nobody reserved for is a success: compensation must be safe to run blind. */
function settledResponse(outcome: SettleOutcome, releasing = false): { status: number; body: object } {
  if (outcome.kind === "done") {
    // What this release put back on sale (a repeated release returns nothing): the order service
    // opens its sold-out gate for these SKUs at once.
    const returned = releasing ? { returned: [...new Set(outcome.moved.map((item) => item.sku))] } : {};
    return { status: 200, body: { state: outcome.state, items: outcome.items, ...returned } };
  }
  if (outcome.kind === "conflict") {
    return {
      status: 409,
      body: {
        error: "invalid_state",
        message: `order is ${outcome.state}`,
        state: outcome.state,
        items: outcome.items,
      },
    };
  }
  if (releasing) return { status: 200, body: { state: "RELEASED", items: [], returned: [] } };
  return { status: 404, body: { error: "not_found", message: "no reservation for this order" } };
}
