import postgres, { type Sql } from "postgres";

/**
 * The settle window (docs/architecture.md §Invariants "terminal sagas"): after the workload, the runner waits for every
 * saga of the experiment to end before it reads the final state. It waits at least the experiment's
 * settle time; past that, as long as sagas are still ending; and it gives up once none has ended
 * for a while (they are stuck: the terminal-sagas check reports them) or at a hard limit.
 *
 * "Still ending" is judged by progress, not by the clock alone: a shop that drives 180 orders to
 * their end in 50 s after a failover on a loaded machine is recovering, not stuck, and cutting it
 * off at a fixed 45 s reported those orders as in flight. How long settling took is logged, so a
 * slow recovery stays visible.
 */
export interface SettleOptions {
  /** How many of the experiment's orders are not terminal yet. */
  inFlight: () => Promise<number>;
  /** The experiment's settle time: the least the runner waits. */
  settleMs: number;
  /** Never give up before this (unless everything has ended). Default 45 s. */
  floorMs?: number;
  /** Give up when the in-flight count has not fallen to a new low for this long. Default 30 s. */
  stallMs?: number;
  /** Never wait longer than this. Default 180 s. */
  limitMs?: number;
  pollMs?: number;
  /** For tests: a clock (ms) and a sleep. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface SettleOutcome {
  /** Every saga ended (the count reached 0 and the settle time passed). */
  settled: boolean;
  /** Why waiting stopped. */
  reason: "settled" | "stalled" | "limit";
  waitedMs: number;
  /** Orders still in flight when waiting stopped. */
  inFlight: number;
  /** In flight at the first look (right after the workload, plus the first pause). */
  inFlightAtStart: number;
  /** Time since the count last fell to a new low, when waiting stopped. */
  sinceProgressMs: number;
}

export const SETTLE_FLOOR_MS = 45_000;
export const SETTLE_STALL_MS = 30_000;
export const SETTLE_LIMIT_MS = 180_000;

export async function waitForSagas(options: SettleOptions): Promise<SettleOutcome> {
  const now = options.now ?? (() => Date.now());
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const { settleMs } = options;
  const floorMs = Math.max(settleMs, options.floorMs ?? SETTLE_FLOOR_MS);
  const stallMs = options.stallMs ?? SETTLE_STALL_MS;
  const limitMs = Math.max(floorMs, options.limitMs ?? SETTLE_LIMIT_MS);
  const pollMs = options.pollMs ?? 500;
  const startedAt = now();
  await sleep(Math.min(settleMs, 2_000));
  let lowest = Number.POSITIVE_INFINITY;
  let lowestAt = now();
  let first: number | undefined;
  for (;;) {
    const n = await options.inFlight();
    const at = now();
    first ??= n;
    if (n < lowest) {
      lowest = n;
      lowestAt = at;
    }
    const elapsed = at - startedAt;
    const outcome = (settled: boolean, reason: SettleOutcome["reason"]): SettleOutcome => ({
      settled,
      reason,
      waitedMs: elapsed,
      inFlight: n,
      inFlightAtStart: first ?? n,
      sinceProgressMs: at - lowestAt,
    });
    if (n === 0 && elapsed >= settleMs) return outcome(true, "settled");
    if (elapsed >= limitMs) return outcome(false, "limit");
    if (elapsed >= floorMs && at - lowestAt >= stallMs) return outcome(false, "stalled");
    await sleep(pollMs);
  }
}

/**
 * Waits for the experiment's orders (created since `since`) in the database the shop writes now:
 * every saga terminal, and every watched void of a cancelled order's authorization closed.
 */
export async function settle(
  databaseUrl: string,
  settleMs: number,
  since: Date,
  limits: Pick<SettleOptions, "floorMs" | "stallMs"> = {},
  homeRegion?: string,
): Promise<SettleOutcome> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    return await waitForSagas({
      ...limits,
      settleMs,
      inFlight: () => sagasInFlight(sql, since, homeRegion),
    });
  } finally {
    await sql.end({ timeout: 2 });
  }
}

/**
 * Orders created since `since` that have not ended: not terminal, or cancelled with a void still
 * watched (its authorization may still be open at the provider; the money check needs the
 * provider's final word). With `homeRegion`, only the orders homed there: a copy of another
 * region's order is driven there, and only catches up by replication.
 */
export async function sagasInFlight(sql: Sql, since: Date, homeRegion?: string): Promise<number> {
  const all = homeRegion === undefined;
  const [row] = await sql<{ n: number }[]>`
    SELECT (SELECT count(*) FROM orders
            WHERE state NOT IN ('CONFIRMED', 'CANCELLED') AND created_at >= ${since}
              AND (${all} OR home_region = ${homeRegion ?? ""}))
         + (SELECT count(*) FROM payment_void_watch w JOIN orders o ON o.id = w.order_id
            WHERE w.closed_at IS NULL AND o.created_at >= ${since}
              AND (${all} OR o.home_region = ${homeRegion ?? ""})) AS n`;
  return Number(row?.n ?? 0);
}

/** One line for the run log. */
export function describeSettle(outcome: SettleOutcome): string {
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  if (outcome.settled) {
    return `settled in ${seconds(outcome.waitedMs)} (${outcome.inFlightAtStart} order(s) in flight at the first look)`;
  }
  const why =
    outcome.reason === "limit"
      ? "the settle limit"
      : `no order ended for ${seconds(outcome.sinceProgressMs)}`;
  return `gave up settling after ${seconds(outcome.waitedMs)} (${why}): ${outcome.inFlight} order(s) still in flight, ${outcome.inFlightAtStart} at the first look`;
}
