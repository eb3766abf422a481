/** startPgCluster: a primary and (by default) a streaming hot-standby replica in a work directory. */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type CloneMethod, cloneFromPrimary } from "./base-backup.ts";
import { findPgBinaries, majorVersion } from "./binaries.ts";
import { writeNodeConf, writeStandbyConf } from "./conf.ts";
import { createCredentials } from "./credentials.ts";
import { initPrimary } from "./initdb.ts";
import { chownTree, type RunAs, resolveRunAs } from "./os-user.ts";
import { freePort } from "./ports.ts";
import { Postmaster } from "./postmaster.ts";
import {
  createReplicaSlot,
  enableSyncReplication,
  readReplicaLag,
  readSettings,
  waitForReplay,
  waitForStreaming,
} from "./replication.ts";
import { ClusterResources } from "./resources.ts";
import { type AdminSql, adminSql, HOST, pgUrl, probe } from "./sql.ts";
import type { PgCluster, PgClusterOptions, PgNode } from "./types.ts";

const PRIMARY_READY_MS = 30_000;
const REPLICA_READY_MS = 60_000;
const STREAMING_MS = 30_000;
const PORT_ATTEMPTS = 3;

export async function startPgCluster(opts: PgClusterOptions = {}): Promise<PgCluster> {
  const log = opts.log ?? (() => {});
  const replication = opts.replication ?? "async";
  const withReplica = opts.replica ?? true;
  const database = opts.database ?? "chaoscart";
  if (replication === "sync" && !withReplica) {
    throw new Error(
      'replication "sync" needs a replica: every commit would wait for a standby that never comes',
    );
  }
  const bins = findPgBinaries(opts.binDir);
  const major = majorVersion(bins.version);
  if (major < 12) throw new Error(`PostgreSQL ${bins.version} is too old: the lab needs 12 or newer`);
  const runAs = resolveRunAs(opts.osUser);
  const workDir = prepareWorkDir(opts.workDir, runAs);
  log(
    `PostgreSQL ${bins.version} (${bins.source}, ${bins.binDir})${runAs ? ` as ${runAs.user}` : ""} in ${workDir}`,
  );

  const resources = new ClusterResources(workDir, opts.keep ?? false, log);
  const credentials = createCredentials(workDir, runAs);
  const { password } = credentials;
  const startNode = (role: PgNode["role"], probeQuery: (port: number) => Promise<void>, timeoutMs: number) =>
    startPostmaster({
      role,
      binDir: bins.binDir,
      workDir,
      runAs,
      resources,
      probe: probeQuery,
      timeoutMs,
      log,
    });
  try {
    const primaryDir = path.join(workDir, "primary");
    log("initdb primary");
    await initPrimary({
      binDir: bins.binDir,
      dataDir: primaryDir,
      major,
      runAs,
      home: workDir,
      passwordFile: credentials.passwordFile,
      signal: resources.signal,
    });
    chownTree(primaryDir, runAs);
    const primary = await startNode("primary", (port) => probe(port, "postgres", password), PRIMARY_READY_MS);
    const primarySql = resources.addPool(adminSql(primary.port, "postgres", password, { max: 2 }));
    if (database !== "postgres") await primarySql`create database ${primarySql(database)}`;

    let replica: { pm: Postmaster; port: number } | undefined;
    let replicaSql: AdminSql | undefined;
    if (withReplica) {
      resources.assertActive();
      const upstream = (await opts.replicationUpstream?.(primary.port)) ?? { host: HOST, port: primary.port };
      await createReplicaSlot(primarySql);
      const replicaDir = path.join(workDir, "replica");
      const method: CloneMethod = await cloneFromPrimary({
        binDir: bins.binDir,
        hasBaseBackup: bins.hasBaseBackup,
        major,
        primaryPort: primary.port,
        primaryDataDir: primaryDir,
        replicaDataDir: replicaDir,
        runAs,
        home: workDir,
        password,
        pgpassFile: credentials.pgpassFile,
        signal: resources.signal,
      });
      log(`replica base backup via ${method}; replicating from ${upstream.host}:${upstream.port}`);
      writeStandbyConf(replicaDir, upstream, credentials.pgpassFile);
      chownTree(replicaDir, runAs);
      replica = await startNode("replica", (port) => probeStandby(port, password), REPLICA_READY_MS);
      replicaSql = resources.addPool(adminSql(replica.port, "postgres", password));
      await waitForStreaming(primarySql, { sync: false, timeoutMs: STREAMING_MS });
      if (replication === "sync") {
        await enableSyncReplication(primarySql);
        await waitForStreaming(primarySql, { sync: true, timeoutMs: STREAMING_MS });
      }
      log(`replica streaming (${replication})`);
    }

    const node = (role: PgNode["role"], started: { pm: Postmaster; port: number }): PgNode => ({
      role,
      host: HOST,
      port: started.port,
      url: pgUrl(started.port, database, password),
      dataDir: started.pm.spec.dataDir,
      pid: started.pm.pid,
      logFile: started.pm.spec.logFile,
    });
    const cluster: PgCluster = {
      primary: node("primary", primary),
      replication,
      binDir: bins.binDir,
      workDir,
      version: bins.version,
      password,
      passwordFile: credentials.passwordFile,
      replicaLag: () => readReplicaLag(primarySql),
      waitForReplicaCatchUp: async (timeoutMs = 30_000) => {
        if (!replicaSql) throw new Error("this cluster has no replica");
        await waitForReplay(primarySql, replicaSql, timeoutMs);
      },
      settings: () => readSettings(primarySql),
      stop: () => resources.stop(),
    };
    if (replica) cluster.replica = node("replica", replica);
    return cluster;
  } catch (err) {
    await resources.stop().catch((stopErr: unknown) => log(`cleanup after failed start: ${String(stopErr)}`));
    throw err;
  }
}

