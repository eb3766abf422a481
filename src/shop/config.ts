import { z } from "zod";
import { BUILT_IN_BUG_NAMES } from "./built-in-bugs.ts";

/**
 * Service configuration from environment variables, validated at start-up. Every error names the
 * variable, so a misconfigured deployment fails loudly instead of half-working.
 */

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const ms = (min: number, max: number) => z.coerce.number().min(min).max(max);

/**
 * The credential every internal call carries and every internal route checks. Required by every role
 * that calls or serves one (inventory, payment-sim, order, gateway): an internal service must not
 * answer whoever reaches its port, and the loopback is no boundary on a shared machine.
 * `serve all` generates one when unset (its roles share one process).
 */
export const serviceTokenSchema = z
  .string({
    error:
      "required: the credential internal calls carry (the same value for every service), e.g. `openssl rand -hex 32`",
  })
  .min(16, "must be at least 16 characters");

/** Guards /admin/* (seeding, routing, the payment simulator's knobs); without it those answer 403. */
export const adminTokenSchema = z.string().min(8, "must be at least 8 characters").optional();

/**
 * Guards /lab/* (runtime faults: event-loop block, CPU burn, clock offset, reservation TTL); without
 * it the service has no lab routes at all. The lab sets it on the services it launches.
 */
export const labTokenSchema = z.string().min(8, "must be at least 8 characters").optional();

export const inventoryEnv = {
  CHAOSCART_DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, "expected a postgres:// connection URL"),
  CHAOSCART_HOST: z.string().default("127.0.0.1"),
  CHAOSCART_PORT: int(0, 65535).default(7102),
  CHAOSCART_REGION: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,31}$/)
    .default("east"),
  CHAOSCART_ADMIN_TOKEN: adminTokenSchema,
  CHAOSCART_LAB_TOKEN: labTokenSchema,
  CHAOSCART_SERVICE_TOKEN: serviceTokenSchema,
  CHAOSCART_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  CHAOSCART_DB_POOL_MAX: int(1, 200).default(10),
  CHAOSCART_INVENTORY_STRATEGY: z.enum(["coalesce", "direct"]).default("coalesce"),
  CHAOSCART_BATCH_WINDOW_MS: ms(0, 2).default(0),
  CHAOSCART_BATCH_MAX: int(1, 5000).default(512),
  /**
   * Rows a SKU's stock is split into when it is seeded without saying: each is its own lock, so
   * several batches of a hot SKU commit at once (docs/architecture.md §Inventory, "Stock buckets").
   */
  CHAOSCART_INVENTORY_STOCK_BUCKETS: int(1, 64).default(1),
  /** Requests queued for one bucket before the next bucket's lane takes some (the README has the trade). */
  CHAOSCART_INVENTORY_BUCKET_SPILL: int(1, 5000).default(64),
  CHAOSCART_RESERVATION_TTL_MS: int(100, 86_400_000).default(60_000),
  CHAOSCART_SOLD_OUT_TTL_MS: int(0, 60_000).default(1_000),
  CHAOSCART_SWEEP_INTERVAL_MS: int(10, 3_600_000).default(1_000),
  CHAOSCART_SWEEP_LIMIT: int(1, 10_000).default(500),
  /** Adds `POST /noop` (same validation, no database): the HTTP ceiling the benchmark compares against. */
  CHAOSCART_BENCH_ENDPOINTS: z.enum(["0", "1"]).default("0"),
  /**
   * Hot standby. Stock decisions never read it: only the built-in bug `stock-from-replica` does, and
   * that bug needs it. Without the bug the inventory never connects to it.
   */
  CHAOSCART_REPLICA_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "expected a postgres:// connection URL")
    .optional(),
  /** A deliberate bug for the lab's regression guard (src/shop/built-in-bugs.ts); unset: the real shop. */
  CHAOSCART_BUILT_IN_BUG: z
    .enum(BUILT_IN_BUG_NAMES, {
      error: `unknown built-in bug; expected one of ${BUILT_IN_BUG_NAMES.join(", ")}`,
    })
    .optional(),
} as const;

