import type { ProbeOp } from "../history/op.ts";

/** A service the lab samples: its name in the history (`<region>/<role>` or `gateway`) and base URL. */
export interface ProbeTarget {
  service: string;
  url: string;
}

export interface ProberOptions {
  targets: readonly ProbeTarget[];
  /** Where each sample goes (the history). */
  record: (op: ProbeOp) => void;
  /** ms since the run started. */
  clock: () => number;
  intervalMs?: number;
  /** A probe without an answer within this time is `unreachable`. */
  timeoutMs?: number;
}

/**
 * Samples every target's `/healthz` and `/readyz` every `intervalMs` (issue 11 item 3) until stopped.
 * A sample still waiting for its answer is not doubled: a hung service gets one probe per timeout.
 * Returns a stop function that resolves once the samples in flight are recorded.
 */
export function startProber(options: ProberOptions): () => Promise<void> {
  const { targets, record, clock, intervalMs = 500, timeoutMs = 1_000 } = options;
  const inFlight = new Map<string, Promise<void>>();
  let stopped = false;
  const sample = (target: ProbeTarget, endpoint: ProbeOp["endpoint"]) => {
    const key = `${target.service} ${endpoint}`;
    if (inFlight.has(key)) return;
    const time = clock();
    const wall = Date.now();
    const done = probe(`${target.url}/${endpoint}`, timeoutMs).then((answer) => {
      inFlight.delete(key);
      record({ type: "probe", process: "probe", service: target.service, endpoint, time, wall, ...answer });
    });
    inFlight.set(key, done);
  };
  const tick = () => {
    if (stopped) return;
    for (const target of targets) {
      sample(target, "healthz");
      sample(target, "readyz");
    }
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  return async () => {
    stopped = true;
    clearInterval(timer);
    await Promise.all(inFlight.values());
  };
}

async function probe(url: string, timeoutMs: number): Promise<Pick<ProbeOp, "status" | "httpStatus">> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    return { status: response.ok ? "up" : "down", httpStatus: response.status };
  } catch {
    return { status: "unreachable" };
  }
}
