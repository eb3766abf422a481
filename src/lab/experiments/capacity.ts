import { setTimeout as sleep } from "node:timers/promises";
import type { ClientOp, HistoryOp } from "../history/op.ts";
import type { HistorySink } from "../history/writer.ts";
import { latencySummary } from "../slo/latency.ts";
import { runWorkload } from "../workload/index.ts";
import { RUN_LOOKBACK_MS } from "./lookback.ts";
import { seedSkus } from "./seeding.ts";
import { regionsOf, type SystemUnderTest } from "./system.ts";

/**
 * The shop's capacity, measured by `verify` before the suite (docs/architecture.md §Scenarios): a
 * short open-loop ramp of orders through the gateway on SKUs of its own (so no experiment sees its
 * stock), raising the offered rate step by step until goodput stops growing or p99 passes a bound.
 * The capacity is the best goodput seen: CONFIRMED orders per second of wall time, the drain included.
 */

export interface RampStep {
  offered: number;
  goodput: number;
  p99Ms: number | null;
  /** Completions that were not ok (refused, timed out, unknown). */
  errors: number;
  /** The most frequent error, e.g. "429 overloaded". */
  topError?: string;
}

export interface Capacity {
  /** CONFIRMED orders per second at the knee. */
  ordersPerSec: number;
  steps: RampStep[];
  /** Why the ramp stopped. */
  stoppedBy: string;
}

export interface RampOptions {
  startRate: number;
  factor: number;
  maxSteps: number;
  stepMs: number;
  /** Beyond this p99 a step is past the knee. */
  p99BoundMs: number;
  /** A step whose goodput grew less than this (×) over the best so far ends the ramp. */
  minGrowth: number;
  /** A step with more than this share of non-ok completions ends the ramp. */
  maxErrorShare: number;
  /** A first, unjudged step at half the start rate. */
  warmupMs: number;
}

/**
 * A warm-up, then at most 5 rates of 1.5 s from 40/s ×1.8 (to ~420/s), the last one repeated: about
 * 12-15 s of ramp after the
 * 5.5 s seeding wait.
 */
export const RAMP: RampOptions = {
  startRate: 40,
  factor: 1.8,
  maxSteps: 5,
  stepMs: 1_500,
  p99BoundMs: 1_000,
  minGrowth: 1.1,
  maxErrorShare: 0.02,
  warmupMs: 1_500,
};

/**
 * Judges a ramp: the next rate to try, or why to stop. Pure, so the stopping rule is tested alone.
 *
 * A step that would end the ramp is run once more at the same rate first, and the ramp ends only if
 * the repeat fails too: one step is 1.5 s, and on 2 shared cores a checkpoint, an autovacuum or a
 * neighbour's burst of work lands inside one now and then. Measured: a single slow step stopped a
 * ramp at 76 orders/s (p99 389 ms at 40/s) on a machine where the undisturbed ramp reached 214, and
 * the suite then ran its overload burst below the shop's real capacity.
 */
export function nextStep(steps: readonly RampStep[], options: RampOptions = RAMP): number | string {
  const last = steps.at(-1);
  if (!last) return options.startRate;
  const stop = stopReason(steps, options);
  if (stop === undefined) {
    const rates = new Set(steps.map((s) => s.offered)).size;
    if (rates >= options.maxSteps) return `the ramp's last step (${last.offered}/s) was still below the knee`;
    return Math.round(last.offered * options.factor);
  }
  const repeated = steps.at(-2)?.offered === last.offered;
  return repeated ? `${stop} (twice)` : last.offered;
}

function stopReason(steps: readonly RampStep[], options: RampOptions): string | undefined {
  const last = steps.at(-1);
  if (!last) return undefined;
  const earlier = steps.slice(0, -1);
  const best = Math.max(0, ...earlier.map((s) => s.goodput));
  if (last.p99Ms !== null && last.p99Ms > options.p99BoundMs)
    return `p99 ${Math.round(last.p99Ms)} ms > ${options.p99BoundMs} ms at ${last.offered}/s`;
  if (last.errors > options.maxErrorShare * Math.max(1, last.offered * (options.stepMs / 1000)))
    return `${last.errors} errors at ${last.offered}/s`;
  if (earlier.length > 0 && last.goodput < best * options.minGrowth)
    return `goodput stopped growing at ${last.offered}/s (${last.goodput.toFixed(0)}/s vs ${best.toFixed(0)}/s)`;
  return undefined;
}

