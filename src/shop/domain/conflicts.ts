import type { CancelReason, OrderState } from "./order.ts";

/**
 * Conflict resolution between regions (issue "active-active, part 1" §4), free of I/O.
 *
 * Two regions can hold different versions of one order (a slot moved, a stale owner during a
 * partition, a retry in the other region). Each region resolves every pair it meets with the same
 * rule, whatever the order in which versions arrive: the winner is the greater version under one
 * total order — business precedence first, then the hybrid logical clock, then the region name.
 * Picking the maximum of a total order is commutative, associative and idempotent, so every region
 * converges on the same version for any delivery order, duplicates included.
 */

export type PaymentOutcome = "AUTHORIZED" | "CAPTURED" | "VOIDED" | "REFUNDED";

export interface OrderVersion {
  id: string;
  state: OrderState;
  cancelReason: CancelReason | null;
  /** The order's payment as this version knows it (null: none recorded). */
  payment: PaymentOutcome | null;
  /** The HLC of the change that produced this version (fixed-width text: sorts as it compares). */
  hlc: string;
  /** The region that wrote this version; the last tie-breaker. */
  region: string;
}

/**
 * How far a version's business outcome went; a greater rank wins whatever the clocks say.
 * - Progress only moves forward: PENDING < RESERVED < PAID.
 * - A decided cancellation (still compensating) beats forward progress it stopped.
 * - A cancellation that never captured money loses to a confirmation: an order whose payment was
 *   captured beats a cancellation by timeout.
 * - A compensated order stays compensated: once its capture was refunded, it is cancelled for good.
 */
export function precedence(v: Pick<OrderVersion, "state" | "cancelReason" | "payment">): number {
  switch (v.state) {
    case "PENDING":
      return v.cancelReason ? 3 : 0;
    case "RESERVED":
      return v.cancelReason ? 3 : 1;
    case "PAID":
      return v.cancelReason ? 3 : 2;
    case "CANCELLED":
      return v.payment === "REFUNDED" ? 6 : 4;
    case "CONFIRMED":
      return 5;
  }
}

/**
 * The version's place in the total order as one string: versions compare as their keys compare,
 * code unit by code unit (`COLLATE "C"` in SQL). Business precedence first (one digit), then the
 * HLC (fixed width), then the writing region, then the fields the rules above do not rank, so two
 * keys are equal only for equal versions. The relay's apply statement compares the version a region
 * holds with an incoming one in SQL by the same key: migration 007's `chaoscart_version_key` builds
 * it there, and test/shop/relay/version-key.test.ts holds the two to the same strings.
 */
export function versionKey(v: Omit<OrderVersion, "id">): string {
  return [precedence(v), v.hlc, v.region, v.state, v.cancelReason ?? "-", v.payment ?? "-"].join(" ");
}

/** Negative, zero or positive as `a` loses to, ties with or beats `b`. Zero only for equal versions. */
export function compareVersions(a: OrderVersion, b: OrderVersion): number {
  return compareText(versionKey(a), versionKey(b));
}

/** The version both regions keep. */
export function resolveOrder(a: OrderVersion, b: OrderVersion): OrderVersion {
  if (a.id !== b.id) throw new RangeError(`versions of different orders: ${a.id} and ${b.id}`);
  return compareVersions(a, b) >= 0 ? a : b;
}

/** Resolves any number of versions of one order, in any order, to the same winner. */
export function resolveAll(versions: readonly OrderVersion[]): OrderVersion | undefined {
  return versions.reduce<OrderVersion | undefined>((won, v) => (won ? resolveOrder(won, v) : v), undefined);
}

export interface KeyCollision {
  survivor: OrderVersion;
  /** Must be compensated exactly once: stock released, authorization voided or capture refunded. */
  loser: OrderVersion;
}

/**
 * Two orders (two ids) for the same user and idempotency key, placed in two regions: one survives.
 * The one whose business outcome went further survives; between equals, the one placed first (the
 * lower HLC: the client's first attempt), then the lower id. Symmetric: both regions pick the same.
 */
export function resolveKeyCollision(a: OrderVersion, b: OrderVersion): KeyCollision {
  if (a.id === b.id) throw new RangeError(`not a collision: both versions are order ${a.id}`);
  const aSurvives =
    (precedence(a) - precedence(b) || compareText(b.hlc, a.hlc) || compareText(b.id, a.id)) > 0;
  return aSurvives ? { survivor: a, loser: b } : { survivor: b, loser: a };
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** What a region does with a version of an order that a peer shipped it. */
export type ApplyDecision =
  | { action: "insert" }
  | { action: "replace"; conflict: boolean }
  | { action: "keep"; conflict: boolean };

/**
 * Whether an incoming version replaces the one a region holds. The greater version wins, so the
 * result does not depend on the order versions arrive in. It is a conflict (logged with both
 * versions) when the two were written by different regions and differ: one region's progress on its
 * own order is not a conflict, two writers of one order are. The relay applies this rule in SQL, in
 * the statement that writes the batch (relay/order-copies.ts); test/shop/relay/version-key.test.ts
 * checks the two decide alike.
 */
export function applyDecision(held: OrderVersion | undefined, incoming: OrderVersion): ApplyDecision {
  if (!held) return { action: "insert" };
  if (held.id !== incoming.id)
    throw new RangeError(`versions of different orders: ${held.id} and ${incoming.id}`);
  const order = compareVersions(incoming, held);
  const conflict = order !== 0 && held.region !== incoming.region;
  return order > 0 ? { action: "replace", conflict } : { action: "keep", conflict };
}
