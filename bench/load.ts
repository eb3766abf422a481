/**
 * Closed-loop HTTP load: N workers, each with its own keep-alive connection (one undici Client,
 * pipelining 1), each sending its next request as soon as the previous answer has been read.
 * The cell has a warm-up (not measured) and a timed window; requests still in flight at the end are
 * waited for (they count towards the grant total the caller verifies, not towards throughput).
 */
import { build } from "hdr-histogram-js";
import { Client } from "undici";

export interface LoadOptions {
  origin: string;
  path: string;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /** Request body of worker `worker`'s `seq`-th request; must be unique per request where that matters. */
  body: (worker: number, seq: number) => string;
  /** Status that counts as a success (a grant); anything else is an error. Ignored when `classify` is given. */
  okStatus: number;
  /** Extra headers of worker `worker`'s `seq`-th request (e.g. a unique idempotency key). */
  headers?: (worker: number, seq: number) => Record<string, string>;
  /**
   * Judges a response by its status and body text: `undefined` is a success, anything else the kind of
   * non-success it is counted as. Without it the body is not read and only `okStatus` succeeds.
   */
  classify?: (status: number, body: string) => string | undefined;
  signal?: AbortSignal;
  /** Called once when the timed window starts and once when it ends (for CPU snapshots and the like). */
  onMeasureStart?: () => void;
  onMeasureEnd?: () => void;
  /** Called about once a second with the cell's elapsed time and the successes so far. */
  onTick?: (elapsedMs: number, phase: "warm-up" | "measure" | "drain", ok: number) => void;
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export interface LoadResult {
  concurrency: number;
  /** Length of the timed window, ms. */
  measuredMs: number;
  /** Successes completed inside the timed window. */
  ok: number;
  okPerSecond: number;
  /** Latency of the successes completed in the timed window, ms (microsecond resolution). */
  latencyMs: LatencySummary;
  /** Successes by phase of completion; `total` is what the server must hold afterwards. */
  grants: { warmup: number; measured: number; drain: number; total: number };
  /** Every non-success over the whole cell (warm-up and drain included): "http 409", "ECONNRESET", … */
  errors: number;
  errorKinds: Record<string, number>;
  /** The same, for the answers (and failures) that completed inside the timed window only. */
  measuredErrorKinds: Record<string, number>;
  /** Transport failures: the request may or may not have taken effect on the server. */
  unknownOutcomes: number;
  requests: number;
}

export async function runClosedLoop(options: LoadOptions): Promise<LoadResult> {
  const histogram = build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
  });
  const grants = { warmup: 0, measured: 0, drain: 0, total: 0 };
  const errorKinds: Record<string, number> = {};
  const measuredErrorKinds: Record<string, number> = {};
  let errors = 0;
  let unknownOutcomes = 0;
  let requests = 0;

  const start = performance.now();
  const measureFrom = start + options.warmupMs;
  const measureTo = measureFrom + options.durationMs;
  // Each boundary hook runs exactly once: from its timer, or at the end if the workers finished first.
  let started = false;
  let ended = false;
  const measureStart = () => {
    if (started) return;
    started = true;
    options.onMeasureStart?.();
  };
  const measureEnd = () => {
    measureStart();
    if (ended) return;
    ended = true;
    options.onMeasureEnd?.();
  };
  const timers = [
    setTimeout(measureStart, options.warmupMs),
    setTimeout(measureEnd, options.warmupMs + options.durationMs),
  ];
  const ticker = setInterval(() => {
    const now = performance.now();
    const phase = now < measureFrom ? "warm-up" : now < measureTo ? "measure" : "drain";
    options.onTick?.(now - start, phase, grants.total);
  }, 1_000);

  const clients: Client[] = [];
  const worker = async (index: number) => {
    const client = new Client(options.origin, { pipelining: 1, keepAliveTimeout: 60_000 });
    clients.push(client);
    for (let seq = 0; performance.now() < measureTo && !options.signal?.aborted; seq++) {
      const body = options.body(index, seq);
      const sent = performance.now();
      let kind: string | undefined;
      try {
        const response = await client.request({
          method: "POST",
          path: options.path,
          headers: { "content-type": "application/json", ...options.headers?.(index, seq) },
          body,
        });
        if (options.classify) {
          kind = options.classify(response.statusCode, await response.body.text());
        } else {
          await response.body.dump();
          if (response.statusCode !== options.okStatus) kind = `http ${response.statusCode}`;
        }
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        kind = typeof code === "string" ? code : (error as Error).name;
        unknownOutcomes++;
      }
      const done = performance.now();
      requests++;
      if (kind !== undefined) {
        errors++;
        errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
        if (done >= measureFrom && done < measureTo) {
          measuredErrorKinds[kind] = (measuredErrorKinds[kind] ?? 0) + 1;
        }
        continue;
      }
      grants.total++;
      if (done < measureFrom) grants.warmup++;
      else if (done < measureTo) {
        grants.measured++;
        histogram.recordValue(Math.max(1, Math.round((done - sent) * 1000)));
      } else grants.drain++;
    }
  };

  try {
    await Promise.all(Array.from({ length: options.concurrency }, (_, i) => worker(i)));
  } finally {
    for (const timer of timers) clearTimeout(timer);
    clearInterval(ticker);
    measureEnd();
    await Promise.allSettled(clients.map((client) => client.close()));
  }
  // The window is fixed in advance ([start + warm-up, + duration) by completion time), so its length is exact.
  const measuredMs = options.durationMs;
  const us = (percentile: number) => histogram.getValueAtPercentile(percentile) / 1000;
  const latencyMs: LatencySummary =
    histogram.totalCount === 0
      ? {
          p50: Number.NaN,
          p90: Number.NaN,
          p99: Number.NaN,
          p999: Number.NaN,
          max: Number.NaN,
          mean: Number.NaN,
        }
      : {
          p50: us(50),
          p90: us(90),
          p99: us(99),
          p999: us(99.9),
          max: histogram.maxValue / 1000,
          mean: histogram.mean / 1000,
        };
  histogram.destroy();
  return {
    concurrency: options.concurrency,
    measuredMs,
    ok: grants.measured,
    okPerSecond: (grants.measured * 1000) / measuredMs,
    latencyMs,
    grants,
    errors,
    errorKinds,
    measuredErrorKinds,
    unknownOutcomes,
    requests,
  };
}
