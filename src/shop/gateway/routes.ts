import { randomUUID } from "node:crypto";
import replyFrom from "@fastify/reply-from";
import type { FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { skuSchema } from "../domain/identifiers.ts";
import type { ServiceApp } from "../http/app.ts";
import { registerRealm } from "../http/bearer-token.ts";
import { serviceAuthorization } from "../http/service-token.ts";
import type { GatewayMetrics, RateLimitScope, UpstreamOutcome } from "./metrics.ts";
import { type KeyedRateLimiter, retryAfterSeconds, type TokenBucket } from "./rate-limit.ts";
import type { SlotRouter } from "./routing.ts";

export interface GatewayRoutesOptions {
  router: SlotRouter;
  /** Region name → base URL of that region's order service. */
  upstreams: ReadonlyMap<string, string>;
  /** Where catalog reads go. */
  localRegion: string;
  limits: { global: TokenBucket; perUser: KeyedRateLimiter };
  timeouts: { orderMs: number; readMs: number };
  /** Bounds connecting to an upstream (the per-route timeouts start once the request is sent). */
  connectTimeoutMs: number;
  /**
   * Requests in flight to one region's order service (and connections kept to it); a request
   * beyond is refused 429 at once rather than queued behind busy connections.
   */
  maxUpstreamInFlight: number;
  adminToken: string | undefined;
  /** Sent to the order services (CHAOSCART_SERVICE_TOKEN). */
  serviceToken: string;
  metrics: GatewayMetrics;
  /** Registers the bench's no-op order route (CHAOSCART_BENCH_ENDPOINTS). */
  benchEndpoints?: boolean;
}

const USER_ID_MAX = 128;
const userIdSchema = z.string().min(1).max(USER_ID_MAX);
/** Only `userId` matters to the gateway; the order service validates the rest of the body. */
const orderBody = z.looseObject({ userId: userIdSchema });
const orderParams = z.object({ id: z.string().regex(/^\d{1,20}$/, "expected a snowflake id (1-20 digits)") });
const REFUSALS: Record<RateLimitScope, string> = {
  global: "the gateway is at capacity",
  user: "too many requests for this user",
  upstream: "the order service is busy with as many requests as the gateway sends it; nothing was sent",
};
const UPSTREAM_RETRY_AFTER_MS = 1_000;

/** Response header naming the region a request was routed to. */
export const SERVED_BY_HEADER = "x-chaoscart-region";

const regionName = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/);
/** A new routing table version: every slot of one region moved (failover), or some slots (a unit move). */
const routingUpdate = z
  .object({
    version: z.number().int().min(1),
    move: z.object({ from: regionName, to: regionName }).optional(),
    slots: z.object({ slots: z.array(z.number().int().min(0)).min(1), to: regionName }).optional(),
  })
  .refine((body) => (body.move === undefined) !== (body.slots === undefined), "give either move or slots");

/** Connection-phase failures: the request never reached the upstream, so retrying is safe. */
const UNREACHABLE = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_CLOSED",
  "UND_ERR_DESTROYED",
]);
const TIMEOUTS = new Set([
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "FST_REPLY_FROM_GATEWAY_TIMEOUT",
]);

type ProxyError = Error & { code?: string; cause?: { code?: string } };

/** The upstream's error code: reply-from wraps undici's error, keeping it as the cause. */
function failureOf(error: ProxyError): { outcome: Exclude<UpstreamOutcome, "response">; code: string } {
  const code = error.cause?.code ?? error.code ?? "unknown";
  if (UNREACHABLE.has(code) || (error.code !== undefined && UNREACHABLE.has(error.code))) {
    return { outcome: "unavailable", code };
  }
  if (TIMEOUTS.has(code) || (error.code !== undefined && TIMEOUTS.has(error.code))) {
    return { outcome: "timeout", code };
  }
  return { outcome: "error", code };
}

/**
 * The gateway's HTTP surface: request ids, rate limits, and proxying each route to the region that
 * owns it (POST /orders by the user's slot, GET /orders/:id by the id's region, catalog reads to
 * the local region), plus the routing admin API.
 */