export function capacityOf(steps: readonly RampStep[], stoppedBy: string): Capacity {
  const ordersPerSec = Math.max(0, ...steps.map((s) => s.goodput));
  return { ordersPerSec: Math.round(ordersPerSec), steps: [...steps], stoppedBy };
}

class MemorySink implements HistorySink {
  readonly ops: HistoryOp[] = [];
  append(op: HistoryOp) {
    this.ops.push(op);
  }
}

export async function measureCapacity(
  system: SystemUnderTest,
  log: (line: string) => void,
  options: RampOptions = RAMP,
): Promise<Capacity> {
  const run = Date.now().toString(36).toUpperCase();
  const hot = Array.from({ length: 3 }, (_, i) => `CAPACITY-${run}-${i + 1}`);
  await Promise.all(
    regionsOf(system).map((r) => seedSkus(r.inventory, 10_000_000, { hot, cold: [], unknown: [] })),
  );
  // Not judged: the first orders of a fresh shop pay for JIT compilation and new connections.
  await rampStep(system, hot, `capacity-${run}-warm`, options.startRate / 2, options.warmupMs);
  const steps: RampStep[] = [];
  for (let next = nextStep(steps, options); typeof next === "number"; next = nextStep(steps, options)) {
    const { done, elapsed } = await rampStep(
      system,
      hot,
      `capacity-${run}-${steps.length}`,
      next,
      options.stepMs,
    );
    const confirmed = done.filter((op) => op.type === "ok" && op.value.state === "CONFIRMED").length;
    const step: RampStep = {
      offered: next,
      goodput: confirmed / elapsed,
      p99Ms: latencySummary(done.flatMap((op) => (op.latencyMs === undefined ? [] : [op.latencyMs]))).p99Ms,
      errors: done.filter((op) => op.type !== "ok").length,
      ...topError(done),
    };
    steps.push(step);
    log(
      `  ${step.offered}/s offered: ${step.goodput.toFixed(0)} confirmed/s, p99 ${Math.round(step.p99Ms ?? 0)} ms, ${step.errors} errors${step.topError ? ` (mostly ${step.topError})` : ""}`,
    );
  }
  // The next experiment's window reaches back RUN_LOOKBACK_MS: an experiment started sooner counted
  // the ramp's last orders as its own (never requested, paid outside its provider reads), and
  // failed no-phantom and money in a run of the real shop.
  await sleep(RUN_LOOKBACK_MS);
  return capacityOf(steps, nextStep(steps, options) as string);
}

/**
 * Offers `rate` orders/s for `durationMs` and waits for every one to end; with several regions, a
 * share of it through each region's gateway, as the experiments send it.
 */
async function rampStep(
  system: SystemUnderTest,
  hot: string[],
  keyPrefix: string,
  rate: number,
  durationMs: number,
): Promise<{ done: ClientOp[]; elapsed: number }> {
  const history = new MemorySink();
  const started = performance.now();
  const gateways = regionsOf(system).map((r) => r.gatewayUrl);
  const through = (gatewayUrl: string, i: number) =>
    runWorkload({
      gatewayUrl,
      rate: rate / gateways.length,
      arrival: "constant",
      durationMs,
      users: 100_000,
      hotSkus: hot,
      coldSkus: [],
      mix: { order: 1, "order-read": 0, "catalog-read": 0 },
      shape: { multiItemShare: 0, missingSkuShare: 0 },
      // A refusal is a measurement here, not something to retry.
      client: { maxRetries: 0, pollGiveUpMs: 5_000 },
      keyPrefix: gateways.length > 1 ? `${keyPrefix}-${i}` : keyPrefix,
      history,
    });
  await Promise.all(gateways.map(through));
  const elapsed = (performance.now() - started) / 1000;
  const done = history.ops.filter((op): op is ClientOp => op.process === "client" && op.type !== "invoke");
  return { done, elapsed };
}

function topError(done: readonly ClientOp[]): { topError?: string } {
  const counts = new Map<string, number>();
  for (const op of done) {
    if (op.type === "ok") continue;
    const kind = `${op.value.status ?? ""} ${op.value.error ?? ""}`.trim();
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  const top = [...counts].sort((a, b) => b[1] - a[1])[0];
  return top ? { topError: top[0] } : {};
}
