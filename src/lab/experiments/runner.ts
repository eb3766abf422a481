import { mkdirSync } from "node:fs";
import { type Check, notChecked } from "../checkers/check.ts";
import { runChecks } from "../checkers/registry.ts";
import type { ClientOp, HistoryOp, NemesisOp, Phase } from "../history/op.ts";
import { HistoryWriter } from "../history/writer.ts";
import type { NemesisEvent } from "../nemeses/nemesis.ts";
import { type PhaseWindow, type RunResult, verdictOf } from "../run/result.ts";
import { saveFinalState, saveRunRecord } from "../run/saved.ts";
import { errorRate, recoveryTimeMs, sloByPhase, timeline } from "../slo/index.ts";
import type { Topology } from "../topology/launcher.ts";
import { runWorkload, type WorkloadOptions } from "../workload/index.ts";
import { randomSeed } from "../workload/rng.ts";
import { type FinalState, isUnreadable, readFinalState, type Unreadable } from "./final-state.ts";
import { evaluateHypotheses } from "./hypotheses.ts";
import type { LoadedExperiment } from "./loader.ts";
import type { Experiment, FaultStep } from "./schema.ts";
import { describeSettle, type SettleOptions, settle } from "./settle.ts";
import { type Endpoint, type FaultInjector, launchedSystem, type SystemUnderTest } from "./system.ts";

export interface RunOptions {
  /** What the experiment runs against: a launched topology or an existing deployment (system.ts). */
  system?: SystemUnderTest;
  /** Shorthand for `system: launchedSystem(topology)`. */
  topology?: Topology;
  /** Where history.jsonl goes. */
  runDir: string;
  log: (line: string) => void;
  progress?: (line: string) => void;
  /** Aborts fault injection and the workload early (Ctrl-C). */
  signal?: AbortSignal;
  /**
   * How long to keep waiting for sagas that do not end (settle.ts defaults otherwise): for a run
   * against a deliberately broken shop, whose stuck sagas will never end.
   */
  settleLimits?: Pick<SettleOptions, "floorMs" | "stallMs">;
}

/** Faults that are not nemeses: the runner plays them itself. */
const WORKLOAD_FAULTS = new Set(["overload"]);
/** How long a fault with no duration is considered to last, for the phase windows. */
const INSTANT_FAULT_MS = 5_000;
const CATALOG_REFRESH_WAIT_MS = 5_500;

/**
 * Runs one experiment against a running system: seed, warm up, baseline, faults on schedule,
 * heal, recovery, settle, read the final state, check, and return the result (DESIGN §7).
 * Faults are always healed, also when the run fails or is aborted. An experiment whose faults the
 * system cannot inject is not run: its result fails with every check and hypothesis "not checked".
 */
