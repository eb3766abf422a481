import { setTimeout as sleep } from "node:timers/promises";
import type { ClientOp, Phase } from "../history/op.ts";
import type { HistorySink } from "../history/writer.ts";
import { type ArrivalProcess, arrivalTimes } from "./arrivals.ts";
import { type ClientOptions, WorkloadClient } from "./client.ts";
import {
  type Catalogue,
  KnownOrders,
  type OperationMix,
  OperationPlanner,
  type PlannedOp,
} from "./operations.ts";
import type { Outcome } from "./outcome.ts";
import { Rng, randomSeed } from "./rng.ts";

export interface WorkloadOptions {
  gatewayUrl: string;
  /** Arrivals per second. */
  rate: number;
  /** Default "poisson". */
  arrival?: ArrivalProcess;
  durationMs: number;
  users: number;
  hotSkus: string[];
  coldSkus: string[];
  /** Relative weights; missing kinds take DEFAULT_MIX's weight. */
  mix?: Partial<OperationMix>;
  /** Per-attempt timeout (default 2000 ms). */
  timeoutMs?: number;
  history: HistorySink;
  /** The phase an op belongs to, from its intended send time (same clock as `clock`). */
  phaseAt?: (time: number) => Phase | undefined;
  onProgress?: (progress: WorkloadProgress) => void;
  progressIntervalMs?: number;
  /** Seeds the arrival schedule and the operation choices (reported in the result). */
  seed?: number;
  /** Requests in flight (incl. retries, backoff and 202 polling) beyond which arrivals are not sent. */
  maxOutstanding?: number;
  /**
   * Monotonic ms since the run started — pass the runner's clock (`() => performance.now() - t0`)
   * so op times, `phaseAt` and nemesis ops share one time base. Default: ms since this call.
   */
  clock?: () => number;
  /** Retries, backoff, polling and connections of the client (timeoutMs above wins). */
  client?: Omit<ClientOptions, "timeoutMs">;
  /** Hot share, two-item share, missing-SKU share (see Catalogue). */
  shape?: Pick<Catalogue, "hotShare" | "multiItemShare" | "missingSkuShare">;
  /** Idempotency keys are `<keyPrefix>-<op id, 8 digits>`; default `wl<seed><time>` in base 36. */
  keyPrefix?: string;
  /** Stops new arrivals (outstanding ops still complete). */
  signal?: AbortSignal;
}

export interface WorkloadProgress {
  elapsedMs: number;
  arrivals: number;
  completed: number;
  outstanding: number;
  ok: number;
  fail: number;
  info: number;
  /** fail + info. */
  errors: number;
  /** Arrivals recorded as info because too many requests were outstanding. */
  overloaded: number;
  /** Completions per second over the last progress interval (over the whole run in the final one). */
  opsPerSec: number;
}

export interface WorkloadResult {
  seed: number;
  keyPrefix: string;
  progress: WorkloadProgress;
}

export const CLIENT_OVERLOADED = "client overloaded";

/**
 * An open-loop workload (Jepsen's generator + client roles). Arrivals follow a schedule fixed in
 * advance (`arrivalTimes`), never the system's speed: each has an *intended* send time, it is sent
 * at that time or as soon after as the process can, and its latency is measured from the intended
 * time. If the system (or this process) stalls for a second, the requests that should have gone out
 * during the stall are charged the wait — coordinated omission cannot hide it.
 *
 * Every arrival is recorded: an `invoke` when dispatched, then exactly one completion (ok / fail /
 * info, classified as in `outcome.ts`) with the same id, kind and phase. When `maxOutstanding`
 * requests are in flight, an arrival is NOT sent, not silently dropped and not queued (queuing would
 * slow the generator down — closed-loop behaviour): it is recorded at once as `info` with error
 * "client overloaded", which availability counts against the system.
 *
 * Resolves when every arrival has been dispatched and every outstanding op has completed (each is
 * bounded by its timeouts, retries and polling give-up).
 */
