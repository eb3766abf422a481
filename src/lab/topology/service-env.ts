import {
  BUILT_IN_BUG_NAMES,
  BUILT_IN_BUGS,
  type BuiltInBug,
  isBuiltInBug,
} from "../../shop/built-in-bugs.ts";

/**
 * The lab's shop settings: every topology the lab runs experiments against (`chaoscart verify`'s own
 * and `chaoscart lab up`'s, which `verify --target` uses) runs the services with these, so a
 * verdict means the same shop whichever way it was launched.
 */
export const LAB_SERVICE_ENV: Readonly<Record<string, string>> = {
  // Short leases so recovery is visible within an experiment.
  CHAOSCART_ORDER_LEASE_MS: "3000",
  CHAOSCART_RECOVERY_INTERVAL_MS: "500",
  // Outlasts an experiment: stock a saga failed to release is still held when the checkers look.
  CHAOSCART_RESERVATION_TTL_MS: "30000",
  // Expired reservations go back on sale within 0.1 s, so an experiment that shortens the TTL
  // (reservation-ttl) sees expiry race the sagas' commits as it would at scale.
  CHAOSCART_SWEEP_INTERVAL_MS: "100",
  // How long an instance trusts its "sold out" flag (the shop's default, stated because the
  // no-false-sold-out check bounds staleness by it).
  CHAOSCART_SOLD_OUT_TTL_MS: "1000",
  // The order service's sold-out gate (the shop's defaults, stated for the same reason: the bound
  // of no-false-sold-out adds the gate's TTL to the inventory's).
  CHAOSCART_SOLD_OUT_GATE_TTL_MS: "500",
  CHAOSCART_SOLD_OUT_GATE_POLL_MS: "100",
  // Each run seeds fresh SKUs and waits until the catalog reads them (seeding.ts): within 0.5 s
  // rather than the default 5 s refresh (one `SELECT id FROM sku` a second, a few thousand ids).
  CHAOSCART_CATALOG_REFRESH_MS: "1000",
  // Above the slowest provider the suite injects (3 s ± jitter): a late authorization lands within
  // it, and settling waits for it (void watches) without stretching every experiment by a minute.
  CHAOSCART_LATE_AUTHORIZATION_WINDOW_MS: "10000",
  // A flood guard above what the shop can confirm (capacity, measured by verify, is a few hundred
  // orders/s on 2 cores), so it never holds the suite's load below capacity; an overload burst is
  // shed by the order service's admission limit (429 + Retry-After) before it reaches this.
  CHAOSCART_RATE_LIMIT_RPS: "2000",
  CHAOSCART_RATE_LIMIT_BURST: "400",
  CHAOSCART_USER_RATE_LIMIT_RPS: "50",
  CHAOSCART_USER_RATE_LIMIT_BURST: "20",
  // Sized for the suite's real load (40 % of the measured capacity, 50-90 orders/s here) under the
  // faults that lengthen every order (a 100 ms database, 0.4 s payments): an in-flight limit caps
  // throughput at limit ÷ order latency. Measured on 2 shared cores: at 32 the order service refused
  // 429 at its own limit under those faults (availability 0.88 in db-latency, 0.69 in
  // reservation-expiry); at 128 a slow database built a backlog instead (p99 11.9 s, reservation-expiry
  // timing out, availability 0.66); at 96 both held when the capacity measured ~110 orders/s, and an
  // overload burst was still shed with 429 + Retry-After. (The database pool stays at the shop's
  // default 10: at 32 the built-in bug ack-before-commit escaped db-blips in 2 of 4 runs, 0 of 3 at 10.)
  CHAOSCART_ORDER_MAX_IN_FLIGHT: "96",
  // Relays (several regions only): reconcile every 3 s, so a replication-loss fault is repaired
  // within an experiment; a difference must last 1 s (the WAN's lag is tens of ms) to count.
  CHAOSCART_RECONCILE_INTERVAL_MS: "3000",
  CHAOSCART_RECONCILE_GRACE_MS: "1000",
};

/**
 * The bench's shop settings (bench/orders.ts), as overrides on the one base every harness shares: the
 * shop's own defaults (src/shop/config.ts). Not on top of LAB_SERVICE_ENV, on purpose: its settings
 * exist to make faults visible within an experiment on 2 cores (3 s leases renewed every 0.5 s, a
 * 0.1 s sweeper, an admission limit and pool sized for the suite's load under faults), and each of them
 * would change what the bench measures, the shop as deployed. So the bench changes only what would
 * refuse or slow its offered load, and says so in its report.
 */
export const BENCH_SERVICE_ENV: Readonly<Record<string, string>> = {
  // Warnings and errors only: the bench reports any it finds in the logs.
  CHAOSCART_LOG_LEVEL: "warn",
  // Each bench user is distinct: the limits are raised so they never refuse the offered load.
  CHAOSCART_RATE_LIMIT_RPS: "1000000",
  CHAOSCART_RATE_LIMIT_BURST: "1000000",
  CHAOSCART_USER_RATE_LIMIT_RPS: "1000000",
  CHAOSCART_USER_RATE_LIMIT_BURST: "1000000",
  // An instant, flawless provider: the bench measures the shop, not the provider's latency.
  CHAOSCART_PAYMENT_LATENCY_MS: "0",
  CHAOSCART_PAYMENT_ERROR_RATE: "0",
  CHAOSCART_PAYMENT_DECLINE_RATE: "0",
};

/** The variable that switches a built-in bug on in a service (src/shop/built-in-bugs.ts). */
export const BUILT_IN_BUG_VAR = "CHAOSCART_BUILT_IN_BUG";

/**
 * The built-in bug the shell asks for with CHAOSCART_BUILT_IN_BUG, if any. The lab never lets the
 * variable reach its services by inheritance (see ServiceProcess): a launcher that honours it
 * passes it on explicitly and says so.
 */
export function builtInBugFromEnv(env: NodeJS.ProcessEnv): BuiltInBug | undefined {
  const value = env[BUILT_IN_BUG_VAR];
  if (value === undefined || value === "") return undefined;
  if (!isBuiltInBug(value)) {
    throw new Error(
      `${BUILT_IN_BUG_VAR}="${value}" in this shell is not a built-in bug; expected one of ${BUILT_IN_BUG_NAMES.join(", ")}`,
    );
  }
  return value;
}

/** The warning every surface of a deliberately broken shop shows. */
export function builtInBugWarning(bug: BuiltInBug): string {
  return `BUILT-IN BUG "${bug}" (${BUILT_IN_BUGS[bug]}): this is NOT the real shop`;
}
