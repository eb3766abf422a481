import Fastify, { LogController } from "fastify";
import {
  hasZodFastifySchemaValidationErrors,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from "fastify-type-provider-zod";
import { collectDefaultMetrics, Registry } from "prom-client";

const FASTIFY_CLIENT_ERRORS: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: "malformed_json",
  FST_ERR_CTP_EMPTY_JSON_BODY: "empty_body",
  FST_ERR_CTP_BODY_TOO_LARGE: "body_too_large",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "unsupported_media_type",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "invalid_content_length",
};

export interface AppOptions {
  service: string;
  logLevel: string;
  bodyLimitBytes?: number;
  /** Readiness: resolves when the service can do its job, throws (with a reason) when not. */
  ready: () => Promise<void>;
  /**
   * Sees every server-side failure (e.g. so a write guard can notice a read-only database) and may
   * answer with a more precise error to report instead.
   */
  onServerError?: (error: Error) => Error | undefined;
  /** Where the JSON log lines go; default stdout. */
  logStream?: { write(line: string): void };
}

/** The shared HTTP stack of every shop service: JSON logs, zod validation, error shape, health and metrics. */
export function createApp(options: AppOptions) {
  const app = Fastify({
    logger: {
      level: options.logLevel,
      base: { service: options.service },
      ...(options.logStream ? { stream: options.logStream } : {}),
    },
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimitBytes ?? 16 * 1024,
    requestIdHeader: "x-request-id",
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  const metrics = new Registry();
  metrics.setDefaultLabels({ service: options.service });
  collectDefaultMetrics({ register: metrics });

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    if (hasZodFastifySchemaValidationErrors(error)) {
      const issue = error.validation[0];
      const where = error.validationContext ?? "body";
      const path = issue?.instancePath.replace(/^\//, "").replaceAll("/", ".");
      const field = path ? `${where}.${path}` : where;
      return reply
        .code(400)
        .send({ error: "invalid_request", field, message: `${field}: ${issue?.message}` });
    }
    const status = error.statusCode ?? 500;
    if (status < 500) {
      // Fastify's own client errors: malformed JSON, oversized body, wrong content type.
      const name = FASTIFY_CLIENT_ERRORS[error.code ?? ""] ?? "bad_request";
      return reply.code(status).send({ error: name, message: error.message });
    }
    const precise: Error & { statusCode?: number; code?: string } = options.onServerError?.(error) ?? error;
    if (precise.statusCode === 503 && precise.code && !precise.code.startsWith("FST_")) {
      // A deliberate "not now" (e.g. read_only_endpoint): say which, and when to come back.
      return reply
        .code(503)
        .header("retry-after", "1")
        .send({ error: precise.code, message: precise.message });
    }
    request.log.error({ err: error }, "request failed");
    // The outcome is unknown to the client: a retry with the same idempotency key is the way to learn it.
    // The detail (SQL, addresses, stack) stays in the log, found by the request id; the body is stable.
    return reply
      .code(503)
      .header("retry-after", "1")
      .send({
        error: "unavailable",
        message: `internal error, outcome unknown: retry with the same idempotency key (request id ${request.id})`,
        requestId: request.id,
      });
  });

  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_request, reply) => {
    try {
      await options.ready();
      return { status: "ready" };
    } catch (error) {
      return reply.code(503).send({ status: "not_ready", reason: (error as Error).message });
    }
  });
  app.get("/metrics", async (_request, reply) => {
    reply.header("content-type", metrics.contentType);
    return metrics.metrics();
  });
  return Object.assign(app, { metrics });
}

export type ServiceApp = ReturnType<typeof createApp>;

/**
 * Write requests fail fast while the service's database refuses writes, instead of piling up. Added
 * to the context of the service's own routes (db/service-database.ts `registerDataRoutes`), not the
 * root: the lab routes, a sibling context, must reach a service whose database is read-only.
 */
export function refuseWritesWhileReadOnly(
  app: ServiceApp,
  database: { guard: { refuseIfReadOnly(): void } },
) {
  app.addHook("preHandler", async (request) => {
    if (request.method !== "GET" && request.method !== "HEAD") database.guard.refuseIfReadOnly();
  });
}
