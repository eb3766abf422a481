import type { CheckResult } from "./check.ts";
import { defineChecker } from "./checker.ts";
import type { LedgerMovement, LedgerReservation, LedgerState } from "./observed.ts";

/**
 * Checks one region's inventory tables against each other (docs/architecture.md §Invariants, "conservation"): stock rows
 * balance, every reservation has exactly the ledger movements its state implies, and the ledger
 * adds up to the stock counters. Pure: feed it rows, get problems back.
 */

export type { LedgerMovement, LedgerReservation, LedgerState, LedgerStock } from "./observed.ts";

const EXPECTED_MOVEMENTS: Record<LedgerReservation["state"], LedgerMovement["kind"][]> = {
  HELD: ["reserve"],
  COMMITTED: ["reserve", "commit"],
  RELEASED: ["reserve", "release"],
};

export function checkInventoryLedger(state: LedgerState): CheckResult {
  const problems: string[] = [];
  const totals = new Map<string, Record<LedgerMovement["kind"], number>>();
  const byReservation = new Map<string, LedgerMovement[]>();
  for (const m of state.movements) {
    const t = totals.get(m.sku) ?? { seed: 0, reserve: 0, release: 0, commit: 0 };
    t[m.kind] += m.qty;
    totals.set(m.sku, t);
    if (m.kind === "seed") continue;
    const key = `${m.orderId}/${m.sku}`;
    byReservation.set(key, [...(byReservation.get(key) ?? []), m]);
  }

  for (const s of state.stock) {
    if (s.available + s.reserved + s.sold !== s.quota) {
      problems.push(
        `${s.sku}: available ${s.available} + reserved ${s.reserved} + sold ${s.sold} != quota ${s.quota}`,
      );
    }
    if (s.available < 0 || s.reserved < 0 || s.sold < 0) problems.push(`${s.sku}: negative counter`);
    const t = totals.get(s.sku) ?? { seed: 0, reserve: 0, release: 0, commit: 0 };
    if (t.seed !== s.quota) problems.push(`${s.sku}: seeded ${t.seed} but quota is ${s.quota}`);
    if (t.commit !== s.sold) problems.push(`${s.sku}: ledger commits ${t.commit} but sold is ${s.sold}`);
    const held = t.reserve - t.release - t.commit;
    if (held !== s.reserved) problems.push(`${s.sku}: ledger holds ${held} but reserved is ${s.reserved}`);
  }

  const reservationKeys = new Set<string>();
  for (const r of state.reservations) {
    const key = `${r.orderId}/${r.sku}`;
    reservationKeys.add(key);
    const kinds = (byReservation.get(key) ?? []).map((m) => m.kind).sort();
    const expected = [...EXPECTED_MOVEMENTS[r.state]].sort();
    if (kinds.join() !== expected.join()) {
      problems.push(`reservation ${key} is ${r.state} but its movements are [${kinds.join(", ")}]`);
    }
    const wrongQty = (byReservation.get(key) ?? []).find((m) => m.qty !== r.qty);
    if (wrongQty)
      problems.push(`reservation ${key} has qty ${r.qty} but a ${wrongQty.kind} movement of ${wrongQty.qty}`);
  }
  for (const key of byReservation.keys()) {
    if (!reservationKeys.has(key)) problems.push(`movements for ${key} have no reservation`);
  }
  return { valid: problems.length === 0, problems };
}

export const conservation = defineChecker({
  name: "conservation",
  holds: "available + reserved + sold = quota; ledger agrees",
  needs: ["inventory"],
  check: (_history, final) => checkInventoryLedger(final.inventory),
});
