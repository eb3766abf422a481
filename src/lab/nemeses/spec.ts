/**
 * Nemesis specs as data: the shape experiment files use for a fault, validated with zod, errors naming
 * the field. `{ action, target, ...params }`, e.g. `{ action: "kill", target: "east/inventory",
 * restartAfter: "5s" }`. Durations are milliseconds or strings like `500ms`, `5s`, `2m`, `1h` (../duration.ts).
 *
 * Fields every action takes: `target`; `duration` (heal by itself this long after starting); `at`
 * (when to start — the experiment scheduler's field, accepted and ignored here, so a fault entry of an
 * experiment file validates as it is).
 */
import { z } from "zod";
import { faultKnobsSchema } from "../../shop/payments/faults.ts";
import { durationSchema } from "../duration.ts";
import { FaultSpecError, parseToxicSpec, TOXIC_TYPES } from "../faults/index.ts";

export class NemesisSpecError extends Error {
  constructor(
    /** Dotted path of the offending field, e.g. `restartAfter` or `attributes.latencyMs`. */
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = "NemesisSpecError";
  }
}

export { parseDuration } from "../duration.ts";

const duration = durationSchema;
const millis = z.number().int().min(0).max(600_000);
const toxicity = z.number().min(0).max(1).default(1);
const linkDirection = z.enum(["both", "upstream", "downstream"]);

const common = {
  target: z.string().min(1),
  at: duration.optional(),
  duration: duration.optional(),
};
const spec = <A extends string, S extends z.ZodRawShape>(action: A, shape: S) =>
  z
    .object({ action: z.literal(action), ...common })
    .extend(shape)
    .strict();

export const NEMESIS_SCHEMAS = {
  /** kill -9 a service; restart it on stop (or `restartAfter`, same as `duration`). */
  kill: spec("kill", { restartAfter: duration.optional() }),
  /** SIGSTOP a service or a PostgreSQL node (`east/replica`: its whole process group); SIGCONT on stop. */
  pause: spec("pause", {}),
  /** Replica lag on a region (`east` or `east/replica`): replay paused, or a slow replication link. */
  "replica-lag": spec("replica-lag", {
    mode: z.enum(["replay-pause", "link"]).default("replay-pause"),
    latencyMs: millis.optional(),
    jitterMs: millis.optional(),
    rateKBps: z.number().positive().max(10_000_000).optional(),
  }),
  /** Latency ± jitter on a link, per direction (default downstream, i.e. on answers: RTT + latency). */
  latency: spec("latency", {
    latencyMs: millis,
    jitterMs: millis.default(0),
    direction: linkDirection.default("downstream"),
    toxicity,
  }),
  /** Any toxic of the fault links (`type`, `attributes` as the link API takes them). */
  toxic: spec("toxic", {
    type: z.enum(TOXIC_TYPES),
    direction: linkDirection,
    toxicity,
    attributes: z.record(z.string(), z.unknown()).default({}),
  }),
  /** Blackhole a link, both ways or one way. */
  partition: spec("partition", { direction: linkDirection.default("both") }),
  /** Refuse connects on a link and reset its open connections. */
  down: spec("down", {}),
  /** Crash a region's primary, promote its replica, repoint the write links. Not reversible. */
  "primary-failover": spec("primary-failover", {
    links: z.array(z.string().min(1)).min(1).optional(),
    timeout: duration.optional(),
  }),
  /** Point a write link (or a region's `order->primary`) at the replica; stop points it back. */
  "readonly-endpoint": spec("readonly-endpoint", {}),
  /** The payment simulator's knobs (`east/payment-sim` or `east`); stop sets them back to zero. */
  payment: spec("payment", faultKnobsSchema.partial().shape),
  /** Busy-wait a service's event loop for `duration`, in slices of `slice` (default: one stall). */
  "event-loop-block": spec("event-loop-block", { duration, slice: duration.optional() }),
  /** Burn CPU in a service for `duration` at `duty` (0..1), in worker threads or on its event loop. */
  "cpu-burn": spec("cpu-burn", {
    duration,
    duty: z.number().gt(0).max(1).default(1),
    threads: z.number().int().min(1).max(16).default(1),
    mode: z.enum(["worker", "loop"]).default("worker"),
  }),
  /** Skew a service's hybrid logical clock by `offsetMs`; stop sets it back to 0. */
  "clock-offset": spec("clock-offset", { offsetMs: z.number().int().min(-86_400_000).max(86_400_000) }),
  /**
   * Misconfigure the inventory's reservation TTL to `ttlMs` for new reservations (a config push
   * gone wrong, or a deliberately short hold); stop puts back the TTL it found.
   */
  "reservation-ttl": spec("reservation-ttl", { ttlMs: z.number().int().min(100).max(86_400_000) }),
  /**
   * A relay (`east/relay-west`) loses `drop` and garbles `corrupt` (shares, 0..1) of the order
   * versions it ships; stop puts back what it found. Reconciliation must find and repair them.
   */
  "replication-loss": spec("replication-loss", {
    drop: z.number().min(0).max(1).default(0),
    corrupt: z.number().min(0).max(1).default(0),
  }),
} as const;