/** A fresh temp dir, or the given one if it is absent or empty (never someone's data), owned by the server user. */
function prepareWorkDir(requested: string | undefined, runAs: RunAs | undefined): string {
  if (!requested) {
    const dir = mkdtempSync(path.join(os.tmpdir(), "chaoscart-pg-"));
    assertReachable(dir, runAs);
    chownTree(dir, runAs);
    return dir;
  }
  const dir = path.resolve(requested);
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new Error(`workDir ${dir} is not a directory`);
    if (readdirSync(dir).length > 0) throw new Error(`workDir ${dir} is not empty`);
    assertReachable(dir, runAs);
  } else {
    let existing = path.dirname(dir);
    while (!existsSync(existing)) existing = path.dirname(existing);
    assertReachable(path.join(existing, "x"), runAs);
    // Missing parents get 0755 so the server user can pass through them; the work dir itself is private.
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    chmodSync(dir, 0o700);
  }
  chownTree(dir, runAs);
  return dir;
}

/** The server user must be able to traverse every parent of the work dir (a root-only 0700 parent would stop it). */
function assertReachable(dir: string, runAs: RunAs | undefined): void {
  if (!runAs) return;
  for (let parent = path.dirname(dir); ; parent = path.dirname(parent)) {
    const { mode, uid, gid } = statSync(parent);
    const searchable =
      (uid === runAs.uid && mode & 0o100) || (gid === runAs.gid && mode & 0o010) || mode & 0o001;
    if (!searchable) {
      throw new Error(
        `workDir ${dir} is not reachable by OS user "${runAs.user}" (PostgreSQL runs as it): ` +
          `${parent} is not searchable; use a directory under ${os.tmpdir()} or chmod o+x ${parent}`,
      );
    }
    if (parent === path.dirname(parent)) return;
  }
}

/** A hot standby is ready once it accepts read-only connections and says it is in recovery. */
async function probeStandby(port: number, password: string): Promise<void> {
  const sql = adminSql(port, "postgres", password);
  try {
    const [row] = await sql<{ recovery: boolean }[]>`select pg_is_in_recovery() as recovery`;
    if (!row?.recovery) throw new Error("replica is not in recovery");
  } finally {
    await sql.end({ timeout: 0 });
  }
}

interface StartSpec {
  role: PgNode["role"];
  binDir: string;
  workDir: string;
  runAs: RunAs | undefined;
  resources: ClusterResources;
  probe: (port: number) => Promise<void>;
  timeoutMs: number;
  log: (msg: string) => void;
}

/** Starts the node's postmaster on a free port; picks another port if one was taken in between. */
async function startPostmaster(spec: StartSpec): Promise<{ pm: Postmaster; port: number }> {
  const dataDir = path.join(spec.workDir, spec.role);
  for (let attempt = 1; ; attempt++) {
    spec.resources.assertActive();
    const port = await freePort();
    // cluster_name shows in ps titles: "postgres: chaoscart-primary-5433: checkpointer".
    writeNodeConf(dataDir, { port, name: `chaoscart-${spec.role}-${port}` });
    chownTree(dataDir, spec.runAs);
    const pm = await Postmaster.start({
      name: `PostgreSQL ${spec.role}`,
      binDir: spec.binDir,
      dataDir,
      logFile: path.join(spec.workDir, `${spec.role}.log`),
      runAs: spec.runAs,
      home: spec.workDir,
    });
    spec.resources.addPostmaster(pm);
    try {
      await pm.waitReady(() => spec.probe(port), spec.timeoutMs);
      spec.log(`${spec.role} up on ${HOST}:${port} (pid ${pm.pid})`);
      return { pm, port };
    } catch (err) {
      const portTaken = /could not bind|Address already in use/.test(pm.logTail());
      if (!portTaken || attempt >= PORT_ATTEMPTS) throw err;
      spec.log(`${spec.role}: port ${port} was taken, retrying`);
      await pm.kill();
      spec.resources.removePostmaster(pm);
    }
  }
}