export async function registerGatewayRoutes(app: ServiceApp, options: GatewayRoutesOptions) {
  const { router, upstreams, limits, timeouts, metrics } = options;

  await app.register(replyFrom, {
    undici: {
      connections: options.maxUpstreamInFlight,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      connect: { timeout: options.connectTimeoutMs },
    },
    // No automatic retries: reply-from would otherwise retry GETs on 503 up to ten times, hiding a
    // sick region from the client and the lab and multiplying load on it.
    retryMethods: [],
    disableRequestLogging: true,
    destroyAgent: true,
  });

  // Request ids: the client's `x-request-id` when it sent one (createApp reads that header), else a
  // fresh UUID; forwarded upstream and returned on every response.
  app.setGenReqId(() => randomUUID());
  app.addHook("onSend", async (request, reply) => {
    reply.header("x-request-id", request.id);
  });
  app.addHook("onResponse", async (request, reply) => {
    metrics.request(request.routeOptions.url ?? "unmatched", reply.statusCode);
  });

  // Keep the raw JSON text so POST /orders forwards the client's bytes, not a re-serialisation.
  const rawBodies = new WeakMap<FastifyRequest, string>();
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    rawBodies.set(request, body as string);
    parseJson(request, body as string, done);
  });

  function refuse(reply: FastifyReply, scope: RateLimitScope, retryAfterMs: number) {
    metrics.rateLimited(scope);
    return reply
      .code(429)
      .header("retry-after", String(retryAfterSeconds(retryAfterMs)))
      .send({
        error: "rate_limited",
        message: REFUSALS[scope],
        scope,
        retryAfterMs,
      });
  }

  // Requests in flight to each region's order service. Beyond maxUpstreamInFlight every connection
  // to it is busy: a request would wait in the HTTP client's queue, unbounded, behind sagas, and
  // under a burst past capacity every answer (a sold-out one too) took seconds, then none came in
  // time (the flash-sale bench at 10,000 buyers/s). Refused at once instead, as cheaply as a
  // rate limit, and nothing was sent.
  const upstreamInFlight = new Map<string, number>();

  /** Global bucket first, before the body is even parsed: cheap protection under overload. */
  const globalLimit = async (_request: FastifyRequest, reply: FastifyReply) => {
    const taken = limits.global.take();
    if (!taken.allowed) return refuse(reply, "global", taken.retryAfterMs);
  };
  const userLimit = (userOf: (request: FastifyRequest) => string | undefined) => {
    return async (request: FastifyRequest, reply: FastifyReply) => {
      const userId = userOf(request);
      if (userId === undefined) return;
      const taken = limits.perUser.take(userId);
      if (!taken.allowed) return refuse(reply, "user", taken.retryAfterMs);
    };
  };
  const userFromHeader = (request: FastifyRequest) => {
    const header = request.headers["x-user-id"];
    return typeof header === "string" && header.length > 0 ? header : undefined;
  };
  const checkUserHeader = async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers["x-user-id"];
    if (typeof header === "string" && header.length > USER_ID_MAX) {
      return reply.code(400).send({
        error: "invalid_request",
        field: "headers.x-user-id",
        message: `headers.x-user-id: at most ${USER_ID_MAX} characters`,
      });
    }
  };

  function forward(
    request: FastifyRequest,
    reply: FastifyReply,
    target: { region: string; path: string; route: string; timeoutMs: number; body?: string },
  ) {
    const base = upstreams.get(target.region);
    if (base === undefined) throw new Error(`no upstream configured for region ${target.region}`);
    const busy = upstreamInFlight.get(target.region) ?? 0;
    if (busy >= options.maxUpstreamInFlight) return refuse(reply, "upstream", UPSTREAM_RETRY_AFTER_MS);
    upstreamInFlight.set(target.region, busy + 1);
    reply.raw.once("close", () => {
      upstreamInFlight.set(target.region, (upstreamInFlight.get(target.region) ?? 1) - 1);
    });
    const service = `the order service of region ${target.region}`;
    // Which region served (or was asked to serve) the request: the unit's home, local or across the WAN.
    reply.header(SERVED_BY_HEADER, target.region);
    const started = performance.now();
    // Exactly one outcome per upstream call: the deadline, a response, or a failure, whichever is first.
    let settled = false;
    const settle = (outcome: UpstreamOutcome, code?: string) => {
      if (settled) return false;
      settled = true;
      clearTimeout(deadline);
      metrics.upstream(target.region, target.route, outcome, (performance.now() - started) / 1000);
      if (outcome !== "response") {
        request.log.warn(
          { region: target.region, route: target.route, code, resilience_stage: outcome },
          "upstream failed",
        );
      }
      return true;
    };
    // Our own deadline on a native timer: undici checks its headers timeout on a coarse timer
    // wheel (≈1 s resolution), which would stretch a 300 ms deadline to well over half a second.
    const deadline = setTimeout(() => {
      if (!settle("timeout", "deadline") || reply.sent) return;
      reply.code(504).send({
        error: "upstream_timeout",
        message: `${service} did not answer within ${target.timeoutMs} ms; the request may still take effect`,
        region: target.region,
      });
    }, target.timeoutMs);
    reply.raw.once("close", () => clearTimeout(deadline)); // the client went away, or we answered

    return reply.from(`${base}${target.path}`, {
      // Backstop for the deadline above; also bounds a response body that stalls mid-stream.
      timeout: target.timeoutMs,
      ...(target.body === undefined ? {} : { body: target.body, contentType: "application/json" }),
      // The client's own Authorization (if any) never reaches the order service: ours replaces it.
      rewriteRequestHeaders: (_request, headers) => ({
        ...headers,
        "x-request-id": request.id,
        ...serviceAuthorization(options.serviceToken),
      }),
      onResponse: (_request, reply, response) => {
        if (!settle("response")) {
          response.stream.destroy(); // answered 504 already; drop the late response
          return;
        }
        reply.send(response.stream);
      },
      onError: (reply, { error }) => {
        const { outcome, code } = failureOf(error as ProxyError);
        if (!settle(outcome, code) || reply.sent) return;
        if (outcome === "timeout") {
          return reply.code(504).send({
            error: "upstream_timeout",
            message: `${service} did not answer within ${target.timeoutMs} ms; the request may still take effect`,
            region: target.region,
          });
        }
        if (outcome === "unavailable") {
          return reply
            .code(503)
            .header("retry-after", "1")
            .send({
              error: "upstream_unavailable",
              message: `${service} is unreachable (${code})`,
              region: target.region,
            });
        }
        // Typically the order service died (or restarted) under the request: as retryable as a 503,
        // with the same Idempotency-Key, since the order may exist already.
        return reply
          .code(502)
          .header("retry-after", "1")
          .send({
            error: "upstream_failed",
            message: `${service} failed mid-request (${code}); the request may or may not have taken effect`,
            region: target.region,
          });
      },
    });
  }

  app.post(
    "/orders",
    {
      schema: { body: orderBody },
      onRequest: globalLimit,
      preHandler: userLimit((request) => (request.body as { userId: string }).userId),
    },
    async (request, reply) => {
      const body = rawBodies.get(request) ?? JSON.stringify(request.body);
      return forward(request, reply, {
        region: router.regionForUser(request.body.userId),
        path: "/orders",
        route: "/orders",
        timeoutMs: timeouts.orderMs,
        body,
      });
    },
  );

  if (options.benchEndpoints) {
    app.post(
      "/bench/noop-order",
      {
        schema: { body: orderBody },
        onRequest: globalLimit,
        preHandler: userLimit((request) => (request.body as { userId: string }).userId),
      },
      async (request, reply) =>
        reply
          .code(201)
          .header(SERVED_BY_HEADER, router.regionForUser(request.body.userId))
          .send({ id: "0", state: "CONFIRMED" }),
    );
  }

  app.get(
    "/orders/:id",
    {
      schema: { params: orderParams },
      onRequest: globalLimit,
      preHandler: [checkUserHeader, userLimit(userFromHeader)],
    },
    async (request, reply) => {
      const { id } = request.params;
      const region = router.regionForOrderId(id);
      if (region === undefined) {
        return reply.code(404).send({
          error: "not_found",
          message: `order ${id} carries a region code this deployment does not have`,
        });
      }
      return forward(request, reply, {
        region,
        path: `/orders/${id}`,
        route: "/orders/:id",
        timeoutMs: timeouts.readMs,
      });
    },
  );

  app.get(
    "/skus/:id",
    {
      schema: { params: z.object({ id: skuSchema }) },
      onRequest: globalLimit,
      preHandler: [checkUserHeader, userLimit(userFromHeader)],
    },
    async (request, reply) =>
      forward(request, reply, {
        region: options.localRegion,
        path: `/skus/${encodeURIComponent(request.params.id)}`,
        route: "/skus/:id",
        timeoutMs: timeouts.readMs,
      }),
  );

  registerRealm(app, { realm: "admin", token: options.adminToken }, (admin) => {
    admin.get("/admin/routing", async () => router.summary());
    admin.put("/admin/routing", { schema: { body: routingUpdate } }, async (request, reply) => {
      const { version, move, slots } = request.body;
      const named: [string, string][] = move
        ? [
            ["move.from", move.from],
            ["move.to", move.to],
          ]
        : [["slots.to", slots?.to ?? ""]];
      for (const [field, region] of named) {
        if (!router.regions.includes(region)) {
          return reply.code(400).send({
            error: "invalid_request",
            field: `body.${field}`,
            message: `body.${field}: unknown region ${region}; known: ${router.regions.join(", ")}`,
          });
        }
      }
      if (move && move.from === move.to) {
        return reply.code(400).send({
          error: "invalid_request",
          field: "body.move.to",
          message: "body.move.to: must differ from body.move.from",
        });
      }
      const current = router.table;
      const outside = slots?.slots.findIndex((slot) => slot >= current.slotCount) ?? -1;
      if (outside >= 0) {
        return reply.code(400).send({
          error: "invalid_request",
          field: `body.slots.slots.${outside}`,
          message: `body.slots.slots.${outside}: slot ${slots?.slots[outside]} is outside 0..${current.slotCount - 1}`,
        });
      }
      const next = move
        ? current.withRegionMoved(move.from, move.to)
        : current.withSlotsMoved(slots?.slots ?? [], slots?.to ?? "");
      if (!router.update(next.withVersion(version))) {
        return reply.code(409).send({
          error: "stale_version",
          message: `routing version ${version} is not newer than the current ${current.version}`,
          currentVersion: current.version,
        });
      }
      request.log.info({ version, move, slots }, "routing table updated");
      return router.summary();
    });
  });
}