export type NemesisKind = keyof typeof NEMESIS_SCHEMAS;
export const NEMESIS_KINDS = Object.keys(NEMESIS_SCHEMAS) as NemesisKind[];

/** A spec as written (durations as strings or ms; defaults not filled in). */
export type NemesisSpecInput = { [K in NemesisKind]: z.input<(typeof NEMESIS_SCHEMAS)[K]> }[NemesisKind];
/** A validated spec (durations in ms, defaults filled in). */
export type NemesisSpec = { [K in NemesisKind]: z.output<(typeof NEMESIS_SCHEMAS)[K]> }[NemesisKind];
export type NemesisSpecOf<K extends NemesisKind> = z.output<(typeof NEMESIS_SCHEMAS)[K]>;

/** Validates a spec; throws `NemesisSpecError` naming the first bad field. */
export function parseNemesisSpec(input: unknown): NemesisSpec {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new NemesisSpecError("spec", "expected an object like { action, target, ... }");
  }
  const action = (input as { action?: unknown }).action;
  if (typeof action !== "string" || !Object.hasOwn(NEMESIS_SCHEMAS, action)) {
    throw new NemesisSpecError("action", `expected one of ${NEMESIS_KINDS.join(", ")}`);
  }
  const parsed = NEMESIS_SCHEMAS[action as NemesisKind].safeParse(input);
  if (!parsed.success) throw fieldError(parsed.error);
  const result = parsed.data as NemesisSpec;
  checkAcrossFields(result);
  return result;
}

function checkAcrossFields(spec: NemesisSpec): void {
  switch (spec.action) {
    case "kill":
      if (spec.restartAfter !== undefined && spec.duration !== undefined) {
        throw new NemesisSpecError("restartAfter", "give restartAfter or duration, not both");
      }
      return;
    case "replica-lag": {
      const linkParams = spec.latencyMs !== undefined || spec.rateKBps !== undefined;
      if (spec.mode === "link" && !linkParams) {
        throw new NemesisSpecError("latencyMs", 'mode "link" needs latencyMs and/or rateKBps');
      }
      const stray = (["latencyMs", "jitterMs", "rateKBps"] as const).find((k) => spec[k] !== undefined);
      if (spec.mode === "replay-pause" && stray) {
        throw new NemesisSpecError(stray, 'applies to mode "link" only');
      }
      return;
    }
    case "toxic":
      try {
        const direction = spec.direction === "both" ? "downstream" : spec.direction;
        parseToxicSpec({ type: spec.type, direction, toxicity: spec.toxicity, attributes: spec.attributes });
      } catch (error) {
        if (error instanceof FaultSpecError) throw new NemesisSpecError(error.field, error.reason);
        throw error;
      }
      return;
    case "payment": {
      const knobs = Object.keys(faultKnobsSchema.shape).filter((k) => k in spec);
      if (knobs.length === 0) {
        throw new NemesisSpecError(
          "spec",
          `set at least one of ${Object.keys(faultKnobsSchema.shape).join(", ")}`,
        );
      }
      return;
    }
    case "event-loop-block":
    case "cpu-burn":
      if (spec.duration < 1) throw new NemesisSpecError("duration", "must be at least 1 ms");
      return;
    default:
      return;
  }
}

function fieldError(error: z.ZodError): NemesisSpecError {
  const issue = error.issues[0];
  if (!issue) return new NemesisSpecError("spec", "invalid");
  const path = issue.path.map(String);
  if (issue.code === "unrecognized_keys" && issue.keys[0] !== undefined) {
    path.push(issue.keys[0]);
    return new NemesisSpecError(path.join("."), "unknown field");
  }
  return new NemesisSpecError(path.join(".") || "spec", issue.message);
}