export async function runExperiment(loaded: LoadedExperiment, options: RunOptions): Promise<RunResult> {
  const { experiment } = loaded;
  const { log } = options;
  const system = options.system ?? (options.topology && launchedSystem(options.topology));
  if (!system) throw new Error("runExperiment needs a system or a topology");
  const started = new Date();
  const nemeses = experiment.faults.filter((f) => !WORKLOAD_FAULTS.has(f.action));
  if (nemeses.length > 0 && !system.faults) return notRun(loaded, system, started, nemeses);
  const faults: FaultInjector = system.faults?.() ?? NO_FAULTS;
  mkdirSync(options.runDir, { recursive: true });
  const skus = skuNames(experiment);
  const workloadSeed = randomSeed();
  const keyPrefix = `${experiment.name}-${Date.now().toString(36)}`;
  await saveRunRecord(options.runDir, {
    schemaVersion: 1,
    experiment: about(loaded),
    checks: [...experiment.checks],
    seed: { workload: workloadSeed, keyPrefix, skus: { hot: skus.hot, cold: skus.cold } },
    settings: settingsOf(experiment, system),
    startedAt: started.toISOString(),
  });
  await seed(system.inventory, experiment, skus);
  // The order service's catalog learns new SKUs when its Bloom filter is rebuilt (every 5 s);
  // before that, reads of the fresh SKUs would be answered "unknown".
  await new Promise((r) => setTimeout(r, CATALOG_REFRESH_WAIT_MS));

  const catalogBefore = await scrapeCatalog(system);
  const history = new HistoryWriter({ dir: options.runDir });
  const phases = phaseWindows(experiment);
  const t0 = performance.now();
  const wall0 = Date.now();
  const since = new Date(wall0 - 1_000);
  const phaseAt = (time: number): Phase =>
    phases.find((p) => time >= p.start && time < p.end)?.phase ?? (time < 0 ? "warmup" : "settle");
  const nemesisOps: NemesisOp[] = [];
  const record = (event: NemesisEvent) => {
    const op: NemesisOp = {
      type: event.action,
      process: "nemesis",
      nemesis: event.nemesis,
      time: event.at - wall0,
      wall: event.at,
      detail: event.detail,
    };
    nemesisOps.push(op);
    history.append(op);
  };
  faults.subscribe(record);

  let aborted: RunResult["aborted"];
  const timers: NodeJS.Timeout[] = [];
  const extraLoads: Promise<unknown>[] = [];
  const abortFaults = async (reason: string) => {
    if (aborted) return;
    aborted = { reason, atMs: Math.round(performance.now() - t0) };
    log(`abort: ${reason}; healing every fault`);
    for (const timer of timers) clearTimeout(timer);
    await faults.healAll().catch((error) => log(`healing failed: ${error.message}`));
  };
  const onAbort = () => void abortFaults("interrupted");
  options.signal?.addEventListener("abort", onAbort, { once: true });

  const { mix } = experiment.workload;
  const workload: Omit<WorkloadOptions, "rate" | "durationMs"> = {
    gatewayUrl: system.gatewayUrl,
    arrival: experiment.workload.arrival,
    users: experiment.workload.users,
    hotSkus: skus.hot,
    coldSkus: skus.cold,
    mix: { order: mix.order, "order-read": mix.orderRead, "catalog-read": mix.catalogRead },
    shape: { missingSkuShare: mix.unknownSku, multiItemShare: experiment.workload.multiItemShare },
    timeoutMs: experiment.workload.timeout,
    history,
    phaseAt,
    clock: () => performance.now() - t0,
    keyPrefix,
    seed: workloadSeed,
    ...(options.signal ? { signal: options.signal } : {}),
  };

  for (const fault of experiment.faults) {
    timers.push(
      setTimeout(() => {
        if (aborted) return;
        if (WORKLOAD_FAULTS.has(fault.action)) {
          extraLoads.push(overload(fault, experiment, workload, record, log));
          return;
        }
        faults.start(nemesisSpec(fault)).then(
          (describe) => log(`fault: ${describe}`),
          // The experiment cannot test what it claims without its fault: stop it and fail the run.
          (error) =>
            void abortFaults(
              `fault ${fault.action} ${fault.target ?? ""} could not be injected: ${error.message}`,
            ),
        );
      }, fault.at),
    );
  }
  const guard = startGuardrails(experiment, history, t0, abortFaults);
  const progress = setInterval(() => options.progress?.(progressLine(history.ops(), phaseAt, t0)), 2_000);

  let final: FinalState | Unreadable;
  try {
    log(
      `workload: ${experiment.workload.rate}/s ${experiment.workload.arrival} for ${experiment.workload.duration / 1000} s`,
    );
    await runWorkload({
      ...workload,
      rate: experiment.workload.rate,
      durationMs: experiment.workload.duration,
    });
    await Promise.allSettled(extraLoads);
  } finally {
    clearInterval(progress);
    clearInterval(guard);
    for (const timer of timers) clearTimeout(timer);
    await faults.healAll().catch((error) => log(`healing failed: ${error.message}`));
    // One listener per experiment on the suite's signal: without this, each pinned its run's state.
    options.signal?.removeEventListener("abort", onAbort);
  }
  try {
    log("settling");
    log(describeSettle(await settle(system.databaseUrl(), experiment.settle, since, options.settleLimits)));
    final = await readFinalState({
      databaseUrl: system.databaseUrl(),
      region: system.region,
      skus: [...skus.hot, ...skus.cold],
      since,
      keys: orderKeys(history.ops()),
      orderIds: orderIds(history.ops()),
      paymentUrl: system.payments.url,
      token: system.payments.token,
    });
    for (const source of [final.orders, final.payments])
      if (isUnreadable(source)) log(`final state: ${source.error} (the checks that need it are not checked)`);
  } catch (error) {
    final = { error: (error as Error).message };
  }
  await history.close();
  await saveFinalState(options.runDir, final);

  const ops = history.ops();
  const slos = sloByPhase(ops, phases);
  const faultEnd = phases.find((p) => p.phase === "fault")?.end;
  const baseline = slos.find((s) => s.phase === "baseline");
  const measurements: Record<string, number | null> = {
    recovery_ms: faultEnd !== undefined && baseline ? recoveryTimeMs(ops, faultEnd, baseline) : null,
    switchover_ms: numberDetail(nemesisOps, "switchoverMs"),
    // 429 answers the clients met, retried ones included (see workload/outcome.ts).
    rate_limited: ops.reduce(
      (sum, op) =>
        op.process === "client" && op.type !== "invoke" ? sum + (op.value.rateLimited ?? 0) : sum,
      0,
    ),
    catalog_db_load_ratio: catalogLoadRatio(catalogBefore, await scrapeCatalog(system)),
  };
  const checks: Check[] = runChecks(experiment.checks, ops, final);
  const hypotheses = evaluateHypotheses(experiment.hypothesis, slos, measurements);
  const finished = new Date();
  return {
    schemaVersion: 1,
    experiment: about(loaded),
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs: finished.getTime() - started.getTime(),
    verdict: verdictOf(checks, hypotheses, aborted),
    ...(aborted ? { aborted } : {}),
    phases,
    slos,
    checks,
    hypotheses,
    timeline: timeline(ops),
    faults: nemesisOps,
    measurements,
    settings: settingsOf(experiment, system),
  };
}

