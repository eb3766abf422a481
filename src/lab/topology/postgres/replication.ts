/** Streaming replication as seen from SQL: the slot, waiting for streaming, sync mode, lag and catch-up. */
import { setTimeout as sleep } from "node:timers/promises";
import { REPLICA_NAME, REPLICA_SLOT } from "./conf.ts";
import type { AdminSql } from "./sql.ts";
import type { ReplicaLag } from "./types.ts";

/** A physical slot that reserves WAL from now on, so the replica can fetch everything after its base backup. */
export async function createReplicaSlot(primary: AdminSql): Promise<void> {
  await primary`select pg_create_physical_replication_slot(${REPLICA_SLOT}, true)`;
}

/** Synchronous commit waits for replica1 from now on; set only once it streams, so set-up cannot deadlock. */
export async function enableSyncReplication(primary: AdminSql): Promise<void> {
  await primary.unsafe(`alter system set synchronous_standby_names = '${REPLICA_NAME}'`);
  await primary`select pg_reload_conf()`;
}

interface ReplicationRow {
  bytes: number | null;
  seconds: number | null;
  state: string | null;
  sync_state: string | null;
}

async function replicationRow(primary: AdminSql): Promise<ReplicationRow | undefined> {
  // Before the first feedback message replay_lsn is null; fall back to what has been flushed/written/sent.
  const rows = await primary<ReplicationRow[]>`
    select greatest(0, pg_wal_lsn_diff(pg_current_wal_lsn(),
             coalesce(replay_lsn, flush_lsn, write_lsn, sent_lsn, '0/0'::pg_lsn)))::float8 as bytes,
           extract(epoch from replay_lag)::float8 as seconds,
           state, sync_state
      from pg_stat_replication
     where application_name = ${REPLICA_NAME}
     order by backend_start desc
     limit 1`;
  return rows[0];
}

export async function readReplicaLag(primary: AdminSql): Promise<ReplicaLag> {
  const row = await replicationRow(primary);
  if (!row) {
    throw new Error(`no replica connected: the primary's pg_stat_replication has no '${REPLICA_NAME}'`);
  }
  return { bytes: row.bytes ?? 0, seconds: row.seconds, state: row.state, syncState: row.sync_state };
}

/** Waits until replica1 streams (and, when asked, is the synchronous standby). */
export async function waitForStreaming(primary: AdminSql, opts: { sync: boolean; timeoutMs: number }) {
  const deadline = Date.now() + opts.timeoutMs;
  let seen = "not connected";
  while (Date.now() < deadline) {
    const row = await replicationRow(primary);
    if (row) seen = `state=${row.state} sync_state=${row.sync_state}`;
    if (row?.state === "streaming" && (!opts.sync || row.sync_state === "sync")) return;
    await sleep(100);
  }
  const wanted = opts.sync ? "streaming as the synchronous standby" : "streaming";
  throw new Error(`replica not ${wanted} after ${opts.timeoutMs} ms (${seen})`);
}

/** Waits until the replica has replayed all WAL the primary had written when called. */
export async function waitForReplay(primary: AdminSql, replica: AdminSql, timeoutMs: number): Promise<void> {
  const [target] = await primary<{ lsn: string }[]>`select pg_current_wal_lsn()::text as lsn`;
  if (!target) throw new Error("cannot read the primary's WAL position");
  const deadline = Date.now() + timeoutMs;
  let replayed: string | null = null;
  for (;;) {
    const [row] = await replica<{ replayed: string | null; done: boolean | null }[]>`
      select pg_last_wal_replay_lsn()::text as replayed, pg_last_wal_replay_lsn() >= ${target.lsn}::pg_lsn as done`;
    if (row?.done) return;
    replayed = row?.replayed ?? null;
    if (Date.now() >= deadline) break;
    await sleep(20);
  }
  throw new Error(
    `replica did not catch up within ${timeoutMs} ms: replayed ${replayed ?? "nothing"}, primary at ${target.lsn}`,
  );
}

export async function readSettings(primary: AdminSql): Promise<Record<string, string>> {
  const names = ["fsync", "synchronous_commit", "synchronous_standby_names", "wal_level"];
  const rows = await primary<{ name: string; setting: string }[]>`
    select name, setting from pg_settings where name in ${primary(names)} order by name`;
  return Object.fromEntries(rows.map((row) => [row.name, row.setting]));
}
