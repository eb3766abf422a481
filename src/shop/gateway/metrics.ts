import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** What refused a request 429: the global bucket, the user's, or the upstream's in-flight bound. */
export type RateLimitScope = "global" | "user" | "upstream";
/** How an upstream call ended: a response (any status), or which kind of failure. */
export type UpstreamOutcome = "response" | "timeout" | "unavailable" | "error";

export interface GatewayMetrics {
  request(route: string, status: number): void;
  rateLimited(scope: RateLimitScope): void;
  upstream(region: string, route: string, outcome: UpstreamOutcome, seconds: number): void;
}

/** Gateway metrics on the app's registry; the routing version is read when scraped. */
export function gatewayMetrics(registry: Registry, routingVersion: () => number): GatewayMetrics {
  const requests = new Counter({
    name: "chaoscart_gateway_requests_total",
    help: "Requests answered by the gateway, by route and status",
    labelNames: ["route", "status"],
    registers: [registry],
  });
  const limited = new Counter({
    name: "chaoscart_gateway_rate_limited_total",
    help: "Requests refused with 429, by the bucket that refused them",
    labelNames: ["scope"],
    registers: [registry],
  });
  const upstreamSeconds = new Histogram({
    name: "chaoscart_gateway_upstream_seconds",
    help: "Time from forwarding a request to the upstream's response headers (or failure)",
    labelNames: ["region", "route", "outcome"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  new Gauge({
    name: "chaoscart_gateway_routing_version",
    help: "Version of the slot → home region table in use",
    registers: [registry],
    collect() {
      this.set(routingVersion());
    },
  });
  return {
    request(route, status) {
      requests.inc({ route, status: String(status) });
    },
    rateLimited(scope) {
      limited.inc({ scope });
    },
    upstream(region, route, outcome, seconds) {
      upstreamSeconds.observe({ region, route, outcome }, seconds);
    },
  };
}
