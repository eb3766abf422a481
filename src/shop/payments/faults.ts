import { z } from "zod";

/**
 * The simulator's run-time fault knobs, driven by the lab (`PUT /admin/faults`). One draw per
 * request decides its latency and whether it fails; the random source is injectable (and seedable)
 * so tests and lab runs are reproducible.
 *
 * `errorMode` says when an injected error strikes:
 * - `before`: the operation is not applied (the provider never saw it);
 * - `after`: the operation is applied, durably, and then the caller gets the error — the ambiguous
 *   failure real providers produce, which only an idempotent retry resolves;
 * - `mixed`: each injected error is `before` or `after` with equal odds.
 */

export const faultKnobsSchema = z.object({
  latencyMs: z.number().int().min(0).max(60_000),
  /** Latency is uniform in latencyMs ± jitterMs (never below 0). */
  jitterMs: z.number().int().min(0).max(60_000),
  errorRate: z.number().min(0).max(1),
  errorStatus: z.union([z.literal(500), z.literal(503)]),
  errorMode: z.enum(["before", "after", "mixed"]),
  /** Probability that a new authorisation is declined by the card issuer (a business outcome, 402). */
  declineRate: z.number().min(0).max(1),
  /**
   * Requests the provider serves at once (0: no limit). Beyond it a request is shed at once with 503
   * and `Retry-After`, as a provider in a brown-out does; only then can a retry storm be seen.
   */
  capacity: z.number().int().min(0).max(100_000),
  /** The `Retry-After` a shed request is given (whole seconds on the wire, rounded up). */
  retryAfterMs: z.number().int().min(0).max(60_000),
});

/** A partial update; unknown knobs are refused. */
export const faultKnobsPatchSchema = faultKnobsSchema.partial().strict();

export type FaultKnobs = z.output<typeof faultKnobsSchema>;
export type FaultKnobsPatch = z.output<typeof faultKnobsPatchSchema>;

export const NO_FAULTS: FaultKnobs = {
  latencyMs: 0,
  jitterMs: 0,
  errorRate: 0,
  errorStatus: 503,
  errorMode: "before",
  declineRate: 0,
  capacity: 0,
  retryAfterMs: 1_000,
};

export interface InjectedError {
  status: 500 | 503;
  when: "before" | "after";
}

export interface FaultPlan {
  delayMs: number;
  error?: InjectedError;
}

/** A random source: uniform in [0, 1). */
export type Random = () => number;

/** mulberry32: a small, fast, seedable generator, good enough for fault injection (not for secrets). */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The simulated provider's fault knobs and the per-request plan drawn from them (latency, injected
 * error, decline). Not the lab's fault injection: the lab turns these knobs through `PUT /admin/faults`.
 */
export class FaultPlanner {
  private current: FaultKnobs;

  constructor(
    initial: Partial<FaultKnobs> = {},
    private readonly random: Random = Math.random,
  ) {
    this.current = faultKnobsSchema.parse({ ...NO_FAULTS, ...initial });
  }

  get knobs(): FaultKnobs {
    return { ...this.current };
  }

  /** Applies a partial update (validated by the caller's schema) and returns the new knobs. */
  update(patch: FaultKnobsPatch): FaultKnobs {
    this.current = faultKnobsSchema.parse({ ...this.current, ...patch });
    return this.knobs;
  }

  /** The latency and the injected error (if any) for one request. */
  draw(): FaultPlan {
    const { latencyMs, jitterMs, errorRate, errorStatus, errorMode } = this.current;
    const delayMs = jitterMs > 0 ? Math.max(0, latencyMs + (this.random() * 2 - 1) * jitterMs) : latencyMs;
    if (errorRate <= 0 || this.random() >= errorRate) return { delayMs };
    const when = errorMode === "mixed" ? (this.random() < 0.5 ? "before" : "after") : errorMode;
    return { delayMs, error: { status: errorStatus, when } };
  }

  /** Whether the issuer declines a new authorisation. */
  decline(): boolean {
    const { declineRate } = this.current;
    return declineRate > 0 && this.random() < declineRate;
  }
}
