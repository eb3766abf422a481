import type { CheckResult } from "./check.ts";

/**
 * Checks across regions (issue "active-active, part 1" §6), pure functions of what every region's
 * database and payment provider hold once the faults healed and replication settled. `verify` runs
 * them in a two-region experiment (regional.ts); the two-region lab test runs them too.
 */

export interface RegionOrder {
  id: string;
  userId: string;
  idemKey: string;
  homeRegion: string;
  state: string;
  cancelReason: string | null;
  total: number;
  /** The shop's payment row for the order in this region (null: none). */
  payment: string | null;
  versionHlc: string;
  versionRegion: string;
}

export interface RegionState {
  name: string;
  orders: readonly RegionOrder[];
  /** The region's conflict log. */
  conflicts: readonly { kind: string; orderId: string }[];
  /** What the region's payment provider holds, per order. */
  provider: readonly { orderId: string; state: string; amount: number }[];
}

const MAX_PROBLEMS = 50;

function result(problems: string[]): CheckResult {
  return { valid: problems.length === 0, problems: problems.slice(0, MAX_PROBLEMS) };
}

/** At most one order per (user, idempotency key) across every region. */
export function checkUniqueKeys(regions: readonly RegionState[]): CheckResult {
  const byKey = new Map<string, Set<string>>();
  for (const region of regions) {
    for (const order of region.orders) {
      const key = `${order.userId}\u0000${order.idemKey}`;
      const ids = byKey.get(key) ?? new Set<string>();
      ids.add(order.id);
      byKey.set(key, ids);
    }
  }
  const problems = [...byKey]
    .filter(([, ids]) => ids.size > 1)
    .map(([key, ids]) => {
      const [user, idemKey] = key.split("\u0000");
      return `user ${user} key ${idemKey}: ${ids.size} orders (${[...ids].join(", ")})`;
    });
  return result(problems);
}

const VERSION_FIELDS = ["state", "cancelReason", "payment", "total", "versionHlc", "versionRegion"] as const;

/** Every order is in every region, and every region holds the same version of it. */
export function checkConverged(regions: readonly RegionState[]): CheckResult {
  const problems: string[] = [];
  const ids = new Set(regions.flatMap((r) => r.orders.map((o) => o.id)));
  const indexes = regions.map((r) => new Map(r.orders.map((o) => [o.id, o])));
  for (const id of [...ids].sort()) {
    const versions = indexes.map((index) => index.get(id));
    const missing = regions.filter((_, i) => !versions[i]).map((r) => r.name);
    if (missing.length > 0) {
      problems.push(`order ${id}: missing in ${missing.join(", ")}`);
      continue;
    }
    const held = versions as RegionOrder[];
    const differing = VERSION_FIELDS.filter((f) => new Set(held.map((v) => JSON.stringify(v[f]))).size > 1);
    if (differing.length > 0) {
      const shown = regions.map((r, i) => `${r.name} ${held[i]?.state}/${held[i]?.payment ?? "-"}`);
      // State and payment alone hide a garbled total or a version of another writer.
      const fields = differing.map(
        (f) => `${f}: ${regions.map((r, i) => `${r.name} ${String(held[i]?.[f])}`).join(", ")}`,
      );
      problems.push(
        `order ${id}: regions hold different versions (${shown.join("; ")}), differing in ${fields.join("; ")}`,
      );
    }
  }
  return result(problems);
}

/**
 * Money across regions and providers: for each order (as its home region holds it), what every
 * region's provider captured and did not refund adds up to the order's total when it is CONFIRMED
 * and to nothing otherwise. Catches a capture in two regions, or one the home never confirmed.
 */
export function checkMoneyAcrossRegions(regions: readonly RegionState[]): CheckResult {
  const problems: string[] = [];
  const kept = new Map<string, number>();
  for (const region of regions) {
    for (const payment of region.provider) {
      if (payment.state === "CAPTURED")
        kept.set(payment.orderId, (kept.get(payment.orderId) ?? 0) + payment.amount);
    }
  }
  const homeVersions = new Map<string, RegionOrder>();
  for (const region of regions) {
    for (const order of region.orders)
      if (order.homeRegion === region.name) homeVersions.set(order.id, order);
  }
  for (const [id, order] of homeVersions) {
    const expected = order.state === "CONFIRMED" ? order.total : 0;
    const captured = kept.get(id) ?? 0;
    if (captured !== expected)
      problems.push(
        `order ${id} (${order.state} in ${order.homeRegion}): providers keep ${captured}, expected ${expected}`,
      );
  }
  for (const [id, captured] of kept) {
    if (!homeVersions.has(id) && captured > 0)
      problems.push(`order ${id}: providers keep ${captured} for an order no region is home to`);
  }
  return result(problems);
}

/**
 * Every order whose surviving version was written by a region other than its home (two writers met)
 * has its resolution in some region's conflict log, and every logged conflict names a known order.
 */
export function checkConflictsExplained(regions: readonly RegionState[]): CheckResult {
  const problems: string[] = [];
  const logged = new Set(regions.flatMap((r) => r.conflicts.map((c) => c.orderId)));
  const known = new Set(regions.flatMap((r) => r.orders.map((o) => o.id)));
  const foreign = new Set<string>();
  for (const region of regions) {
    for (const order of region.orders) if (order.versionRegion !== order.homeRegion) foreign.add(order.id);
  }
  for (const id of [...foreign].sort()) {
    if (!logged.has(id))
      problems.push(`order ${id}: a version written outside its home region, with no conflict logged`);
  }
  for (const region of regions) {
    for (const conflict of region.conflicts) {
      if (!known.has(conflict.orderId))
        problems.push(`${region.name}: conflict log names order ${conflict.orderId}, which no region has`);
    }
  }
  return result(problems);
}

export const CROSS_REGION_CHECKS = {
  "cross-region-unique-key": checkUniqueKeys,
  "cross-region-converged": checkConverged,
  "cross-region-money": checkMoneyAcrossRegions,
  "conflicts-explained": checkConflictsExplained,
} as const;

/** The cross-region checks in report order, with what holds when each passes. */
export const CROSS_REGION_CHECKERS = [
  {
    name: "cross-region-unique-key",
    holds: "at most one order per user and idempotency key across every region",
    check: checkUniqueKeys,
  },
  {
    name: "cross-region-converged",
    holds: "every region holds every order, each in the same version",
    check: checkConverged,
  },
  {
    name: "cross-region-money",
    holds:
      "what every region's provider kept adds up to each CONFIRMED order's total, and to nothing otherwise",
    check: checkMoneyAcrossRegions,
  },
  {
    name: "conflicts-explained",
    holds: "every version written outside its home region has its conflict logged",
    check: checkConflictsExplained,
  },
] as const;
