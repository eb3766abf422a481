/** The flash-sale bench's figures (bench/flash-sale.ts), pure functions of the run's history. */
import { build } from "hdr-histogram-js";
import type { ClientOp, HistoryOp } from "../src/lab/history/op.ts";

export type AnswerClass = "confirmed" | "sold_out" | "rejected_429" | "other" | "no_answer";

/** What a buyer heard, from the completion the lab's client recorded. */
export function classify(op: ClientOp): AnswerClass {
  const { state, cancelReason, status, error } = op.value;
  if (op.type === "ok" && state === "CONFIRMED") return "confirmed";
  if (op.type === "ok" && state === "CANCELLED" && cancelReason === "sold_out") return "sold_out";
  if (status === 409 && error?.includes("sold_out")) return "sold_out";
  if (status === 429) return "rejected_429";
  // No HTTP answer within the buyer's timeout (or the connection failed): heard nothing.
  if (status === undefined) return "no_answer";
  return "other";
}

export interface ClassFigures {
  answers: number;
  perSecond: number;
  p50Ms: number | null;
  p99Ms: number | null;
  p999Ms: number | null;
}

/**
 * Per class: answers, answers per second over the run's span, and latency percentiles from the
 * intended send time. The span runs from the first send to the last answer, and at least to the
 * last send: answers that come late stretch it, so a shop that falls behind is not flattered, and
 * one that stops answering early is not either. A buyer's timeout is not an answer and does not
 * stretch it: when it fires is the buyer's choice, not the shop's.
 */
export function classFigures(ops: readonly HistoryOp[]): {
  spanMs: number;
  classes: Record<AnswerClass, ClassFigures>;
} {
  const client = ops.filter((op): op is ClientOp => op.process === "client" && op.kind === "order");
  const invokes = client.filter((op) => op.type === "invoke");
  const completions = client.filter((op) => op.type !== "invoke");
  // Loops, not Math.min(...times): a long burst has more sends than a call takes arguments.
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const op of invokes) {
    first = Math.min(first, op.time);
    last = Math.max(last, op.time);
  }
  for (const op of completions) if (classify(op) !== "no_answer") last = Math.max(last, op.time);
  const spanMs = Number.isFinite(first) && Number.isFinite(last) ? Math.max(1, last - first) : 0;
  const classes = {} as Record<AnswerClass, ClassFigures>;
  for (const name of ["confirmed", "sold_out", "rejected_429", "other", "no_answer"] as const) {
    const mine = completions.filter((op) => classify(op) === name);
    const histogram = build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 3_600_000_000,
      numberOfSignificantValueDigits: 3,
    });
    for (const op of mine) histogram.recordValue(Math.max(1, Math.round((op.latencyMs ?? 0) * 1000)));
    const at = (q: number) => (mine.length === 0 ? null : histogram.getValueAtPercentile(q) / 1000);
    classes[name] = {
      answers: mine.length,
      perSecond: spanMs > 0 ? (mine.length / spanMs) * 1000 : 0,
      p50Ms: at(50),
      p99Ms: at(99),
      p999Ms: at(99.9),
    };
    histogram.destroy();
  }
  return { spanMs, classes };
}

/**
 * Who refused the buyers answered 429: the gateway (its rate limits or its bound on requests in
 * flight to the order service: `rate_limited`) or the order service's admission control
 * (`overloaded`), one hop further and costlier.
 */
export function refusals(ops: readonly HistoryOp[]): {
  gateway: number;
  orderService: number;
  unknown: number;
} {
  const counts = { gateway: 0, orderService: 0, unknown: 0 };
  for (const op of ops) {
    if (op.process !== "client" || op.kind !== "order" || op.type === "invoke") continue;
    if (classify(op) !== "rejected_429") continue;
    if (op.value.error === "rate_limited") counts.gateway++;
    else if (op.value.error === "overloaded") counts.orderService++;
    else counts.unknown++;
  }
  return counts;
}
