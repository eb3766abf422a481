/**
 * Built-in bugs: the lab's regression guard (`chaoscart verify --shop-bug <name>`). Each one is a
 * mistake a real team could ship, switched on by `CHAOSCART_BUILT_IN_BUG=<name>` at one small,
 * marked seam in the shop (search for `Built-in bug "`). A lab that still passes on such a build
 * has lost the power to catch that mistake. Without the variable the shop is the real one; a build
 * with a bug must never be mistaken for it, so reports say so loudly (`settings.builtInBug`).
 */
export const BUILT_IN_BUGS = {
  "stock-from-replica":
    "inventory: decides availability from the replica's copy of the stock row and writes the counters back as absolute values",
  "ack-before-commit":
    "inventory: answers a reservation as granted before its batch transaction has committed",
  "ignore-idempotency":
    "order service: keys a new order by the request id, which every retry renews, instead of the Idempotency-Key",
  "no-compensation": "order service: a payment failure cancels the order without releasing its stock",
  "partial-commit":
    "inventory: a commit sells whichever of an order's items are still held, and expiry releases reservations one by one",
  "retry-without-backoff":
    "order service: retries dependency calls at once (no backoff, no jitter, Retry-After ignored), up to 10 attempts",
  "ignore-readonly":
    "order service: keeps sending write requests to a write endpoint its guard knows is read-only, instead of refusing them at once",
  "recover-copies":
    "order service: its recovery loop claims stale in-flight orders of every region, copies of other regions' orders included, and drives them here",
  "reconcile-report-only":
    "relay: its periodic reconciliation finds the rows that differ between regions and logs them, but never repairs them",
  "sticky-sold-out-gate":
    "order service: a SKU its sold-out gate closed stays closed for good (no release, poll or TTL opens it again)",
} as const;

export type BuiltInBug = keyof typeof BUILT_IN_BUGS;

export const BUILT_IN_BUG_NAMES = Object.keys(BUILT_IN_BUGS) as [BuiltInBug, ...BuiltInBug[]];

export function isBuiltInBug(name: string): name is BuiltInBug {
  return Object.hasOwn(BUILT_IN_BUGS, name);
}
