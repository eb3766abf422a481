import type { ClientOp, HistoryOp, OpKind, Phase } from "../history/op.ts";
import { isGatedSoldOut } from "../workload/outcome.ts";

/**
 * What the failures and unknown outcomes of a run were (issue 11 item 8): completions that were not
 * `ok` (the sold-out gate's refusals aside: answers, as availability counts them), grouped by phase, outcome, operation kind, HTTP status and error code, with a count and the
 * first op id of each group (to find it in history.jsonl). Most frequent first within a phase.
 */
export interface FailureKind {
  phase: Phase | "unknown";
  outcome: "fail" | "info";
  kind: OpKind;
  /** The last HTTP status the client saw; absent for transport errors (timeout, reset, refused). */
  status?: number;
  /** The error code of the answer (`rate_limited`), or the transport error. */
  error: string;
  count: number;
  /** The first op of this kind in the history (ClientOp.id). */
  exampleOpId: number;
}

const PHASE_ORDER: readonly (Phase | "unknown")[] = [
  "warmup",
  "baseline",
  "fault",
  "recovery",
  "settle",
  "unknown",
];

export function failureKinds(history: readonly HistoryOp[]): FailureKind[] {
  const invokes = new Map<number, ClientOp>();
  const groups = new Map<string, FailureKind>();
  const completed = new Set<number>();
  const add = (
    op: ClientOp,
    outcome: "fail" | "info",
    value: ClientOp["value"],
    phase: Phase | undefined,
  ) => {
    const entry = {
      phase: phase ?? ("unknown" as const),
      outcome,
      kind: op.kind,
      ...(value.status !== undefined ? { status: value.status } : {}),
      error: errorOf(value),
    };
    const key = JSON.stringify([entry.phase, outcome, op.kind, entry.status ?? null, entry.error]);
    const group = groups.get(key);
    if (group) group.count++;
    else groups.set(key, { ...entry, count: 1, exampleOpId: op.id });
  };
  for (const op of history) {
    if (op.process !== "client") continue;
    if (op.type === "invoke") {
      invokes.set(op.id, op);
      continue;
    }
    completed.add(op.id);
    if (op.type === "ok" || (op.type === "fail" && isGatedSoldOut(op))) continue;
    add(op, op.type, op.value, op.phase ?? invokes.get(op.id)?.phase);
  }
  // An invoke without a completion is an unknown outcome too (as in slo/completions.ts).
  for (const [id, invoke] of invokes) {
    if (!completed.has(id)) add(invoke, "info", { error: "no completion recorded" }, invoke.phase);
  }
  return [...groups.values()].sort(
    (a, b) => PHASE_ORDER.indexOf(a.phase) - PHASE_ORDER.indexOf(b.phase) || b.count - a.count,
  );
}

/** One line per kind: `fault  info order 503 read_only_endpoint ×12 (e.g. op 345)`. */
export function describeFailureKind(f: FailureKind): string {
  const status = f.status !== undefined ? `${f.status} ` : "";
  return `${f.phase} ${f.outcome} ${f.kind} ${status}${f.error} ×${f.count} (e.g. op ${f.exampleOpId})`;
}

function errorOf(value: ClientOp["value"]): string {
  const error = value.error ?? (value.status !== undefined ? `HTTP ${value.status}` : "unknown");
  // Transport errors may carry addresses or ports; keep kinds few and readable.
  return error.length > 120 ? `${error.slice(0, 119)}…` : error;
}
