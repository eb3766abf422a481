import type { ClientOp, HistoryOp } from "../history/op.ts";
import { LAB_SERVICE_ENV } from "../topology/service-env.ts";
import { isSoldOutRefusal } from "../workload/outcome.ts";
import type { CheckResult } from "./check.ts";
import { defineChecker } from "./checker.ts";
import type { LedgerMovement } from "./observed.ts";

/**
 * How stale a "sold out" may be: two memories stacked, then the ledger's blind spot.
 *
 * - The inventory answers sold out from a per-instance flag it trusts for CHAOSCART_SOLD_OUT_TTL_MS
 *   after a batch found the SKU empty (a release in the same instance clears it sooner): its
 *   "sold out" means the SKU was empty at some moment in the TTL before.
 * - The order service's sold-out gate answers `409 sold_out` from such answers (and from its own
 *   polls of the stock rows) for CHAOSCART_SOLD_OUT_GATE_TTL_MS, counted from the send of the call
 *   that brought the news; a poll that finds stock or a release of its own opens it sooner (within
 *   CHAOSCART_SOLD_OUT_GATE_POLL_MS and a read, normally). A gated answer therefore rests on an
 *   inventory answer at most a gate TTL old, which rests on an empty SKU at most an inventory TTL
 *   before that: the bound is the sum, whatever the polls do (they fail under some faults).
 * - The margin covers what the ledger's clock cannot see: a movement is stamped at its INSERT
 *   (clock_timestamp()), the stock is on sale only from its COMMIT.
 */
export const SOLD_OUT_TTL_MS = Number(LAB_SERVICE_ENV.CHAOSCART_SOLD_OUT_TTL_MS);
export const SOLD_OUT_GATE_TTL_MS = Number(LAB_SERVICE_ENV.CHAOSCART_SOLD_OUT_GATE_TTL_MS);
export const COMMIT_MARGIN_MS = 500;
export const SOLD_OUT_STALENESS_BOUND_MS = SOLD_OUT_TTL_MS + SOLD_OUT_GATE_TTL_MS + COMMIT_MARGIN_MS;

/** A SKU's available units over time, from the ledger: [time, available from then on]. */
export type Availability = { at: number; available: number }[];

/** Per SKU, the availability after each movement (in ledger order), or undefined without timestamps. */
export function availabilityTimelines(
  movements: readonly LedgerMovement[],
): Map<string, Availability> | undefined {
  const timelines = new Map<string, Availability>();
  for (const m of movements) {
    if (m.at === undefined) return undefined;
    const timeline = timelines.get(m.sku) ?? [];
    const before = timeline.at(-1)?.available ?? 0;
    const delta = m.kind === "seed" || m.kind === "release" ? m.qty : m.kind === "reserve" ? -m.qty : 0;
    if (delta !== 0) timeline.push({ at: m.at, available: before + delta });
    timelines.set(m.sku, timeline);
  }
  return timelines;
}

/**
 * Since when (epoch ms) the SKU has had at least `qty` available without a break up to `until`, or
 * undefined if it had fewer at `until`. The seed counts as the start.
 */
export function availableSince(timeline: Availability, qty: number, until: number): number | undefined {
  let since: number | undefined;
  for (const point of timeline) {
    if (point.at > until) break;
    if (point.available >= qty) since ??= point.at;
    else since = undefined;
  }
  return since;
}

/**
 * docs/architecture.md §Invariants "no false sold-out": an order refused `sold_out` (a CANCELLED
 * sold_out order, or the sold-out gate's `409 sold_out`, which writes no order) is a violation when
 * every one of its items had its quantity available, without a break, from more than the staleness
 * bound before the order was sent until its answer. The staleness shown is a lower bound (from the
 * send, not from the decision, which came later). Not checked when no order was refused sold_out:
 * a run that never sold out cannot show the property.
 */
export function checkNoFalseSoldOut(
  history: readonly HistoryOp[],
  movements: readonly LedgerMovement[],
  boundMs = SOLD_OUT_STALENESS_BOUND_MS,
): CheckResult | { notChecked: string } {
  const timelines = availabilityTimelines(movements);
  if (!timelines) return { notChecked: "the ledger read has no timestamps" };
  const invokes = new Map<number, ClientOp>();
  const problems: { staleMs: number; text: string }[] = [];
  let refusals = 0;
  for (const op of history) {
    if (op.process !== "client" || op.kind !== "order") continue;
    if (op.type === "invoke") {
      invokes.set(op.id, op);
      continue;
    }
    if (!isSoldOutRefusal(op)) continue;
    refusals++;
    const invoke = invokes.get(op.id);
    const items = invoke?.value.items;
    if (!invoke || !items || items.length === 0) continue;
    const since = items.map((item) => {
      const timeline = timelines.get(item.sku);
      return timeline ? availableSince(timeline, item.qty, op.wall) : undefined;
    });
    if (since.some((s) => s === undefined)) continue; // some item really was short at the answer
    const restocked = Math.max(...(since as number[]));
    const staleMs = invoke.wall - restocked;
    if (staleMs <= boundMs) continue;
    const what = items.map((i) => `${i.qty} × ${i.sku}`).join(", ");
    problems.push({
      staleMs,
      text: `order ${op.value.orderId ?? `op ${op.id}`} (${what}) refused sold_out although in stock for ≥ ${Math.round(staleMs)} ms before it was sent (bound ${boundMs} ms)`,
    });
  }
  if (refusals === 0) return { notChecked: "no order was refused sold_out: the run never sold out" };
  if (problems.length === 0) return { valid: true, problems: [] };
  problems.sort((a, b) => b.staleMs - a.staleMs);
  const longest = problems[0] as { staleMs: number };
  return {
    valid: false,
    problems: [
      `${problems.length} of ${refusals} sold_out refusal(s) while in stock; longest window ${Math.round(longest.staleMs)} ms`,
      ...problems.map((p) => p.text),
    ],
  };
}

export const noFalseSoldOut = defineChecker({
  name: "no-false-sold-out",
  holds: `no order refused sold_out while its items were in stock (staleness bound ${SOLD_OUT_STALENESS_BOUND_MS} ms)`,
  needs: ["inventory"],
  check: (history, final) => checkNoFalseSoldOut(history, final.inventory.movements),
});
