import { setMaxListeners } from "node:events";
import {
  BrokenCircuitError,
  BulkheadRejectedError,
  bulkhead,
  CircuitState,
  ConstantBackoff,
  CountBreaker,
  circuitBreaker,
  DelegateBackoff,
  handleWhen,
  type IPolicy,
  retry,
  TaskCancelledError,
  TimeoutStrategy,
  timeout,
  wrap,
} from "cockatiel";
import type { FastifyBaseLogger as Logger } from "fastify";
import { Counter, Gauge, type Registry } from "prom-client";
import type { BuiltInBug } from "../built-in-bugs.ts";

/**
 * One resilience pipeline per dependency, built from cockatiel (STYLE: policies you compose).
 * Business code calls `execute` and never writes its own retry loop.
 *
 * The breaker is business-aware: a dependency that answers "sold out" or "card declined" is
 * healthy, so those outcomes are returned as values. Only infrastructure failures — timeouts,
 * connection errors, 5xx, 429 — are thrown as DependencyError and count against the breaker.
 */

export class DependencyError extends Error {
  /**
   * False only when no attempt of the call ever started (every one refused by an open breaker or a
   * full bulkhead): the dependency cannot have received it. True whenever that is not known.
   */
  mayHaveReachedDependency = true;

  constructor(
    readonly dependency: string,
    message: string,
    readonly status?: number,
    readonly retryAfterMs?: number,
  ) {
    super(`${dependency}: ${message}`);
  }
}

export interface DependencyPolicyOptions {
  /** Per attempt. */
  timeoutMs: number;
  /** Attempts in all, the first included. */
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** Open when this share of the last `breakerWindow` calls failed (and at least `breakerMinCalls` were made). */
  breakerThreshold: number;
  breakerWindow: number;
  breakerMinCalls: number;
  halfOpenAfterMs: number;
  /** Concurrent calls in flight, and how many more may queue. */
  bulkheadLimit: number;
  bulkheadQueue: number;
  /** The lab's regression guard (src/shop/built-in-bugs.ts); undefined in the real shop. */
  builtInBug?: BuiltInBug;
}

