import type { HistoryOp } from "../history/op.ts";
import { errorRate } from "../slo/index.ts";
import type { Experiment } from "./schema.ts";

/**
 * Abort guardrails: stop injecting faults when the error rate stays above a rule's bound for its
 * window. Checked every second; returns a function that stops checking.
 */
export function startGuardrails(
  rules: Experiment["abort"],
  ops: () => readonly HistoryOp[],
  clock: () => number,
  abort: (reason: string) => Promise<void>,
): () => void {
  const timer = setInterval(() => {
    const now = clock();
    for (const rule of rules) {
      if (now < rule.for) continue;
      const rate = errorRate(ops(), rule.for, now);
      if (rate !== null && rate > rule.above) {
        void abort(
          `error rate ${(rate * 100).toFixed(1)}% above ${(rule.above * 100).toFixed(0)}% for ${rule.for} ms`,
        );
      }
    }
  }, 1_000);
  return () => clearInterval(timer);
}
