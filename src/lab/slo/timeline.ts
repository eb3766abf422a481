import type { HistoryOp } from "../history/op.ts";
import type { SecondBucket } from "../run/result.ts";
import { completions } from "./completions.ts";
import { latencySummary } from "./latency.ts";

/**
 * Per whole second of the run: completed client ops by outcome and their p50/p99 latency. An op
 * belongs to the second of its *intended* send time (see `Completion.intended`), so during a stall
 * the seconds keep their arrivals and show the latency those arrivals suffered. Seconds with no ops
 * between the first and the last are present with zero counts (a hole in the chart is a hole in
 * the data, not a missing bar).
 */
export function timeline(history: readonly HistoryOp[]): SecondBucket[] {
  const bySecond = new Map<number, { ok: number; fail: number; info: number; latencies: number[] }>();
  for (const op of completions(history)) {
    const second = Math.floor(op.intended / 1000);
    let bucket = bySecond.get(second);
    if (!bucket) {
      bucket = { ok: 0, fail: 0, info: 0, latencies: [] };
      bySecond.set(second, bucket);
    }
    bucket[op.type]++;
    if (op.latencyMs !== undefined) bucket.latencies.push(op.latencyMs);
  }
  if (bySecond.size === 0) return [];
  const seconds = [...bySecond.keys()];
  const first = Math.min(...seconds);
  const last = Math.max(...seconds);
  const buckets: SecondBucket[] = [];
  for (let second = first; second <= last; second++) {
    const bucket = bySecond.get(second);
    const { p50Ms, p99Ms } = latencySummary(bucket?.latencies ?? []);
    buckets.push({
      second,
      ok: bucket?.ok ?? 0,
      fail: bucket?.fail ?? 0,
      info: bucket?.info ?? 0,
      p50Ms,
      p99Ms,
    });
  }
  return buckets;
}
