import postgres, { type Sql } from "postgres";

export interface PoolOptions {
  max?: number;
  /** Seconds to wait for a connection before failing the query. */
  connectTimeoutSeconds?: number;
  applicationName?: string;
}

export type Db = Sql;

/** The longest a closed connection waits before it reconnects, in seconds. */
export const RECONNECT_BACKOFF_MAX_SECONDS = 1;

/**
 * Seconds a closed pool connection waits before reconnecting. postgres.js counts failed connects
 * across the whole pool (reset only by a successful one) and by default waits 3^n / 100 s, up to
 * 20 s: after a blip of a second (a failover's crash-to-promotion window, every open connection
 * reset) some queries stayed queued on their connection for ~18 s although the database accepted
 * writes again (test/shop/db/pool-reconnect.test.ts). Capped at about a second, with jitter; a dead
 * database is still not hammered: the write guard, readiness and the callers' breakers see to that.
 */
export function reconnectBackoff(retries: number): number {
  return (0.5 + Math.random() / 2) * Math.min(0.05 * 2 ** retries, RECONNECT_BACKOFF_MAX_SECONDS);
}

export function createPool(url: string, options: PoolOptions = {}): Db {
  return postgres(url, {
    max: options.max ?? 10,
    connect_timeout: options.connectTimeoutSeconds ?? 5,
    idle_timeout: 30,
    backoff: reconnectBackoff,
    onnotice: () => {},
    // No JIT: the shop's statements are short, and PostgreSQL compiles per execution, never caching
    // the code. A plan whose estimate passed jit_above_cost (a subquery per row, under a join with a
    // never-analysed table) spent 420 ms compiling a read that runs in 2 ms (relay.ts CURRENT_VERSIONS).
    connection: { application_name: options.applicationName ?? "chaoscart", jit: "off" },
  });
}
