import type { HistoryOp } from "../history/op.ts";
import type { PhaseSlo, PhaseWindow } from "../run/result.ts";
import { type Completion, completions, isGood, successRate } from "./completions.ts";
import { latencySummary } from "./latency.ts";

/**
 * SLOs per phase window, in the order given. An op belongs to the window holding its intended
 * send time (start inclusive, end exclusive) — unless it was still running when the next window, a
 * fault, began: then it met the fault and belongs to the fault window. (A request in flight when
 * the service it waits on is killed says nothing about how healthy the baseline was.)
 *
 * - availability = answered / (ok + fail + info), answered being ok or an order the sold-out gate
 *   refused (`409 sold_out`: a correct answer, nothing written); null when no op fell in the phase.
 * - goodput = (CONFIRMED orders + successful reads) / phase duration in seconds. A CANCELLED order
 *   is a correct answer (ok, counts for availability) but not goodput.
 * - latency over every op with a measured latency — ok, fail and info alike: a timed-out request's
 *   latency (a lower bound of the truth) stays in, or a stall would vanish from p99.
 */
export function sloByPhase(history: readonly HistoryOp[], phases: readonly PhaseWindow[]): PhaseSlo[] {
  const ops = completions(history);
  const windowOf = (op: Completion): PhaseWindow | undefined => {
    const index = phases.findIndex((w) => op.intended >= w.start && op.intended < w.end);
    const next = phases[index + 1];
    if (index >= 0 && next?.phase === "fault" && op.completed !== undefined && op.completed >= next.start) {
      return next;
    }
    return phases[index];
  };
  const assigned = ops.map((op) => ({ op, window: windowOf(op) }));
  return phases.map((window) => {
    const inside = assigned.filter((a) => a.window === window).map((a) => a.op);
    const count = (type: "ok" | "fail" | "info") => inside.filter((op) => op.type === type).length;
    const seconds = (window.end - window.start) / 1000;
    const good = inside.filter(isGood).length;
    return {
      phase: window.phase,
      ok: count("ok"),
      fail: count("fail"),
      info: count("info"),
      availability: successRate(inside),
      goodputPerSec: seconds > 0 ? good / seconds : 0,
      ...latencySummary(inside.flatMap((op) => (op.latencyMs === undefined ? [] : [op.latencyMs]))),
    };
  });
}