export async function runWorkload(options: WorkloadOptions): Promise<WorkloadResult> {
  const seed = options.seed ?? randomSeed();
  const keyPrefix = options.keyPrefix ?? `wl${seed.toString(36)}${Date.now().toString(36)}`;
  const origin = performance.now();
  const clock = options.clock ?? (() => performance.now() - origin);
  const maxOutstanding = options.maxOutstanding ?? 2000;
  const planner = new OperationPlanner(
    { users: options.users, hotSkus: options.hotSkus, coldSkus: options.coldSkus, ...options.shape },
    options.mix ?? {},
    new Rng(seed ^ 0x9e3779b9),
    keyPrefix,
  );
  const schedule = arrivalTimes(
    { rate: options.rate, arrival: options.arrival ?? "poisson", durationMs: options.durationMs },
    new Rng(seed),
  );
  const client = new WorkloadClient(options.gatewayUrl, {
    ...options.client,
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  });
  const known = new KnownOrders();
  const counts = { arrivals: 0, completed: 0, ok: 0, fail: 0, info: 0, overloaded: 0 };
  const inFlight = new Set<Promise<void>>();
  const start = clock();

  const progress = (opsPerSec: number): WorkloadProgress => ({
    elapsedMs: clock() - start,
    ...counts,
    outstanding: inFlight.size,
    errors: counts.fail + counts.info,
    opsPerSec,
  });
  let lastReport = { at: start, completed: 0 };
  const reporter = options.onProgress
    ? setInterval(() => {
        const now = clock();
        const rate = ((counts.completed - lastReport.completed) * 1000) / Math.max(1, now - lastReport.at);
        lastReport = { at: now, completed: counts.completed };
        options.onProgress?.(progress(rate));
      }, options.progressIntervalMs ?? 1000)
    : undefined;

  const record = (op: ClientOp) => options.history.append(op);

  const complete = (invoke: ClientOp, intended: number, outcome: Outcome, measured: boolean) => {
    const time = clock();
    counts.completed++;
    counts[outcome.type]++;
    record({
      type: outcome.type,
      id: invoke.id,
      process: "client",
      kind: invoke.kind,
      time,
      wall: Date.now(),
      value:
        invoke.kind === "order"
          ? { idempotencyKey: invoke.value.idempotencyKey, ...outcome.value }
          : outcome.value,
      ...(measured ? { latencyMs: time - intended } : {}),
      ...(invoke.phase ? { phase: invoke.phase } : {}),
    });
  };

  const dispatch = (intended: number) => {
    const id = nextOpId(options.history);
    const planned = planner.plan(id, known);
    const phase = options.phaseAt?.(intended);
    const invoke: ClientOp = {
      type: "invoke",
      id,
      process: "client",
      kind: planned.kind,
      time: clock(),
      wall: Date.now(),
      value: invocationValue(planned),
      ...(phase ? { phase } : {}),
    };
    counts.arrivals++;
    record(invoke);
    if (inFlight.size >= maxOutstanding) {
      // Deliberately neither dropped nor queued: the arrival is recorded as unknown at once. No
      // latency is recorded (nothing was measured); the op still counts against availability.
      counts.overloaded++;
      complete(invoke, intended, { type: "info", value: { error: CLIENT_OVERLOADED, attempts: 0 } }, false);
      return;
    }
    const running = execute(client, planned).then(
      (outcome) => {
        if (planned.kind === "order" && outcome.value.orderId !== undefined) {
          known.add(outcome.value.orderId, planned.userId);
        }
        complete(invoke, intended, outcome, true);
      },
      (error: unknown) =>
        complete(invoke, intended, { type: "info", value: { error: `client error: ${error}` } }, true),
    );
    const tracked = running.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  };

  try {
    let next = schedule.next();
    while (!next.done && !options.signal?.aborted) {
      const now = clock();
      // Everything due is dispatched now, however late we are: the schedule never bends.
      while (!next.done && start + next.value <= now) {
        dispatch(start + next.value);
        next = schedule.next();
      }
      if (next.done) break;
      const wait = start + next.value - clock();
      if (wait > 0) await sleep(wait);
    }
    while (inFlight.size > 0) await Promise.all([...inFlight]);
  } finally {
    if (reporter) clearInterval(reporter);
    await client.close();
  }
  const elapsed = clock() - start;
  const final = progress((counts.completed * 1000) / Math.max(1, elapsed));
  options.onProgress?.(final);
  return { seed, keyPrefix, progress: final };
}

/**
 * Op ids count from 1 per history, shared by every workload writing to it (e.g. an overload burst
 * running beside the main workload), so an id always pairs one invoke with its own completion.
 */
const opIds = new WeakMap<HistorySink, number>();
function nextOpId(history: HistorySink): number {
  const id = (opIds.get(history) ?? 0) + 1;
  opIds.set(history, id);
  return id;
}

function execute(client: WorkloadClient, planned: PlannedOp): Promise<Outcome> {
  switch (planned.kind) {
    case "order":
      return client.placeOrder(planned);
    case "order-read":
      return client.readOrder(planned);
    case "catalog-read":
      return client.readSku(planned);
  }
}

function invocationValue(planned: PlannedOp): ClientOp["value"] {
  switch (planned.kind) {
    case "order":
      return { idempotencyKey: planned.idempotencyKey, userId: planned.userId, items: planned.items };
    case "order-read":
      return { orderId: planned.orderId, userId: planned.userId };
    case "catalog-read":
      return { sku: planned.sku };
  }
}
