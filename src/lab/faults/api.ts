/**
 * The fault links' control API: a Fastify plugin over a `LinkRegistry`, every route behind a bearer token.
 *
 *   GET    /links                      → 200 { links: LinkStatus[] }
 *   GET    /links/:name                → 200 LinkStatus
 *   POST   /links/:name/toxics         ToxicSpec → 201 { toxic: ToxicInfo }
 *   DELETE /links/:name/toxics/:id     → 200 { removed: id }
 *   POST   /links/:name/partition      { direction?: "both" | "upstream" | "downstream" } → 200 LinkStatus
 *   POST   /links/:name/down           → 200 LinkStatus
 *   POST   /links/:name/heal           → 200 LinkStatus
 *   POST   /heal                       → 200 { links: LinkStatus[] }   (every link)
 *
 * Errors: 401 without the token; 400 `{ error: "invalid_request", field, message }` for a bad spec;
 * 404 `unknown_link` / `unknown_toxic`. Link names containing `/` are URL-encoded in paths.
 */

import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from "fastify";
import type { Logger } from "pino";
import { hasBearerToken } from "../../shop/http/bearer-token.ts";
import { listen } from "../../shop/http/listen.ts";
import type { FaultLink } from "./link.ts";
import type { LinkRegistry } from "./registry.ts";
import { FaultSpecError, parsePartitionSpec, parseToxicSpec } from "./spec.ts";

export interface FaultApiOptions {
  registry: LinkRegistry;
  /** Bearer token every request must carry. */
  token: string;
}

const FASTIFY_CLIENT_ERRORS: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: "malformed_json",
  FST_ERR_CTP_EMPTY_JSON_BODY: "empty_body",
  FST_ERR_CTP_BODY_TOO_LARGE: "body_too_large",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "unsupported_media_type",
};

/** The routes, as an encapsulated plugin: `app.register(faultApi, { registry, token, prefix: "/faults" })`. */
export async function faultApi(app: FastifyInstance, { registry, token }: FaultApiOptions): Promise<void> {
  if (!token) throw new Error("faultApi: a token is required");

  app.addHook("onRequest", async (request, reply) => {
    if (!hasBearerToken(request.headers.authorization, token)) {
      return reply.code(401).send({ error: "unauthorized", message: "missing or wrong bearer token" });
    }
  });

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    if (error instanceof FaultSpecError) {
      return reply.code(400).send({ error: "invalid_request", field: error.field, message: error.message });
    }
    const status = error.statusCode ?? 500;
    if (status < 500) {
      const name = FASTIFY_CLIENT_ERRORS[error.code ?? ""] ?? "bad_request";
      return reply.code(status).send({ error: name, message: error.message });
    }
    request.log.error({ err: error }, "fault api request failed");
    return reply.code(500).send({ error: "internal", message: error.message });
  });

  type NameParams = { Params: { name: string } };
  const linkOf = (request: FastifyRequest<NameParams>, reply: FastifyReply): FaultLink | undefined => {
    const link = registry.get(request.params.name);
    if (!link) void reply.code(404).send({ error: "unknown_link", link: request.params.name });
    return link;
  };

  app.get("/links", async () => ({ links: registry.status() }));

  app.get<NameParams>("/links/:name", async (request, reply) => {
    const link = linkOf(request, reply);
    return link ? link.status() : reply;
  });

  app.post<NameParams & { Body: unknown }>("/links/:name/toxics", async (request, reply) => {
    const link = linkOf(request, reply);
    if (!link) return reply;
    const id = link.addToxic(parseToxicSpec(request.body));
    const toxic = link.toxics().find((t) => t.id === id);
    return reply.code(201).send({ toxic });
  });

  app.delete<{ Params: { name: string; id: string } }>("/links/:name/toxics/:id", async (request, reply) => {
    const link = linkOf(request, reply);
    if (!link) return reply;
    if (!link.removeToxic(request.params.id)) {
      return reply.code(404).send({ error: "unknown_toxic", link: link.name, id: request.params.id });
    }
    return { removed: request.params.id };
  });

  app.post<NameParams & { Body: unknown }>("/links/:name/partition", async (request, reply) => {
    const link = linkOf(request, reply);
    if (!link) return reply;
    link.partition(parsePartitionSpec(request.body));
    return link.status();
  });

  app.post<NameParams>("/links/:name/down", async (request, reply) => {
    const link = linkOf(request, reply);
    if (!link) return reply;
    await link.down();
    return link.status();
  });

  app.post<NameParams>("/links/:name/heal", async (request, reply) => {
    const link = linkOf(request, reply);
    if (!link) return reply;
    await link.heal();
    return link.status();
  });

  app.post("/heal", async () => {
    await registry.healAll();
    return { links: registry.status() };
  });
}

export interface FaultApiServerOptions extends FaultApiOptions {
  host?: string;
  /** 0 or absent: any free port. */
  port?: number;
  logger?: Logger;
}

export interface FaultApiServer {
  url: string;
  port: number;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** A standalone HTTP server for the control API (127.0.0.1 unless told otherwise). */
export async function startFaultApi(options: FaultApiServerOptions): Promise<FaultApiServer> {
  const loggerInstance: FastifyBaseLogger | undefined = options.logger;
  const app = Fastify({ loggerInstance, bodyLimit: 64 * 1024 });
  await app.register(faultApi, { registry: options.registry, token: options.token });
  const host = options.host ?? "127.0.0.1";
  return { ...(await listen(app, host, options.port ?? 0)), app };
}