function settingsOf(experiment: Experiment, system: SystemUnderTest): RunResult["settings"] {
  return {
    replication: experiment.topology.replication,
    rate: experiment.workload.rate,
    arrival: experiment.workload.arrival,
    durationMs: experiment.workload.duration,
    users: experiment.workload.users,
    hotSkus: experiment.workload.hotSkus,
    stockPerSku: experiment.workload.stockPerSku,
    fsync: "on",
    synchronous_commit: "on",
    ...system.settings,
  };
}

function about({ experiment, file, source }: LoadedExperiment): RunResult["experiment"] {
  return { name: experiment.name, description: experiment.description, file, definition: source };
}

/** For a system without fault injection: a fault-free experiment needs none. */
const NO_FAULTS: FaultInjector = {
  start: () => Promise.reject(new Error("this system cannot inject faults")),
  healAll: async () => {},
  subscribe: () => () => {},
};

/** The result of an experiment that could not run: its faults cannot be injected into this system. */
function notRun(
  loaded: LoadedExperiment,
  system: SystemUnderTest,
  started: Date,
  nemeses: readonly FaultStep[],
): RunResult {
  const faults = nemeses.map((f) => `${f.action} ${f.target ?? ""}`.trim()).join(", ");
  const reason = `not run: ${system.noFaultsReason ?? "this system cannot inject faults"} (faults: ${faults})`;
  const why = "the experiment did not run: its faults cannot be injected into this system";
  const { experiment } = loaded;
  return {
    schemaVersion: 1,
    experiment: about(loaded),
    startedAt: started.toISOString(),
    finishedAt: started.toISOString(),
    durationMs: 0,
    verdict: "fail",
    aborted: { reason, atMs: 0 },
    phases: [],
    slos: [],
    checks: experiment.checks.map((name) => notChecked(name, why)),
    hypotheses: experiment.hypothesis.map((h) => ({
      ...h,
      observed: null,
      status: "not-checked" as const,
      summary: `not checked: ${why}`,
    })),
    timeline: [],
    faults: [],
    measurements: {},
    settings: { ...system.settings },
  };
}

/** warmup → baseline → fault → recovery, from the schedule; without faults the whole run is baseline. */
export function phaseWindows(experiment: Experiment): PhaseWindow[] {
  const { warmup, duration } = experiment.workload;
  const end = duration;
  const windows: PhaseWindow[] = [{ phase: "warmup", start: 0, end: warmup }];
  if (experiment.faults.length === 0) return [...windows, { phase: "baseline", start: warmup, end }];
  const faultStart = Math.max(warmup, Math.min(...experiment.faults.map((f) => f.at)));
  const faultEnd = Math.min(
    end,
    Math.max(
      ...experiment.faults.map(
        (f) => f.at + (f.duration ?? numberField(f, "restartAfter") ?? INSTANT_FAULT_MS),
      ),
    ),
  );
  return [
    ...windows,
    { phase: "baseline", start: warmup, end: faultStart },
    { phase: "fault", start: faultStart, end: faultEnd },
    { phase: "recovery", start: faultEnd, end },
  ];
}

function numberField(fault: FaultStep, name: string): number | undefined {
  const value = (fault as Record<string, unknown>)[name];
  if (typeof value === "number") return value;
  if (typeof value === "string") {
    const match = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(value.trim());
    if (match) return Number(match[1]) * { ms: 1, s: 1_000, m: 60_000 }[match[2] as "ms" | "s" | "m"];
  }
  return undefined;
}

function nemesisSpec(fault: FaultStep): Record<string, unknown> {
  const { at: _at, ...spec } = fault as Record<string, unknown>;
  return spec;
}

function skuNames(experiment: Experiment) {
  const prefix = experiment.name.toUpperCase();
  const run = Date.now().toString(36).toUpperCase();
  return {
    hot: Array.from({ length: experiment.workload.hotSkus }, (_, i) => `${prefix}-${run}-HOT-${i + 1}`),
    cold: Array.from({ length: experiment.workload.coldSkus }, (_, i) => `${prefix}-${run}-COLD-${i + 1}`),
    unknown: Array.from({ length: 50 }, (_, i) => `${prefix}-${run}-NOPE-${i + 1}`),
  };
}

