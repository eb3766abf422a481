import { z } from "zod";
import type { BuiltInBug } from "../built-in-bugs.ts";
import type { ReplicaRouter } from "../db/replica-router.ts";
import type { HybridLogicalClock } from "../domain/hlc.ts";
import { formatHlc } from "../domain/hlc.ts";
import { skuSchema } from "../domain/identifiers.ts";
import type { SnowflakeGenerator } from "../domain/ids.ts";
import { isTerminal, normaliseItems, requestFingerprint, total } from "../domain/order.ts";
import { slotOf } from "../domain/slots.ts";
import type { ServiceApp } from "../http/app.ts";
import { KeyLookup } from "./key-lookup.ts";
import { PlacementsInFlight } from "./placements-in-flight.ts";
import type { OrderSaga } from "./saga.ts";
import { NotSlotOwnerError } from "./slots.ts";
import type { SoldOutGate } from "./sold-out-gate.ts";
import type { OrderStore, StoredOrder } from "./store.ts";

const userIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,64}$/, "expected 1-64 characters of [A-Za-z0-9_.:-]");

const orderBody = z.object({
  userId: userIdSchema,
  items: z
    .array(z.object({ sku: skuSchema, qty: z.number().int().min(1).max(100) }))
    .min(1)
    .max(20),
});

const orderHeaders = z.object({
  "idempotency-key": z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{8,128}$/, "expected 8-128 characters of [A-Za-z0-9_.:-]"),
});

export interface OrderRoutesOptions {
  store: OrderStore;
  saga: OrderSaga;
  ids: SnowflakeGenerator;
  clock: HybridLogicalClock;
  region: string;
  deadlineMs: number;
  /** See CHAOSCART_ORDER_MAX_IN_FLIGHT. */
  maxInFlight: number;
  reads: ReplicaRouter;
  /** Unit prices of the SKUs that exist (see pricing.ts). */
  prices: (skus: readonly string[]) => Promise<Map<string, number>>;
  /** The lab's regression guard (src/shop/built-in-bugs.ts); undefined in the real shop. */
  builtInBug?: BuiltInBug;
  /** The sold-out gate; undefined: every order goes to the inventory. */
  soldOutGate?: { gate: SoldOutGate; onGated?(sku: string): void; now?: () => number };
}

