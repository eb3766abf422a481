import type { HistoryOp } from "../history/op.ts";
import type { PhaseSlo, PhaseWindow } from "../run/result.ts";
import { type Completion, completions, successRate } from "./completions.ts";

export interface RecoveryOptions {
  /** How far below the baseline's success rate still counts as recovered (default 0.01 = 1 point). */
  tolerance?: number;
  /** Consecutive recovered seconds required (default 3). */
  stableSeconds?: number;
}

/**
 * Time from the end of a fault until the system is back to its baseline: the start of the first
 * run of `stableSeconds` consecutive one-second windows (counted from `faultEnd`, ops by intended
 * send time) whose success rate answered/(ok+fail+info) is at least the baseline's minus `tolerance`.
 * Answered counts as availability does (ok, or the sold-out gate's refusal), so a sale that sells out
 * after the fault, its later buyers refused by the gate, does not look like a system that never recovers.
 * A window with no ops is not recovered (no evidence).
 *
 * `baseline` is the baseline phase window (its success rate is computed from the history), the
 * baseline's PhaseSlo (its availability), or the rate itself. Returns a multiple of 1000 ms (0 when the first seconds after the fault are already
 * fine), or **null when it never recovers** within the history (including when fewer than
 * `stableSeconds` windows follow the fault) or when the baseline has no ops to compare with.
 */
export function recoveryTimeMs(
  history: readonly HistoryOp[],
  faultEnd: number,
  baseline: PhaseWindow | PhaseSlo | number,
  options: RecoveryOptions = {},
): number | null {
  const tolerance = options.tolerance ?? 0.01;
  const stable = options.stableSeconds ?? 3;
  const ops = completions(history);
  const target =
    typeof baseline === "number"
      ? baseline
      : "availability" in baseline
        ? baseline.availability
        : successRate(ops.filter((op) => op.intended >= baseline.start && op.intended < baseline.end));
  if (target === null) return null;

  // One-second windows of ops, judged by the same success rate as availability (successRate).
  const windows: Completion[][] = [];
  for (const op of ops) {
    if (op.intended < faultEnd) continue;
    const index = Math.floor((op.intended - faultEnd) / 1000);
    for (let i = windows.length; i <= index; i++) windows.push([]);
    windows[index]?.push(op);
  }
  let streak = 0;
  for (let index = 0; index < windows.length; index++) {
    const rate = successRate(windows[index] ?? []);
    const recovered = rate !== null && rate >= target - tolerance - 1e-12;
    streak = recovered ? streak + 1 : 0;
    if (streak === stable) return (index - stable + 1) * 1000;
  }
  return null;
}
