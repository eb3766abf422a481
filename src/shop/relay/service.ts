import { Counter, Gauge, Histogram } from "prom-client";
import { migrate } from "../db/migrate.ts";
import { createPool } from "../db/pool.ts";
import { createApp } from "../http/app.ts";
import { registerLabEndpoints } from "../http/lab-endpoints.ts";
import { listen, type RunningService } from "../http/listen.ts";
import type { RelayConfig } from "./config.ts";
import { OutboxLog } from "./outbox-log.ts";
import { reconcile } from "./reconcile.ts";
import { Relay } from "./relay.ts";

/**
 * `chaoscart serve relay`: one direction of replication between two regions (relay.ts), run by the
 * source region. Killable and restartable like any service: it keeps no state of its own.
 */
export async function startRelayService(config: RelayConfig): Promise<RunningService> {
  const source = config.CHAOSCART_REGION;
  const peer = config.CHAOSCART_PEER_REGION;
  if (source === peer)
    throw new Error(`CHAOSCART_PEER_REGION must differ from CHAOSCART_REGION (both ${source})`);
  if (config.CHAOSCART_OUTBOX_KEEP_MS > config.CHAOSCART_OUTBOX_MAX_RETENTION_MS)
    throw new Error(
      `CHAOSCART_OUTBOX_KEEP_MS (${config.CHAOSCART_OUTBOX_KEEP_MS}) must not exceed CHAOSCART_OUTBOX_MAX_RETENTION_MS (${config.CHAOSCART_OUTBOX_MAX_RETENTION_MS})`,
    );
  if (config.CHAOSCART_RELAY_POLL_MAX_MS < config.CHAOSCART_RELAY_POLL_MS)
    throw new Error(
      `CHAOSCART_RELAY_POLL_MAX_MS (${config.CHAOSCART_RELAY_POLL_MAX_MS}) must not be below CHAOSCART_RELAY_POLL_MS (${config.CHAOSCART_RELAY_POLL_MS})`,
    );
  const sourceDb = createPool(config.CHAOSCART_DATABASE_URL, {
    max: 4, // the log's reads, the wait for news (relay.ts), pruning, reconciliation
    applicationName: `chaoscart-relay-${source}`,
  });
  const peerDb = createPool(config.CHAOSCART_PEER_DATABASE_URL, {
    max: 3,
    applicationName: `chaoscart-relay-${source}`,
  });
  let relay: Relay | undefined;
  const app = createApp({
    service: "relay",
    logLevel: config.CHAOSCART_LOG_LEVEL,
    ready: async () => {
      const caughtUp = relay?.lastCaughtUpAt;
      if (caughtUp === undefined) throw new Error(`has not reached ${source}'s log horizon yet`);
      const behindMs = Date.now() - caughtUp;
      if (behindMs > config.CHAOSCART_RELAY_READY_LAG_MS)
        throw new Error(`last caught up with ${source} ${behindMs} ms ago`);
    },
  });
  const labels = { source, peer };
  const events = new Counter({
    name: "chaoscart_relay_events_total",
    help: "Outbox entries shipped to the peer",
    labelNames: ["source", "peer"],
    registers: [app.metrics],
  });
  const applied = new Counter({
    name: "chaoscart_relay_orders_applied_total",
    help: "Order versions the peer applied, by outcome (inserted, replaced, kept)",
    labelNames: ["source", "peer", "outcome"],
    registers: [app.metrics],
  });
  const conflicts = new Counter({
    name: "chaoscart_relay_conflicts_total",
    help: "Resolutions recorded in the peer's conflict log",
    labelNames: ["source", "peer", "kind"],
    registers: [app.metrics],
  });
  const failures = new Counter({
    name: "chaoscart_relay_apply_errors_total",
    help: "Failed shipping attempts (retried with backoff)",
    labelNames: ["source", "peer"],
    registers: [app.metrics],
  });
  const lagBuckets = [
    0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5, 5, 10, 30, 60,
  ];
  const lag = new Histogram({
    name: "chaoscart_relay_lag_seconds",
    help:
      "From a change's commit at the source (its transaction's start where the source does not record " +
      "commit times: track_commit_timestamp) to its apply at the peer",
    labelNames: ["source", "peer"],
    buckets: lagBuckets,
    registers: [app.metrics],
  });
  const lagStage = new Histogram({
    name: "chaoscart_relay_lag_stage_seconds",
    help:
      "Where the lag went: stage=commit (per change, not part of the lag: its transaction's start to its commit " +
      "at the source, where the source records commit times), source_wait (per change: its commit, or its " +
      "transaction's start where commit times are not recorded, to the read that found it: the safe horizon, " +
      "the poll), read (per batch: the log and the current versions), " +
      "transit (per batch: send to the applied batch at the peer, before its commit: the WAN, batches ahead of it, the statement)",
    labelNames: ["source", "peer", "stage"],
    buckets: lagBuckets,
    registers: [app.metrics],
  });
  let lastBacklog = 0;
  new Gauge({
    name: "chaoscart_relay_backlog_events",
    help: "Source outbox entries the peer has not applied (what the source retains for it)",
    labelNames: ["source", "peer"],
    registers: [app.metrics],
    async collect() {
      lastBacklog = (await relay?.backlog().catch(() => lastBacklog)) ?? lastBacklog;
      this.set(labels, lastBacklog);
    },
  });
  try {
    await migrate(sourceDb);
    await migrate(peerDb);
  } catch (error) {
    await Promise.allSettled([sourceDb.end({ timeout: 2 }), peerDb.end({ timeout: 2 }), app.close()]);
    throw error;
  }
  const injected = new Counter({
    name: "chaoscart_relay_injected_faults_total",
    help: "Order versions the lab's replication fault dropped or garbled",
    labelNames: ["source", "peer", "fault"],
    registers: [app.metrics],
  });
  const catchUps = new Counter({
    name: "chaoscart_relay_catch_ups_total",
    help: "Times the source had pruned changes the peer never applied, and reconciliation caught it up",
    labelNames: ["source", "peer"],
    registers: [app.metrics],
  });
  const pruned = new Counter({
    name: "chaoscart_outbox_pruned_total",
    help: "Outbox rows pruned at the source, by whether every consumer had confirmed them",
    labelNames: ["source", "confirmed"],
    registers: [app.metrics],
  });
  const replicationFaults = { drop: 0, corrupt: 0 };
  relay = new Relay({
    faults: replicationFaults,
    source: { region: source, db: sourceDb },
    peer: { region: peer, db: peerDb },
    batchSize: config.CHAOSCART_RELAY_BATCH,
    pollMs: config.CHAOSCART_RELAY_POLL_MS,
    pollMaxMs: config.CHAOSCART_RELAY_POLL_MAX_MS,
    maxBackoffMs: config.CHAOSCART_RELAY_MAX_BACKOFF_MS,
    telemetry: {
      shipped(entries, outcome, lagSeconds, stages) {
        events.inc(labels, entries);
        applied.inc({ ...labels, outcome: "inserted" }, outcome.inserted);
        applied.inc({ ...labels, outcome: "replaced" }, outcome.replaced);
        applied.inc({ ...labels, outcome: "kept" }, outcome.kept);
        if (outcome.conflicts > 0)
          conflicts.inc({ ...labels, kind: "concurrent-versions" }, outcome.conflicts);
        if (outcome.keyCollisions > 0)
          conflicts.inc({ ...labels, kind: "key-collision" }, outcome.keyCollisions);
        for (const seconds of lagSeconds) lag.observe(labels, seconds);
        for (const seconds of stages.commit) lagStage.observe({ ...labels, stage: "commit" }, seconds);
        for (const seconds of stages.sourceWait)
          lagStage.observe({ ...labels, stage: "source_wait" }, seconds);
        lagStage.observe({ ...labels, stage: "read" }, stages.read);
        lagStage.observe({ ...labels, stage: "transit" }, stages.transit);
      },
      caughtUp(report) {
        catchUps.inc(labels);
        app.log.warn(
          { reconcile: report },
          `${source} pruned changes ${peer} never applied: reconciled instead (retention bound)`,
        );
      },
      injected(dropped, corrupted) {
        injected.inc({ ...labels, fault: "drop" }, dropped);
        injected.inc({ ...labels, fault: "corrupt" }, corrupted);
      },
      failed(error) {
        failures.inc(labels);
        app.log.warn({ err: error }, `shipping ${source} -> ${peer} failed; retrying`);
      },
    },
  });
  const running = relay;
  app.addHook("onClose", async () => {
    clearInterval(reconcileTimer);
    clearInterval(pruneTimer);
    await Promise.all([reconciling, pruning]);
    await running.stop();
    await Promise.allSettled([sourceDb.end({ timeout: 2 }), peerDb.end({ timeout: 2 })]);
  });
  running.start();
  const reconciled = new Counter({
    name: "chaoscart_reconcile_rows_total",
    help: "Rows the periodic reconciliation found divergent, and repaired",
    labelNames: ["source", "peer", "outcome"],
    registers: [app.metrics],
  });
  const reconcileRuns = new Counter({
    name: "chaoscart_reconcile_runs_total",
    help: "Periodic reconciliation runs, by result",
    labelNames: ["source", "peer", "result"],
    registers: [app.metrics],
  });
  // Built-in bug "reconcile-report-only" (lab regression guard): the reconciliation runs as a dry
  // run, counting and logging divergent rows and repairing none.
  const repair = config.CHAOSCART_BUILT_IN_BUG !== "reconcile-report-only";
  let reconciling: Promise<void> | undefined;
  const reconcileTimer =
    config.CHAOSCART_RECONCILE_INTERVAL_MS > 0
      ? setInterval(() => {
          reconciling ??= reconcile(
            { name: source, db: sourceDb },
            { name: peer, db: peerDb },
            { buckets: 64, graceMs: config.CHAOSCART_RECONCILE_GRACE_MS, repair, onlyHome: source },
          )
            .then((report) => {
              reconcileRuns.inc({ ...labels, result: "ok" });
              reconciled.inc({ ...labels, outcome: "divergent" }, report.rowsDiffering);
              reconciled.inc({ ...labels, outcome: "repaired" }, report.rowsRepaired);
              if (report.rowsDiffering > 0)
                app.log.warn({ reconcile: report }, "reconciliation found divergent rows");
            })
            .catch((error) => {
              reconcileRuns.inc({ ...labels, result: "error" });
              app.log.warn({ err: error }, "reconciliation failed");
            })
            .finally(() => {
              reconciling = undefined;
            });
        }, config.CHAOSCART_RECONCILE_INTERVAL_MS)
      : undefined;
  reconcileTimer?.unref();
  const outbox = new OutboxLog(sourceDb);
  const retention = {
    keepMs: config.CHAOSCART_OUTBOX_KEEP_MS,
    maxRetentionMs: config.CHAOSCART_OUTBOX_MAX_RETENTION_MS,
    limit: 10_000,
  };
  let pruning: Promise<void> | undefined;
  const pruneTimer =
    config.CHAOSCART_OUTBOX_PRUNE_INTERVAL_MS > 0
      ? setInterval(() => {
          pruning ??= outbox
            .prune(retention)
            .then((result) => {
              pruned.inc({ source, confirmed: "yes" }, result.pruned - result.unconfirmed);
              pruned.inc({ source, confirmed: "no" }, result.unconfirmed);
              if (result.unconfirmed > 0)
                app.log.warn(
                  { pruned: result },
                  `pruned ${result.unconfirmed} outbox rows a consumer had not confirmed (older than the retention bound)`,
                );
            })
            .catch((error) => app.log.warn({ err: error }, "pruning the outbox failed"))
            .finally(() => {
              pruning = undefined;
            });
        }, config.CHAOSCART_OUTBOX_PRUNE_INTERVAL_MS)
      : undefined;
  pruneTimer?.unref();
  if (config.CHAOSCART_LAB_TOKEN)
    registerLabEndpoints(app, { token: config.CHAOSCART_LAB_TOKEN, replicationFaults });
  const listening = await listen(app, config.CHAOSCART_HOST, config.CHAOSCART_PORT);
  app.log.info({ port: listening.port, source, peer }, "relay listening");
  const bug = config.CHAOSCART_BUILT_IN_BUG;
  if (bug)
    app.log.warn({ builtInBug: bug }, `BUILT-IN BUG "${bug}" IS SWITCHED ON: this is not the real shop`);
  return listening;
}
