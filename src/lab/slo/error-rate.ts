import type { HistoryOp } from "../history/op.ts";
import { isGatedSoldOut } from "../workload/outcome.ts";

/**
 * For abort guardrails while a run is going: the share of client ops that completed in
 * (at - windowMs, at] as fail or info (the "client overloaded" ones included), but for the sold-out
 * gate's refusals, which are answers. Ops still in flight
 * do not count yet. `at` defaults to the time of the last op in the history; null when nothing
 * completed in the window.
 *
 * Reads the history from its end, relying on append order being time order (as the workload and
 * HistoryWriter produce it; disorder of up to a second is tolerated), so it stays cheap on a long run.
 */
export function errorRate(history: readonly HistoryOp[], windowMs: number, at?: number): number | null {
  const now = at ?? history.at(-1)?.time;
  if (now === undefined) return null;
  const from = now - windowMs;
  let total = 0;
  let errors = 0;
  for (let index = history.length - 1; index >= 0; index--) {
    const op = history[index] as HistoryOp;
    if (op.time <= from - 1000) break;
    if (op.process !== "client" || op.type === "invoke" || op.time <= from || op.time > now) continue;
    total++;
    if (op.type !== "ok" && !(op.type === "fail" && isGatedSoldOut(op))) errors++;
  }
  return total === 0 ? null : errors / total;
}
