/**
 * A history is data (Jepsen): every client operation is recorded as an `invoke`, then exactly one
 * completion — `ok` (it happened), `fail` (it definitely did not happen) or `info` (unknown: a
 * timeout, a reset, a 202 that never resolved; it may or may not have happened). Nemesis actions
 * are recorded in the same history so the report can draw them.
 */

export type OpType = "invoke" | "ok" | "fail" | "info";

export type OpKind = "order" | "order-read" | "catalog-read";

export interface ClientOp {
  type: OpType;
  /** Pairs an invoke with its completion. */
  id: number;
  process: "client";
  kind: OpKind;
  /** Monotonic milliseconds since the run started (performance.now() based). */
  time: number;
  /** Wall clock, epoch ms, for correlating with logs. */
  wall: number;
  /** What was asked (invoke) or learned (completion). */
  value: {
    idempotencyKey?: string;
    userId?: string;
    items?: { sku: string; qty: number }[];
    orderId?: string;
    sku?: string;
    /** Completion only: the order state the client saw, the HTTP status, the error. */
    state?: string;
    /** Completion of an order seen CANCELLED: the reason the shop gave (e.g. `sold_out`). */
    cancelReason?: string;
    status?: number;
    error?: string;
    attempts?: number;
    /** Completion only: 429 answers met on the way, retried ones included. */
    rateLimited?: number;
  };
  /** Completion only: latency measured from the *intended* send time (no coordinated omission). */
  latencyMs?: number;
  phase?: Phase;
}

export interface NemesisOp {
  type: "start" | "stop";
  process: "nemesis";
  nemesis: string;
  time: number;
  wall: number;
  detail: Record<string, unknown>;
}

/**
 * One sample of a service's `/healthz` or `/readyz`, taken by the lab's prober through the run (its
 * own process, so checkers and SLOs, which read client ops, ignore it). `up`: 2xx; `down`: any other
 * answer; `unreachable`: no answer within the probe's timeout.
 */
export interface ProbeOp {
  type: "probe";
  process: "probe";
  /** The service, as `<region>/<role>` (or `gateway`). */
  service: string;
  endpoint: "healthz" | "readyz";
  status: "up" | "down" | "unreachable";
  /** The HTTP status, when there was an answer. */
  httpStatus?: number;
  time: number;
  wall: number;
}

export type HistoryOp = ClientOp | NemesisOp | ProbeOp;

export type Phase = "warmup" | "baseline" | "fault" | "recovery" | "settle";
