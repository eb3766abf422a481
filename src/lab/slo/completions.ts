import type { ClientOp, HistoryOp, OpKind, Phase } from "../history/op.ts";
import { isGatedSoldOut } from "../workload/outcome.ts";

/** One client operation, its invoke and completion joined. */
export interface Completion {
  id: number;
  kind: OpKind;
  type: "ok" | "fail" | "info";
  /**
   * When the op was meant to be sent (ms since the run started): the completion's time minus its
   * latency (latency is measured from the intended time), else the invoke's time. Ops are assigned
   * to seconds and phases by this time, so a stall shows where the requests wanted to go out.
   */
  intended: number;
  /** When the completion was recorded; undefined for an invoke without completion. */
  completed: number | undefined;
  /** From the intended time; undefined when nothing was measured (client overloaded, no completion). */
  latencyMs: number | undefined;
  state: string | undefined;
  phase: Phase | undefined;
  /** A correct answer: ok, or an order the sold-out gate refused (`409 sold_out`, nothing written). */
  answered: boolean;
}

/**
 * Joins every client invoke with its completion. An invoke without a completion (a history cut
 * short) counts as `info` — its outcome is unknown — so a lost completion can never make a run look
 * more available than it was. Completions come out in history order.
 */
export function completions(history: readonly HistoryOp[]): Completion[] {
  const open = new Map<number, ClientOp>();
  const joined: Completion[] = [];
  for (const op of history) {
    if (op.process !== "client") continue;
    if (op.type === "invoke") {
      open.set(op.id, op);
      continue;
    }
    const invoke = open.get(op.id);
    open.delete(op.id);
    joined.push({
      id: op.id,
      kind: op.kind,
      type: op.type,
      intended: op.latencyMs !== undefined ? op.time - op.latencyMs : (invoke?.time ?? op.time),
      completed: op.time,
      latencyMs: op.latencyMs,
      state: op.value.state,
      phase: op.phase ?? invoke?.phase,
      answered: op.type === "ok" || (op.type === "fail" && isGatedSoldOut(op)),
    });
  }
  for (const invoke of open.values()) {
    joined.push({
      id: invoke.id,
      kind: invoke.kind,
      type: "info",
      intended: invoke.time,
      completed: undefined,
      latencyMs: undefined,
      state: undefined,
      phase: invoke.phase,
      answered: false,
    });
  }
  return joined;
}

/**
 * Correct answers / all: ok, plus orders the sold-out gate refused (a buyer told "sold out" was
 * answered, as one whose order was CANCELLED sold_out is); null when nothing completed.
 */
export function successRate(ops: readonly Pick<Completion, "answered">[]): number | null {
  if (ops.length === 0) return null;
  return ops.filter((op) => op.answered).length / ops.length;
}

/** A business success: a CONFIRMED order, or a successful read. */
export function isGood(op: Completion): boolean {
  if (op.type !== "ok") return false;
  return op.kind === "order" ? op.state === "CONFIRMED" : true;
}