export interface DependencyPolicy {
  readonly name: string;
  execute<T>(fn: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T>;
  breakerState(): "closed" | "open" | "half-open" | "isolated";
}

export interface ResilienceTelemetry {
  registry: Registry;
  log: Logger;
}

const isTransient = (error: Error) => error instanceof DependencyError || error instanceof TaskCancelledError;

export function createDependencyPolicy(
  name: string,
  options: DependencyPolicyOptions,
  telemetry: ResilienceTelemetry,
): DependencyPolicy {
  const metrics = metricsFor(telemetry.registry);
  const breaker = circuitBreaker(handleWhen(isTransient), {
    halfOpenAfter: options.halfOpenAfterMs,
    breaker: new CountBreaker({
      threshold: options.breakerThreshold,
      size: options.breakerWindow,
      minimumNumberOfCalls: options.breakerMinCalls,
    }),
  });
  // Full jitter over an exponential ceiling, unless the dependency said when to come back.
  const backoff = new DelegateBackoff<{ attempt: number; result: { error: Error } | { value: unknown } }>(
    (context) => {
      const error = "error" in context.result ? context.result.error : undefined;
      if (error instanceof DependencyError && error.retryAfterMs !== undefined) {
        return Math.min(error.retryAfterMs, options.maxBackoffMs);
      }
      const ceiling = Math.min(options.maxBackoffMs, options.initialBackoffMs * 2 ** (context.attempt - 1));
      return Math.random() * ceiling;
    },
  );
  const retries =
    // Built-in bug "retry-without-backoff" (lab regression guard): retry at once, in lockstep, up to
    // 10 attempts, whatever the dependency's Retry-After says.
    options.builtInBug === "retry-without-backoff"
      ? retry(handleWhen(isTransient), { maxAttempts: 9, backoff: new ConstantBackoff(0) })
      : retry(handleWhen(isTransient), { maxAttempts: options.maxAttempts - 1, backoff });
  // abortOnReturn off: aborting the signal of every successful call costs an exception per call.
  const perAttemptTimeout = timeout(options.timeoutMs, {
    strategy: TimeoutStrategy.Aggressive,
    abortOnReturn: false,
  });
  const limiter = bulkhead(options.bulkheadLimit, options.bulkheadQueue);
  const pipeline: IPolicy = wrap(limiter, retries, breaker, perAttemptTimeout);
  // Cockatiel links each attempt's timeout to the caller's signal, by default one signal it shares
  // across the process: past 10 concurrent calls Node warned of a listener leak (each listener is
  // removed when its call returns). The calls' own parent, bounded by what the bulkhead admits.
  const calls = new AbortController();
  setMaxListeners(options.bulkheadLimit + options.bulkheadQueue + 1, calls.signal);

  const state = () =>
    (CIRCUIT_NAMES[breaker.state] ?? "closed") as ReturnType<DependencyPolicy["breakerState"]>;
  const log = telemetry.log.child({ dependency: name });
  breaker.onBreak((reason) => {
    metrics.breakerState.set({ dependency: name }, 1);
    log.warn({ resilience_stage: "breaker_open", reason: describe(reason) }, "circuit breaker opened");
  });
  breaker.onHalfOpen(() => {
    metrics.breakerState.set({ dependency: name }, 0.5);
    log.info({ resilience_stage: "breaker_half_open" }, "circuit breaker half-open");
  });
  breaker.onReset(() => {
    metrics.breakerState.set({ dependency: name }, 0);
    log.info({ resilience_stage: "breaker_closed" }, "circuit breaker closed");
  });
  retries.onRetry((event) => {
    metrics.retries.inc({ dependency: name });
    log.debug(
      {
        resilience_stage: "retry",
        retry_attempt: event.attempt,
        delay_ms: Math.round(event.delay),
        reason: describe(event),
      },
      "retrying dependency call",
    );
  });
  metrics.breakerState.set({ dependency: name }, 0);

  return {
    name,
    breakerState: state,
    async execute<T>(fn: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
      let attempted = false;
      try {
        const parent = signal ?? calls.signal;
        return await pipeline.execute(({ signal: attemptSignal }) => {
          attempted = true;
          return fn(attemptSignal);
        }, parent);
      } catch (error) {
        const kind =
          error instanceof BrokenCircuitError
            ? "breaker_open"
            : error instanceof BulkheadRejectedError
              ? "bulkhead_full"
              : error instanceof TaskCancelledError
                ? "timeout"
                : "error";
        metrics.failures.inc({ dependency: name, kind });
        const failure =
          error instanceof DependencyError
            ? error
            : new DependencyError(name, kind === "error" ? (error as Error).message : kind);
        // A retry refused by the breaker still leaves the earlier attempts' requests out there.
        failure.mayHaveReachedDependency = attempted;
        throw failure;
      }
    },
  };
}

const CIRCUIT_NAMES: Record<number, string> = {
  [CircuitState.Closed]: "closed",
  [CircuitState.Open]: "open",
  [CircuitState.HalfOpen]: "half-open",
  [CircuitState.Isolated]: "isolated",
};

function describe(reason: unknown): string {
  if (reason && typeof reason === "object" && "error" in reason)
    return String((reason.error as Error)?.message);
  return "unknown";
}

const registered = new WeakMap<Registry, ReturnType<typeof createMetrics>>();

function metricsFor(registry: Registry) {
  let metrics = registered.get(registry);
  if (!metrics) {
    metrics = createMetrics(registry);
    registered.set(registry, metrics);
  }
  return metrics;
}

function createMetrics(registry: Registry) {
  return {
    breakerState: new Gauge({
      name: "chaoscart_breaker_state",
      help: "Circuit breaker state per dependency: 0 closed, 0.5 half-open, 1 open",
      labelNames: ["dependency"],
      registers: [registry],
    }),
    retries: new Counter({
      name: "chaoscart_dependency_retries_total",
      help: "Retried dependency calls",
      labelNames: ["dependency"],
      registers: [registry],
    }),
    failures: new Counter({
      name: "chaoscart_dependency_failures_total",
      help: "Dependency calls that failed after retries, by kind",
      labelNames: ["dependency", "kind"],
      registers: [registry],
    }),
  };
}
