import { createApp } from "../http/app.ts";
import { listen, type RunningService } from "../http/listen.ts";
import { type GatewayConfig, localRegion } from "./config.ts";
import { gatewayMetrics } from "./metrics.ts";
import { KeyedRateLimiter, TokenBucket } from "./rate-limit.ts";
import { registerGatewayRoutes } from "./routes.ts";
import { SlotRouter } from "./routing.ts";

/** Per-user buckets held at once; beyond this the least recently used user gets a fresh burst. */
const MAX_USER_BUCKETS = 100_000;

/** Composes the gateway: slot router, rate limiters, proxy routes. No database. */
export async function startGatewayService(config: GatewayConfig): Promise<RunningService> {
  const local = localRegion(config);
  const router = new SlotRouter(config.CHAOSCART_REGIONS.map((region) => region.name));
  const upstreams = new Map(config.CHAOSCART_REGIONS.map((region) => [region.name, region.url]));
  const app = createApp({
    service: "gateway",
    logLevel: config.CHAOSCART_LOG_LEVEL,
    // Readiness does not probe the upstreams: a gateway with somewhere to route is ready; region
    // health is the failover's business, not a reason to take this gateway out of rotation.
    ready: async () => {
      if (router.regions.length === 0) throw new Error("no regions configured");
    },
  });
  await registerGatewayRoutes(app, {
    router,
    upstreams,
    localRegion: local,
    limits: {
      global: new TokenBucket({
        ratePerSecond: config.CHAOSCART_RATE_LIMIT_RPS,
        burst: config.CHAOSCART_RATE_LIMIT_BURST,
      }),
      perUser: new KeyedRateLimiter({
        ratePerSecond: config.CHAOSCART_USER_RATE_LIMIT_RPS,
        burst: config.CHAOSCART_USER_RATE_LIMIT_BURST,
        maxKeys: MAX_USER_BUCKETS,
      }),
    },
    timeouts: { orderMs: config.CHAOSCART_ORDER_TIMEOUT_MS, readMs: config.CHAOSCART_READ_TIMEOUT_MS },
    connectTimeoutMs: Math.min(config.CHAOSCART_ORDER_TIMEOUT_MS, config.CHAOSCART_READ_TIMEOUT_MS),
    maxUpstreamInFlight: config.CHAOSCART_UPSTREAM_MAX_IN_FLIGHT,
    adminToken: config.CHAOSCART_ADMIN_TOKEN,
    serviceToken: config.CHAOSCART_SERVICE_TOKEN,
    metrics: gatewayMetrics(app.metrics, () => router.table.version),
    benchEndpoints: config.CHAOSCART_BENCH_ENDPOINTS === "1",
  });
  const running = await listen(app, config.CHAOSCART_HOST, config.CHAOSCART_PORT);
  app.log.info({ port: running.port, regions: router.regions, local }, "gateway listening");
  return running;
}
