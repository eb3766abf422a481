import { mkdirSync } from "node:fs";
import type { FinalState, Unreadable } from "../checkers/observed.ts";
import type { ClientOp, HistoryOp, NemesisOp, Phase } from "../history/op.ts";
import { HistoryWriter } from "../history/writer.ts";
import type { NemesisEvent } from "../nemeses/nemesis.ts";
import type { RunResult } from "../run/result.ts";
import { saveFinalState, saveRunRecord } from "../run/saved.ts";
import type { Topology } from "../topology/launcher.ts";
import { runWorkload } from "../workload/index.ts";
import { randomSeed } from "../workload/rng.ts";
import { about, assembleResult, failedSetup, notRun, settingsOf } from "./assemble.ts";
import { type BaseWorkload, FaultPlayer, isNemesis } from "./fault-kinds.ts";
import { isUnreadable, namedInHistory, readFinalState } from "./final-state.ts";
import { startGuardrails } from "./guardrails.ts";
import { resolveLoad } from "./load.ts";
import type { LoadedExperiment } from "./loader.ts";
import { scrapeAtPhaseBoundaries, scrapeCatalog } from "./metrics.ts";
import { startProber } from "./probes.ts";
import { ReplicationProbe } from "./replication.ts";
import { faultSchedule, phaseWindows, playSchedule } from "./schedule.ts";
import { seedSkus, skuNames } from "./seeding.ts";
import { describeSettle, type SettleOptions, settle } from "./settle.ts";
import { type FaultInjector, launchedSystem, type SystemUnderTest } from "./system.ts";

export interface RunOptions {
  /** What the experiment runs against: a launched topology or an existing deployment (system.ts). */
  system?: SystemUnderTest;
  /** Shorthand for `system: launchedSystem(topology)`. */
  topology?: Topology;
  /** Where history.jsonl goes, with run.json and final-state.json (run/saved.ts). */
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
  /** The capacity verify measured (orders/s): what a rate written as a share is a share of (load.ts). */
  capacity?: number;
}

/**
 * Runs one experiment against a running system: seed, warm up, baseline, faults on schedule,
 * heal, recovery, settle, read the final state, check, and return the result (docs/architecture.md §Lab).
 * Faults are always healed, also when the run fails or is aborted. An experiment whose faults the
 * system cannot inject is not run: its result fails with every check and hypothesis "not checked".
 */
