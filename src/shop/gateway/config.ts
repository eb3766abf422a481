import { z } from "zod";
import { adminTokenSchema, ConfigError, type EnvConfig, serviceTokenSchema } from "../config.ts";
import { MAX_REGION } from "../domain/ids.ts";

/** `chaoscart serve gateway`: read with `readEnv(gatewayEnv)` from ../config.ts. */

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const positive = (max: number) => z.coerce.number().positive().max(max);

const REGION_NAME = /^[a-z][a-z0-9-]{0,31}$/;

export interface RegionUpstream {
  /** Region name; its position in the list is its region code (the one snowflake ids carry). */
  name: string;
  /** Base URL of that region's order service, without a trailing slash. */
  url: string;
}

/** `east=http://127.0.0.1:7101,west=http://127.0.0.1:7201` → [{name, url}] in list order. */
const regionList = z
  .string()
  .default("east=http://127.0.0.1:7101")
  .transform((raw, ctx): RegionUpstream[] => {
    const problem = (message: string) => {
      ctx.issues.push({ code: "custom", message, input: raw });
      return z.NEVER;
    };
    const entries = raw
      .split(",")
      .map((entry) => entry.trim())
      .filter(Boolean);
    if (entries.length === 0) return problem("expected at least one region=url entry");
    if (entries.length > MAX_REGION + 1) return problem(`at most ${MAX_REGION + 1} regions are supported`);
    const regions: RegionUpstream[] = [];
    for (const entry of entries) {
      const eq = entry.indexOf("=");
      const name = eq < 0 ? "" : entry.slice(0, eq).trim();
      const url = eq < 0 ? "" : entry.slice(eq + 1).trim();
      if (!REGION_NAME.test(name)) {
        return problem(`"${entry}": expected region=url with a region name matching ${REGION_NAME.source}`);
      }
      if (regions.some((region) => region.name === name)) return problem(`region "${name}" is listed twice`);
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        return problem(`"${entry}": "${url}" is not a URL`);
      }
      if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
        return problem(`"${entry}": expected an http:// or https:// URL`);
      }
      regions.push({ name, url: `${parsed.origin}${parsed.pathname.replace(/\/+$/, "")}` });
    }
    return regions;
  });

export const gatewayEnv = {
  CHAOSCART_HOST: z.string().default("127.0.0.1"),
  CHAOSCART_PORT: int(0, 65535).default(7100),
  /** Guards /admin/routing; without it those answer 403. */
  CHAOSCART_ADMIN_TOKEN: adminTokenSchema,
  /** Sent to the order services, which answer nobody else. */
  CHAOSCART_SERVICE_TOKEN: serviceTokenSchema,
  CHAOSCART_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** Region name → that region's order service; the order of the list gives the region codes. */
  CHAOSCART_REGIONS: regionList,
  /** The gateway's own region (catalog reads go there); defaults to the first of CHAOSCART_REGIONS. */
  CHAOSCART_REGION: z.string().regex(REGION_NAME).optional(),
  CHAOSCART_RATE_LIMIT_RPS: positive(1e7).default(2000),
  CHAOSCART_RATE_LIMIT_BURST: int(1, 1e7).default(400),
  CHAOSCART_USER_RATE_LIMIT_RPS: positive(1e6).default(20),
  CHAOSCART_USER_RATE_LIMIT_BURST: int(1, 1e6).default(10),
  /**
   * Requests in flight to one region's order service, and connections kept to it: a request beyond
   * is answered 429 (`scope: "upstream"`) at once, never queued behind busy connections.
   */
  CHAOSCART_UPSTREAM_MAX_IN_FLIGHT: int(1, 10_000).default(128),
  /** Per-request upstream timeout for POST /orders (the order saga may take a while). */
  CHAOSCART_ORDER_TIMEOUT_MS: int(1, 600_000).default(5000),
  /** Per-request upstream timeout for reads (GET /orders/:id, GET /skus/:id). */
  CHAOSCART_READ_TIMEOUT_MS: int(1, 600_000).default(1000),
  /**
   * Adds `POST /bench/noop-order`: the order route's parsing, limits and routing decision, answered
   * without an upstream (the HTTP ceiling `npm run bench:flash-sale` compares the shop against).
   */
  CHAOSCART_BENCH_ENDPOINTS: z.enum(["0", "1"]).default("0"),
} as const;

export type GatewayConfig = EnvConfig<typeof gatewayEnv>;

/** The local region: CHAOSCART_REGION when set (it must be listed), else the first listed region. */
export function localRegion(config: Pick<GatewayConfig, "CHAOSCART_REGIONS" | "CHAOSCART_REGION">): string {
  const names = config.CHAOSCART_REGIONS.map((region) => region.name);
  const local = config.CHAOSCART_REGION ?? names[0];
  if (local === undefined || !names.includes(local)) {
    throw new ConfigError([
      `CHAOSCART_REGION: "${local}" is not one of CHAOSCART_REGIONS (${names.join(", ")})`,
    ]);
  }
  return local;
}
