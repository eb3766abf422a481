import type { PhaseSlo, PhaseWindow } from "../experiments/result.ts";
import type { HistoryOp } from "../history/op.ts";
import { completions, isGood, successRate } from "./completions.ts";
import { latencySummary } from "./latency.ts";

/**
 * SLOs per phase window, in the order given. An op belongs to the window holding its intended
 * send time (start inclusive, end exclusive).
 *
 * - availability = ok / (ok + fail + info); null when no op fell in the phase.
 * - goodput = (CONFIRMED orders + successful reads) / phase duration in seconds. A CANCELLED order
 *   is a correct answer (ok, counts for availability) but not goodput.
 * - latency over every op with a measured latency — ok, fail and info alike: a timed-out request's
 *   latency (a lower bound of the truth) stays in, or a stall would vanish from p99.
 */
export function sloByPhase(history: readonly HistoryOp[], phases: readonly PhaseWindow[]): PhaseSlo[] {
  const ops = completions(history);
  return phases.map((window) => {
    const inside = ops.filter((op) => op.intended >= window.start && op.intended < window.end);
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