export async function runExperiment(loaded: LoadedExperiment, options: RunOptions): Promise<RunResult> {
  const { experiment } = loaded;
  const { log } = options;
  const system = options.system ?? (options.topology && launchedSystem(options.topology));
  if (!system) throw new Error("runExperiment needs a system or a topology");
  const started = new Date();
  const nemeses = experiment.faults.filter(isNemesis);
  if (nemeses.length > 0 && !system.faults) return notRun(loaded, system, started, nemeses);
  const injector: FaultInjector = system.faults?.() ?? NO_FAULTS;
  const load = resolveLoad(experiment, options.capacity);
  mkdirSync(options.runDir, { recursive: true });
  const skus = skuNames(experiment);
  const seed = randomSeed();
  const keyPrefix = `${experiment.name}-${Date.now().toString(36)}`;
  await saveRunRecord(options.runDir, {
    schemaVersion: 1,
    experiment: about(loaded),
    checks: [...experiment.checks],
    seed: { workload: seed, keyPrefix, skus: { hot: skus.hot, cold: skus.cold } },
    settings: settingsOf(experiment, system, load),
    startedAt: started.toISOString(),
  });
  let t0 = performance.now();
  const clock = () => performance.now() - t0;
  const replication =
    system.replication && new ReplicationProbe(system.replication, experiment.topology.replication, clock);
  const replicationFailure = await replication?.setUp();
  if (replication && replicationFailure) {
    log(`setup failed: ${replicationFailure}`);
    return failedSetup(loaded, system, started, `setup: ${replicationFailure}`, replicationFailure, {
      replication: await replication.stop(),
    });
  }
  await seedSkus(system.inventory, load.stockPerSku, skus);

  const catalogBefore = await scrapeCatalog(system);
  const history = new HistoryWriter({ dir: options.runDir });
  const phases = phaseWindows(experiment);
  t0 = performance.now();
  replication?.start();
  const paymentScrapes = scrapeAtPhaseBoundaries(system, phases, clock);
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
  injector.subscribe(record);

  // Readiness and health through the run, as ops of their own process (checkers and SLOs ignore them).
  const stopProbes = startProber({
    targets: system.probeTargets(),
    record: (op) => history.append(op),
    clock,
  });

  const { mix } = experiment.workload;
  const workload: BaseWorkload = {
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
    clock,
    keyPrefix,
    seed,
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const faults = new FaultPlayer(injector, { workload, rate: load.rate, record });

  let aborted: RunResult["aborted"];
  const abortFaults = async (reason: string) => {
    if (aborted) return;
    aborted = { reason, atMs: Math.round(clock()) };
    log(`abort: ${reason}; healing every fault`);
    schedule.stop();
    await faults.healAll().catch((error) => log(`healing failed: ${error.message}`));
  };
  const schedule = playSchedule(faultSchedule(experiment), ({ fault }) => {
    if (aborted) return;
    faults.start(fault).then(
      (describe) => log(`fault: ${describe}`),
      // The experiment cannot test what it claims without its fault: stop it and fail the run.
      (error) =>
        void abortFaults(
          `fault ${fault.action} ${fault.target ?? ""} could not be injected: ${error.message}`,
        ),
    );
  });
  const onAbort = () => void abortFaults("interrupted");
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const stopGuardrails = startGuardrails(experiment.abort, () => history.ops(), clock, abortFaults);
  const progress = setInterval(
    () => options.progress?.(progressLine(history.ops(), phaseAt, clock())),
    2_000,
  );

  let final: FinalState | Unreadable;
  let replicationRecord: Awaited<ReturnType<ReplicationProbe["stop"]>> | undefined;
  try {
    log(
      `workload: ${load.rate}/s ${experiment.workload.arrival} for ${experiment.workload.duration / 1000} s, ${load.stockPerSku} units per hot SKU (about ${Math.round(load.hotDemandPerSku)} ordered)`,
    );
    await runWorkload({
      ...workload,
      rate: load.rate,
      durationMs: experiment.workload.duration,
    });
    await faults.finished();
  } catch (error) {
    paymentScrapes.cancel();
    throw error;
  } finally {
    clearInterval(progress);
    stopGuardrails();
    schedule.stop();
    await faults.healAll().catch((error) => log(`healing failed: ${error.message}`));
    // One listener per experiment on the suite's signal: without this, each pinned its run's state.
    options.signal?.removeEventListener("abort", onAbort);
    replicationRecord = await replication?.stop();
    // Interrupted: the boundaries not reached yet will not be.
    if (options.signal?.aborted) paymentScrapes.cancel();
  }
  try {
    log("settling");
    log(describeSettle(await settle(system.databaseUrl(), experiment.settle, since, options.settleLimits)));
    final = await readFinalState({
      databaseUrl: system.databaseUrl(),
      region: system.region,
      skus: [...skus.hot, ...skus.cold],
      since,
      ...namedInHistory(history.ops()),
      paymentUrl: system.payments.url,
      token: system.payments.token,
    });
    for (const source of [final.orders, final.payments])
      if (isUnreadable(source)) log(`final state: ${source.error} (the checks that need it are not checked)`);
  } catch (error) {
    final = { error: (error as Error).message };
  }
  await stopProbes();
  await history.close();
  await saveFinalState(options.runDir, final);

  return assembleResult({
    loaded,
    system,
    started,
    aborted,
    phases,
    ops: history.ops(),
    nemesisOps,
    final,
    catalogBefore,
    catalogAfter: await scrapeCatalog(system),
    payment: await paymentScrapes.readings(),
    ...(replicationRecord ? { replication: replicationRecord } : {}),
    load,
  });
}

/** For a system without fault injection: a fault-free experiment needs none. */
const NO_FAULTS: FaultInjector = {
  start: () => Promise.reject(new Error("this system cannot inject faults")),
  healAll: async () => {},
  subscribe: () => () => {},
};

function progressLine(ops: readonly HistoryOp[], phaseAt: (t: number) => Phase, now: number): string {
  const recent = ops.filter(
    (op): op is ClientOp => op.process === "client" && op.type !== "invoke" && op.time >= now - 2_000,
  );
  const errors = recent.filter((op) => op.type !== "ok").length;
  return `${phaseAt(now).padEnd(8)} ${(now / 1000).toFixed(0).padStart(4)} s  ${(recent.length / 2).toFixed(0).padStart(5)} ops/s  ${errors} errors`;
}
