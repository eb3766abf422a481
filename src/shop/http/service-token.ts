/**
 * The service credential (CHAOSCART_SERVICE_TOKEN): what one shop service shows another. Internal
 * routes — the inventory's reservations, the payment provider's operations, the order service behind
 * the gateway — live in an encapsulated Fastify context whose every request must carry
 * `Authorization: Bearer <token>`, else 401 before the body is read. A route added to that context is
 * guarded without anyone remembering to guard it; health, readiness, metrics, `/admin` (admin token)
 * and `/lab` (lab token) stay outside.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { ServiceApp } from "./app.ts";
import { hasBearerToken } from "./bearer-token.ts";

/** The header a client of an internal route sends. */
export function serviceAuthorization(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

export function requireServiceToken(token: string) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (!hasBearerToken(request.headers.authorization, token)) {
      return reply.code(401).send({
        error: "unauthorized",
        message: "internal route: missing or wrong service token (CHAOSCART_SERVICE_TOKEN)",
      });
    }
  };
}

/** Registers `routes` in their own context, behind the service token. */
export function registerInternalRoutes(
  app: ServiceApp,
  token: string,
  routes: (internal: ServiceApp) => void | Promise<void>,
): void {
  app.register(async (internal) => {
    internal.addHook("onRequest", requireServiceToken(token));
    // A child context inherits its parent's properties (Fastify creates it with Object.create), so
    // the routes still see `metrics`, the error handler and the zod compilers.
    await routes(internal as ServiceApp);
  });
}
