import type { ClientOp, HistoryOp, OpKind, Phase } from "../../../src/lab/history/op.ts";

/**
 * Builds hand-written histories: `op(...)` appends an invoke at the intended time and its
 * completion `latencyMs` later (latency measured from the intended time, as the workload does;
 * null: no latency recorded, as for an overloaded arrival).
 */
export class HistoryBuilder {
  readonly ops: HistoryOp[] = [];
  private nextId = 1;

  op(
    type: "ok" | "fail" | "info",
    intended: number,
    latencyMs: number | null = 10,
    options: { kind?: OpKind; state?: string; phase?: Phase; error?: string; status?: number } = {},
  ): this {
    const id = this.nextId++;
    const kind = options.kind ?? "order";
    const base = { id, process: "client" as const, kind, ...(options.phase ? { phase: options.phase } : {}) };
    this.ops.push({ ...base, type: "invoke", time: intended, wall: intended, value: {} });
    const completion: ClientOp = {
      ...base,
      type,
      time: intended + (latencyMs ?? 0),
      wall: intended + (latencyMs ?? 0),
      value: {
        ...(options.state
          ? { state: options.state }
          : kind === "order" && type === "ok"
            ? { state: "CONFIRMED" }
            : {}),
        ...(options.error ? { error: options.error } : {}),
        ...(options.status ? { status: options.status } : {}),
      },
      ...(latencyMs === null ? {} : { latencyMs }),
    };
    this.ops.push(completion);
    return this;
  }

  /** `count` ops of one type spread evenly over [from, from + 1000). */
  second(from: number, count: number, type: "ok" | "fail" | "info", latencyMs = 10): this {
    for (let i = 0; i < count; i++) this.op(type, from + (i * 1000) / count, latencyMs);
    return this;
  }

  /** An invoke whose completion never made it into the history. */
  dangling(intended: number): this {
    this.ops.push({
      type: "invoke",
      id: this.nextId++,
      process: "client",
      kind: "order",
      time: intended,
      wall: intended,
      value: {},
    });
    return this;
  }

  nemesis(type: "start" | "stop", time: number): this {
    this.ops.push({ type, process: "nemesis", nemesis: "kill", time, wall: time, detail: {} });
    return this;
  }

  /** Ops sorted by time, as a real history is appended. */
  build(): HistoryOp[] {
    return [...this.ops].sort((a, b) => a.time - b.time);
  }
}
