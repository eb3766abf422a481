import type { HistoryOp } from "../history/op.ts";
import type { PhaseSlo, PhaseWindow } from "../run/result.ts";
import { completions, successRate } from "./completions.ts";

export interface RecoveryOptions {
  /** How far below the baseline's success rate still counts as recovered (default 0.01 = 1 point). */
  tolerance?: number;
  /** Consecutive recovered seconds required (default 3). */
  stableSeconds?: number;
}

/**
 * Time from the end of a fault until the system is back to its baseline: the start of the first
 * run of `stableSeconds` consecutive one-second windows (counted from `faultEnd`, ops by intended
 * send time) whose success rate ok/(ok+fail+info) is at least the baseline's minus `tolerance`.
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

  const windows: { ok: number; total: number }[] = [];
  for (const op of ops) {
    if (op.intended < faultEnd) continue;
    const index = Math.floor((op.intended - faultEnd) / 1000);
    for (let i = windows.length; i <= index; i++) windows.push({ ok: 0, total: 0 });
    const window = windows[index] as { ok: number; total: number };
    window.total++;
    if (op.type === "ok") window.ok++;
  }
  let streak = 0;
  for (let index = 0; index < windows.length; index++) {
    const window = windows[index] as { ok: number; total: number };
    const recovered = window.total > 0 && window.ok / window.total >= target - tolerance - 1e-12;
    streak = recovered ? streak + 1 : 0;
    if (streak === stable) return (index - stable + 1) * 1000;
  }
  return null;
}