export const orderEnv = {
  CHAOSCART_DATABASE_URL: inventoryEnv.CHAOSCART_DATABASE_URL,
  CHAOSCART_HOST: inventoryEnv.CHAOSCART_HOST,
  CHAOSCART_PORT: int(0, 65535).default(7101),
  CHAOSCART_REGION: inventoryEnv.CHAOSCART_REGION,
  /** This region's position in the deployment's region list; it is written into every order id. */
  CHAOSCART_REGION_CODE: int(0, 31).default(0),
  /**
   * Every region of the deployment, in code order (comma-separated); unset: this region alone. Seeds
   * the unit ownership table (slot i → region i mod n, epoch 1) when a database has none yet.
   */
  CHAOSCART_DEPLOYMENT_REGIONS: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,31}(,[a-z][a-z0-9-]{0,31})*$/, "expected comma-separated region names")
    .optional(),
  /** Distinguishes order-id generators within a region; default: random. */
  CHAOSCART_WORKER_ID: int(0, 127).optional(),
  CHAOSCART_ADMIN_TOKEN: adminTokenSchema,
  CHAOSCART_LAB_TOKEN: labTokenSchema,
  CHAOSCART_SERVICE_TOKEN: serviceTokenSchema,
  CHAOSCART_LOG_LEVEL: inventoryEnv.CHAOSCART_LOG_LEVEL,
  CHAOSCART_DB_POOL_MAX: inventoryEnv.CHAOSCART_DB_POOL_MAX,
  /** Optional hot standby for read-only queries; reads fall back to the primary when it is stale. */
  CHAOSCART_REPLICA_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "expected a postgres:// connection URL")
    .optional(),
  CHAOSCART_REPLICA_MAX_STALENESS_MS: int(0, 600_000).default(1_000),
  CHAOSCART_REPLICA_HEARTBEAT_MS: int(10, 60_000).default(200),
  CHAOSCART_INVENTORY_URL: z.string().url(),
  CHAOSCART_PAYMENT_URL: z.string().url(),
  /** POST /orders answers 202 with the order's URL when the saga has not settled by then. */
  CHAOSCART_ORDER_DEADLINE_MS: int(50, 60_000).default(3_000),
  /**
   * Admission control: sagas this process drives at once (requests and recovery) above which a new
   * order is refused with 429 + Retry-After before anything is written. Past the shop's capacity,
   * admitting more only lengthens every queue — a burst would leave a backlog that outlives it.
   */
  CHAOSCART_ORDER_MAX_IN_FLIGHT: int(1, 100_000).default(64),
  /**
   * The sold-out gate (src/shop/orders/sold-out-gate.ts): how long one "none left" from the inventory
   * lets this service answer new orders of that SKU `409 sold_out` from memory (0: no gate). Its
   * staleness bound: a gate is open within a poll of the stock coming back, and after this long at
   * most when polls fail; it stacks on the inventory's CHAOSCART_SOLD_OUT_TTL_MS.
   */
  CHAOSCART_SOLD_OUT_GATE_TTL_MS: int(0, 60_000).default(500),
  /** While any SKU is gated, how often the gate asks the inventory for the gated SKUs' stock. */
  CHAOSCART_SOLD_OUT_GATE_POLL_MS: int(10, 60_000).default(100),
  /** How often the catalog's Bloom filter is rebuilt from the database: a new SKU reads "unknown" until then. */
  CHAOSCART_CATALOG_REFRESH_MS: int(100, 3_600_000).default(5_000),
  /**
   * A driver's claim on an in-flight order, renewed by the recovery loop of the process driving it
   * (every CHAOSCART_RECOVERY_INTERVAL_MS); the recovery loop of any instance takes over orders whose
   * lease ran out, so a dead instance's orders move again this long after it stopped renewing.
   */
  CHAOSCART_ORDER_LEASE_MS: int(500, 600_000).default(3_000),
  /**
   * Group commit of the saga's placements and forward steps (src/shop/db/group-commit.ts):
   * statements of each kind in flight at once before further writes queue for the next batch (0: one
   * statement per write); and the most writes one statement carries.
   */
  CHAOSCART_ORDER_GROUP_COMMIT_IN_FLIGHT: int(0, 200).default(4),
  CHAOSCART_ORDER_GROUP_COMMIT_MAX_BATCH: int(1, 1_000).default(64),
  /**
   * The order service's calls to the inventory, batched (src/shop/inventory/client.ts): calls of each
   * kind in flight at once before further requests queue for the next call (0: one call per
   * request); and the most requests one call carries. Reserves join their SKUs' lanes there; a
   * call of commits is one statement and one commit there. Reserves are not batched by default: on
   * the e2e bench it changed neither orders/s nor CPU per order (README, Benchmark), while batched
   * commits saved a database commit per order.
   */
  CHAOSCART_INVENTORY_RESERVE_BATCH_IN_FLIGHT: int(0, 200).default(0),
  CHAOSCART_INVENTORY_RESERVE_BATCH_MAX: int(1, 256).default(64),
  CHAOSCART_INVENTORY_COMMIT_BATCH_IN_FLIGHT: int(0, 200).default(4),
  CHAOSCART_INVENTORY_COMMIT_BATCH_MAX: int(1, 256).default(64),
  CHAOSCART_RECOVERY_INTERVAL_MS: int(50, 60_000).default(500),
  /**
   * How late the payment provider may still apply an authorize the shop gave up on. A cancelled
   * order that sent an authorize keeps its payment watched this long, and any authorization that
   * appears is voided (src/shop/orders/void-watch.ts).
   */
  CHAOSCART_LATE_AUTHORIZATION_WINDOW_MS: int(0, 86_400_000).default(60_000),
  /** Per attempt, and attempts in all, for calls to each dependency. */
  CHAOSCART_INVENTORY_TIMEOUT_MS: int(10, 120_000).default(1_000),
  CHAOSCART_INVENTORY_MAX_ATTEMPTS: int(1, 10).default(3),
  CHAOSCART_PAYMENT_TIMEOUT_MS: int(10, 120_000).default(1_500),
  CHAOSCART_PAYMENT_MAX_ATTEMPTS: int(1, 10).default(3),
  /** Share of the last 20 calls that must fail (with at least 10 made) to open a dependency's breaker. */
  CHAOSCART_BREAKER_THRESHOLD: z.coerce.number().gt(0).max(1).default(0.5),
  CHAOSCART_BREAKER_HALF_OPEN_MS: int(100, 600_000).default(2_000),
  CHAOSCART_BULKHEAD_LIMIT: int(1, 10_000).default(128),
  CHAOSCART_BULKHEAD_QUEUE: int(0, 100_000).default(512),
  CHAOSCART_BUILT_IN_BUG: inventoryEnv.CHAOSCART_BUILT_IN_BUG,
} as const;

export type EnvShape = Record<string, z.ZodType>;
export type EnvConfig<S extends EnvShape> = { [K in keyof S]: z.output<S[K]> };

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
  }
}

export function readEnv<S extends EnvShape>(shape: S, env: NodeJS.ProcessEnv = process.env): EnvConfig<S> {
  const values: Record<string, unknown> = {};
  for (const key of Object.keys(shape)) {
    const raw = env[key];
    values[key] = raw === "" ? undefined : raw;
  }
  const parsed = z.object(shape).safeParse(values);
  if (parsed.success) return parsed.data as EnvConfig<S>;
  const problems = parsed.error.issues.map((issue) => {
    const key = String(issue.path[0]);
    const got = env[key] === undefined ? "unset" : JSON.stringify(env[key]);
    return `${key}: ${issue.message} (got ${got})`;
  });
  throw new ConfigError(problems);
}

export type InventoryConfig = EnvConfig<typeof inventoryEnv>;
export type OrderConfig = EnvConfig<typeof orderEnv>;