async function seed(inventory: Endpoint, experiment: Experiment, skus: ReturnType<typeof skuNames>) {
  const body = {
    skus: [
      ...skus.hot.map((id) => ({ id, stock: experiment.workload.stockPerSku, price: 1999 })),
      ...skus.cold.map((id) => ({ id, stock: 100_000, price: 499 })),
    ],
  };
  const response = await fetch(`${inventory.url}/admin/skus`, {
    method: "POST",
    headers: { authorization: `Bearer ${inventory.token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`seeding failed: ${response.status} ${await response.text()}`);
}

function orderKeys(ops: readonly HistoryOp[]): string[] {
  const keys = new Set<string>();
  for (const op of ops)
    if (op.process === "client" && op.kind === "order" && op.value.idempotencyKey)
      keys.add(op.value.idempotencyKey);
  return [...keys];
}

/** Order ids the clients were given or read. */
function orderIds(ops: readonly HistoryOp[]): string[] {
  const ids = new Set<string>();
  for (const op of ops)
    if (op.process === "client" && (op.kind === "order" || op.kind === "order-read") && op.value.orderId)
      ids.add(op.value.orderId);
  return [...ids];
}

function numberDetail(ops: readonly NemesisOp[], field: string): number | null {
  for (const op of ops) {
    const value = op.detail[field];
    if (typeof value === "number") return value;
  }
  return null;
}

/** Catalog counters of the order service; the experiment's share is the difference of two scrapes. */
async function scrapeCatalog(system: SystemUnderTest): Promise<{ lookups: number; loads: number } | null> {
  const url = system.orderMetricsUrl();
  if (!url) return null;
  try {
    const text = await (await fetch(url, { signal: AbortSignal.timeout(3_000) })).text();
    const sum = (name: string) =>
      text
        .split("\n")
        .filter((line) => line.startsWith(name))
        .reduce((total, line) => total + Number(line.split(" ").at(-1)), 0);
    return {
      lookups: sum("chaoscart_catalog_lookups_total"),
      loads: sum("chaoscart_catalog_db_loads_total"),
    };
  } catch {
    return null;
  }
}

/** Database loads per catalog lookup during the experiment (unknown SKUs should cause almost none). */
function catalogLoadRatio(
  before: { lookups: number; loads: number } | null,
  after: typeof before,
): number | null {
  if (!before || !after) return null; // a restarted order service resets its counters: not measurable
  const lookups = after.lookups - before.lookups;
  const loads = after.loads - before.loads;
  return lookups > 0 && loads >= 0 ? loads / lookups : null;
}

/** Abort guardrails: stop injecting faults when the error rate stays above the bound for the window. */
function startGuardrails(
  experiment: Experiment,
  history: HistoryWriter,
  t0: number,
  abort: (reason: string) => Promise<void>,
): NodeJS.Timeout {
  return setInterval(() => {
    const now = performance.now() - t0;
    for (const rule of experiment.abort) {
      if (now < rule.for) continue;
      const rate = errorRate(history.ops(), rule.for, now);
      if (rate !== null && rate > rule.above) {
        void abort(
          `error rate ${(rate * 100).toFixed(1)}% above ${(rule.above * 100).toFixed(0)}% for ${rule.for} ms`,
        );
      }
    }
  }, 1_000);
}

function progressLine(ops: readonly HistoryOp[], phaseAt: (t: number) => Phase, t0: number): string {
  const now = performance.now() - t0;
  const recent = ops.filter(
    (op): op is ClientOp => op.process === "client" && op.type !== "invoke" && op.time >= now - 2_000,
  );
  const errors = recent.filter((op) => op.type !== "ok").length;
  return `${phaseAt(now).padEnd(8)} ${(now / 1000).toFixed(0).padStart(4)} s  ${(recent.length / 2).toFixed(0).padStart(5)} ops/s  ${errors} errors`;
}

/** The overload "fault": extra open-loop load on top of the workload for the fault's duration. */
async function overload(
  fault: FaultStep,
  experiment: Experiment,
  workload: Omit<WorkloadOptions, "rate" | "durationMs">,
  record: (event: NemesisEvent) => void,
  log: (line: string) => void,
): Promise<void> {
  const factor = numberField(fault, "factor") ?? 5;
  const durationMs = fault.duration ?? INSTANT_FAULT_MS;
  const name = `overload ×${factor}`;
  log(`fault: ${name} for ${durationMs} ms`);
  record({ nemesis: name, action: "start", at: Date.now(), detail: { factor, durationMs } });
  try {
    await runWorkload({
      ...workload,
      rate: experiment.workload.rate * (factor - 1),
      durationMs,
      keyPrefix: `${workload.keyPrefix}-burst`,
      ...(workload.seed === undefined ? {} : { seed: (workload.seed + 1) >>> 0 }),
    });
  } finally {
    record({ nemesis: name, action: "stop", at: Date.now(), detail: {} });
  }
}
