import { timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

/** Whether an `Authorization: Bearer …` header carries the expected token (constant-time compare). */
export function hasBearerToken(authorization: string | undefined, expected: string): boolean {
  const given = Buffer.from(authorization?.replace(/^Bearer /i, "") ?? "");
  const want = Buffer.from(expected);
  return given.length === want.length && timingSafeEqual(given, want);
}

/**
 * Who may call a group of routes, each with its own credential:
 * - `internal`: one shop service calling another (CHAOSCART_SERVICE_TOKEN, service-token.ts);
 * - `admin`: the operator — seeding, routing, the payment simulator's knobs (CHAOSCART_ADMIN_TOKEN);
 * - `lab`: the chaos lab's runtime faults (CHAOSCART_LAB_TOKEN, lab-endpoints.ts).
 * Health, readiness and metrics belong to none: they stay open.
 */
export type Realm = "internal" | "admin" | "lab";

/** The answers of each realm; clients and tests rely on them. */
const REALMS: Record<Realm, { disabled: { error: string; message: string }; wrong: string }> = {
  internal: {
    disabled: { error: "internal_disabled", message: "set CHAOSCART_SERVICE_TOKEN to enable" },
    wrong: "internal route: missing or wrong service token (CHAOSCART_SERVICE_TOKEN)",
  },
  admin: {
    disabled: { error: "admin_disabled", message: "set CHAOSCART_ADMIN_TOKEN to enable" },
    wrong: "missing or wrong bearer token",
  },
  lab: {
    disabled: { error: "lab_disabled", message: "set CHAOSCART_LAB_TOKEN to enable the lab endpoints" },
    wrong: "missing or wrong lab token",
  },
};

export interface RealmOptions {
  realm: Realm;
  /** The realm's token; undefined: the realm is switched off and every route in it answers 403. */
  token: string | undefined;
}

/** 403 while the realm has no token, 401 for a missing or wrong one; runs before the body is read. */
export function requireBearerToken({ realm, token }: RealmOptions) {
  const answers = REALMS[realm];
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (!token) return reply.code(403).send(answers.disabled);
    if (!hasBearerToken(request.headers.authorization, token)) {
      return reply.code(401).send({ error: "unauthorized", message: answers.wrong });
    }
  };
}

// biome-ignore lint/suspicious/noExplicitAny: any Fastify instance, whatever its type provider and logger.
type AnyFastify = FastifyInstance<any, any, any, any, any>;

/**
 * Registers `routes` as an encapsulated plugin behind the realm's bearer token: a route added to
 * that context is guarded without anyone remembering to guard it, and hooks the routes add there
 * (a write guard, say) stay there.
 */
export function registerRealm<App extends AnyFastify>(
  app: App,
  options: RealmOptions,
  routes: (scope: App) => void | Promise<void>,
): void {
  app.register(async (scope) => {
    scope.addHook("onRequest", requireBearerToken(options));
    // A child context inherits its parent's properties (Fastify creates it with Object.create), so
    // the routes still see `metrics`, the error handler and the zod compilers.
    await routes(scope as App);
  });
}
