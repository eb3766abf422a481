import { mkdirSync } from "node:fs";
import type { FinalState, Unreadable } from "../checkers/observed.ts";
import { isRegional, type RegionalFinalState } from "../checkers/regional.ts";
import type { ClientOp, HistoryOp, NemesisOp, Phase } from "../history/op.ts";
import { HistoryWriter } from "../history/writer.ts";
import type { NemesisEvent } from "../nemeses/nemesis.ts";
import type { RunResult } from "../run/result.ts";
import { saveFinalState, saveRunRecord } from "../run/saved.ts";
import type { Topology } from "../topology/launcher.ts";
import { runWorkload } from "../workload/index.ts";
import { isGatedSoldOut } from "../workload/outcome.ts";
import { randomSeed } from "../workload/rng.ts";
import { about, assembleResult, failedSetup, notRun, settingsOf } from "./assemble.ts";
import { type ConvergenceRecord, ConvergenceWatch } from "./convergence.ts";
import { type BaseWorkload, FaultPlayer, isNemesis } from "./fault-kinds.ts";
import { isUnreadable, namedInHistory, readFinalState } from "./final-state.ts";
import { startGuardrails } from "./guardrails.ts";
import { resolveLoad } from "./load.ts";
import type { LoadedExperiment } from "./loader.ts";
import { RUN_LOOKBACK_MS } from "./lookback.ts";
import { scrapeAtPhaseBoundaries, scrapeCatalog } from "./metrics.ts";
import { startProber } from "./probes.ts";
import { readRegionalFinalState } from "./regional-final-state.ts";
import { scrapeRelays } from "./relay-metrics.ts";
import { ReplicationProbe } from "./replication.ts";
import { faultSchedule, phaseWindows, playSchedule } from "./schedule.ts";
import { seedRegions, skuNames } from "./seeding.ts";
import { describeSettle, type SettleOptions, settle } from "./settle.ts";
import { type FaultInjector, launchedSystem, regionsOf, type SystemUnderTest } from "./system.ts";

/** Several regions: how long after the sagas ended they may take to agree (convergence.ts). */
export const CONVERGENCE_BOUND_MS = 10_000;

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
  const regions = regionsOf(system);
  const multiRegion = regions.length > 1;
  await seedRegions(regions, load.stockPerSku, skus, experiment.workload.stockBuckets);

  const catalogBefore = await scrapeCatalog(system);
  const relayUrls = multiRegion ? (system.relayMetricsUrls?.() ?? []) : [];
  const relaysBefore = relayUrls.length > 0 ? await scrapeRelays(relayUrls) : undefined;
  const history = new HistoryWriter({ dir: options.runDir });
  const phases = phaseWindows(experiment);
  t0 = performance.now();
  replication?.start();
  const paymentScrapes = scrapeAtPhaseBoundaries(system, phases, clock);
  const wall0 = Date.now();
  const since = new Date(wall0 - RUN_LOOKBACK_MS);
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

  let final: FinalState | RegionalFinalState | Unreadable;
  let replicationRecord: Awaited<ReturnType<ReplicationProbe["stop"]>> | undefined;
  let convergence: ConvergenceWatch | undefined;
  try {
    log(
      `workload: ${load.rate}/s ${experiment.workload.arrival} for ${experiment.workload.duration / 1000} s, ${load.stockPerSku} units per hot SKU (about ${Math.round(load.hotDemandPerSku)} ordered)${multiRegion ? `, split over ${regions.map((r) => r.name).join(" and ")} (stock and clients)` : ""}`,
    );
    // Several regions: a share of the clients per region's gateway, each sending any user's orders
    // (the gateway forwards a user homed elsewhere over the WAN).
    await Promise.all(
      regions.map((region, i) =>
        runWorkload({
          ...workload,
          gatewayUrl: region.gatewayUrl,
          seed: seed + i,
          rate: load.rate / regions.length,
          durationMs: experiment.workload.duration,
        }),
      ),
    );
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
    // Every fault is healed: from here on the regions must come to agree.
    if (multiRegion)
      convergence = new ConvergenceWatch(
        regions.map((r) => r.databaseUrl()),
        { boundMs: CONVERGENCE_BOUND_MS },
      );
  }
  let converged: ConvergenceRecord | undefined;
  try {
    log("settling");
    await Promise.all(
      regions.map(async (region) => {
        const outcome = await settle(
          region.databaseUrl(),
          experiment.settle,
          since,
          options.settleLimits,
          multiRegion ? region.name : undefined,
        );
        log(`${multiRegion ? `${region.name}: ` : ""}${describeSettle(outcome)}`);
      }),
    );
    if (convergence) {
      converged = await convergence.finish();
      log(describeConvergence(converged));
    }
    const read = {
      skus: [...skus.hot, ...skus.cold],
      since,
      ...namedInHistory(history.ops()),
    };
    final = multiRegion
      ? await readRegionalFinalState({ ...read, regions })
      : await readFinalState({
          ...read,
          databaseUrl: system.databaseUrl(),
          region: system.region,
          paymentUrl: system.payments.url,
          token: system.payments.token,
        });
    logUnreadable(final, log);
  } catch (error) {
    final = { error: (error as Error).message };
  } finally {
    await convergence?.stop();
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
    ...(converged ? { convergence: converged } : {}),
    ...(relaysBefore === undefined
      ? {}
      : { relays: { before: relaysBefore, after: await scrapeRelays(relayUrls) } }),
    load,
  });
}

function describeConvergence(record: ConvergenceRecord): string {
  return Number.isFinite(record.convergedAfterMs)
    ? `regions converged ${(record.convergedAfterMs / 1000).toFixed(1)} s after the workload (${record.unequalLooks} of ${record.looks} looks differed)`
    : `regions NOT converged within ${record.boundMs / 1000} s after the sagas ended: ${record.differingRows} row(s) still differ`;
}

function logUnreadable(final: FinalState | RegionalFinalState | Unreadable, log: (line: string) => void) {
  const parts = isRegional(final)
    ? final.regions.map((r) => ({ ...r, prefix: `${r.name}: ` }))
    : [{ final, prefix: "" }];
  for (const { final: part, prefix } of parts) {
    const sources = isUnreadable(part) ? [part] : [part.orders, part.payments];
    for (const source of sources)
      if (isUnreadable(source))
        log(`final state: ${prefix}${source.error} (the checks that need it are not checked)`);
  }
  if (isRegional(final) && isUnreadable(final.crossRegion))
    log(`final state: regions: ${final.crossRegion.error} (the cross-region checks are not checked)`);
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
  // A gated "sold out" is an answer, as availability counts it (workload/outcome.ts).
  const errors = recent.filter((op) => op.type !== "ok" && !isGatedSoldOut(op)).length;
  return `${phaseAt(now).padEnd(8)} ${(now / 1000).toFixed(0).padStart(4)} s  ${(recent.length / 2).toFixed(0).padStart(5)} ops/s  ${errors} errors`;
}