export function registerOrderRoutes(app: ServiceApp, options: OrderRoutesOptions) {
  const { store, saga } = options;

  // Admitted requests that have not handed their order to the saga yet: with saga.inFlight, the load
  // admission control bounds (counting only sagas would let a burst through before any saga starts).
  let placing = 0;
  const placements = new PlacementsInFlight();
  const keysWithOrders = new KeyLookup((keys) => store.keysWithOrders(keys));
  const soldOut = options.soldOutGate;
  const now = soldOut?.now ?? (() => performance.now());

  app.post("/orders", { schema: { body: orderBody, headers: orderHeaders } }, async (request, reply) => {
    // Built-in bug "ignore-idempotency" (lab regression guard): the order is keyed by the request
    // id, which every retry of the client renews, instead of the client's Idempotency-Key.
    const idemKey =
      options.builtInBug === "ignore-idempotency" ? request.id : request.headers["idempotency-key"];
    // Before admission control: a buyer of a sold-out SKU hears so at once, even when the service
    // is too busy to place orders.
    const gatedSku = soldOut?.gate.gated(
      request.body.items.map((item) => item.sku),
      now(),
    );
    if (gatedSku !== undefined && !(await keyHasOrder(idemKey))) {
      soldOut?.onGated?.(gatedSku);
      return reply.code(409).send({
        error: "sold_out",
        sku: gatedSku,
        message: `${gatedSku} is sold out; nothing was written`,
      });
    }
    const inFlight = saga.inFlight + placing;
    if (inFlight >= options.maxInFlight) {
      return reply
        .code(429)
        .header("retry-after", "1")
        .send({
          error: "overloaded",
          message: `${inFlight} orders in flight (limit ${options.maxInFlight}); nothing was written, retry later`,
        });
    }
    placing++;
    const placed = placements.start(idemKey);
    let handedOver = false;
    try {
      const { userId } = request.body;
      const items = normaliseItems(request.body.items);
      const prices = await options.prices(items.map((i) => i.sku));
      // Named by the line the client sent: `items` is merged and sorted, so its indexes are not theirs.
      const unknown = request.body.items.findIndex((item) => !prices.has(item.sku));
      if (unknown >= 0) {
        return reply.code(422).send({
          error: "unknown_sku",
          field: `body.items.${unknown}.sku`,
          message: `body.items.${unknown}.sku: unknown SKU ${request.body.items[unknown]?.sku}`,
        });
      }
      const priced = items.map((item) => ({ ...item, price: prices.get(item.sku) ?? 0 }));
      const hlc = formatHlc(options.clock.now());
      const idempotencyKey = request.headers["idempotency-key"];
      const placement = await store
        .placeOrGet(
          {
            id: options.ids.next(),
            userId,
            idemKey,
            fingerprint: requestFingerprint(userId, items),
            homeRegion: options.region,
            slot: slotOf(userId),
            items: priced,
            total: total(priced),
            hlc,
          },
          // The event records the key the client sent: what the order answers to, whatever the dedupe did.
          { event: "OrderPlaced", payload: { userId, idempotencyKey, items: priced }, hlc },
        )
        .catch((error: unknown) => {
          if (error instanceof NotSlotOwnerError) return error;
          throw error;
        })
        .finally(placed);
      if (placement instanceof NotSlotOwnerError) {
        // Fenced: this region does not own the user's unit (it moved, or has not arrived yet).
        return reply.code(421).send({
          error: "not_slot_owner",
          message: `${placement.message}; nothing was written`,
          slot: placement.slot,
          ...(placement.owner ? { owner: placement.owner.region, epoch: placement.owner.epoch } : {}),
        });
      }
      const { created, order } = placement;
      if (!created && order.fingerprint !== requestFingerprint(userId, items)) {
        return reply.code(422).send({
          error: "idempotency_key_reused",
          field: "headers.idempotency-key",
          message: "this Idempotency-Key was used for a different order",
        });
      }
      reply.header("idempotent-replay", String(!created));
      placing--;
      handedOver = true;
      const settled = await settleWithin(
        saga.drive(order.id, request.id, order, created),
        options.deadlineMs,
      );
      if (!settled) {
        const current = (await store.get(order.id)) ?? order;
        return reply
          .code(202)
          .header("location", `/orders/${order.id}`)
          .send({ ...present(current), location: `/orders/${order.id}` });
      }
      return reply.code(created ? 201 : 200).send(present(settled));
    } finally {
      placed();
      if (!handedOver) placing--;
    }
  });

  /**
   * Whether a gated request must go the normal way after all, because its key has an order: a
   * retry whose first attempt was placed gets that order, never "sold out". Read by key rather than
   * remembering keys: an index read writes nothing (and a burst's reads are coalesced), and it knows
   * orders placed by another instance or before a restart, which no memory of this process does.
   * The read sees committed orders;
   * `placements` covers the ones this process is placing (started before the read, or during it).
   */
  async function keyHasOrder(key: string): Promise<boolean> {
    if (placements.has(key)) return true;
    const watch = placements.watch(key);
    try {
      return (await keysWithOrders.has(key)) || watch.overtaken;
    } finally {
      watch.stop();
    }
  }

  app.get(
    "/orders/:id",
    {
      schema: {
        params: z.object({ id: z.string().regex(/^\d{1,20}$/, "expected a numeric order id") }),
        headers: z.object({
          "x-consistency": z.enum(["strong", "eventual"]).optional(),
          // The user asking, as the authenticating proxy in front of the gateway vouches for it.
          "x-user-id": z.string({ error: "required: the user asking for the order" }).pipe(userIdSchema),
        }),
      },
    },
    async (request, reply) => {
      const fresh = request.headers["x-consistency"] === "strong";
      let route = options.reads.route(fresh);
      let order = await store.get(request.params.id, route.sql);
      // A replica that has not seen the order yet, or not its end, may just be behind: ask the primary.
      if (route.servedBy === "replica" && (!order || !isTerminal(order.state))) {
        route = options.reads.route(true);
        order = await store.get(request.params.id, route.sql);
      }
      reply
        .header("x-served-by", route.servedBy)
        .header("x-staleness-ms", String(Math.ceil(route.stalenessMs)));
      // Another user's order is answered exactly as a missing one: ids are time-ordered, so guessable,
      // and a 403 would confirm that the order exists.
      if (!order || order.userId !== request.headers["x-user-id"])
        return reply.code(404).send({ error: "not_found", message: `no order ${request.params.id}` });
      return present(order);
    },
  );
}

/**
 * The saga's result if it settles within the deadline; undefined otherwise. An unsettled order is
 * not lost: its saga keeps running, and if this driver fails (a dependency down, a crash), the
 * recovery loop takes the order over when its lease expires.
 */
async function settleWithin(run: Promise<StoredOrder>, deadlineMs: number): Promise<StoredOrder | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), deadlineMs);
  });
  const failed = run.then(
    () => undefined,
    () => undefined,
  );
  try {
    const result = await Promise.race([run.catch(() => failed), deadline]);
    return result && isTerminal(result.state) ? result : undefined;
  } finally {
    clearTimeout(timer);
  }
}

export function present(order: StoredOrder) {
  return {
    id: order.id,
    userId: order.userId,
    state: order.state,
    cancelReason: order.state === "CANCELLED" ? order.cancelReason : null,
    items: order.items,
    total: order.total,
    homeRegion: order.homeRegion,
    createdAt: order.createdAt,
    updatedAt: order.updatedAt,
  };
}
