/**
 * Replication as PostgreSQL reports it, not as it was asked for (issue 11 item 4). The runner puts
 * the region in the replication mode its experiment asks for, observes `pg_stat_replication` at the
 * start, and samples it through the run. A run that asked for `sync` and does not observe it at the
 * start fails its setup: its failover check would otherwise claim a guarantee nobody gave.
 *
 * The mode is a run-time switch (`ALTER SYSTEM SET synchronous_standby_names` + reload), not a
 * topology of its own: `verify` launches one topology for the whole suite, and each run sets the
 * mode it needs, so an `async` experiment can share it with `sync` ones.
 */
import postgres, { type Sql } from "postgres";
import type { ReplicationMode, ReplicationRecord, ReplicationSample } from "../run/replication-record.ts";
import { REPLICA_NAME } from "../topology/postgres/conf.ts";

export type { ReplicationMode, ReplicationRecord, ReplicationSample };

/** How the runner reaches replication: launched topologies can switch it; others only observe. */
export interface ReplicationAccess {
  /** A superuser URL of the region's current write endpoint. */
  databaseUrl(): string;
  /** Whether the runner may set `synchronous_standby_names` (only on a topology the lab launched). */
  canSwitch: boolean;
}

const SETTLE_MS = 10_000;

export class ReplicationProbe {
  private readonly sql: Sql;
  private readonly samples: ReplicationSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private atStart: ReplicationSample | null = null;

  constructor(
    private readonly access: ReplicationAccess,
    private readonly requested: ReplicationMode,
    private readonly clock: () => number,
  ) {
    this.sql = postgres(access.databaseUrl(), {
      max: 1,
      connect_timeout: 2,
      idle_timeout: 5,
      fetch_types: false,
      onnotice: () => {},
      connection: { application_name: "chaoscart-lab-replication" },
    });
  }

  /**
   * Applies the requested mode (when allowed) and waits until PostgreSQL reports it. Returns the
   * reason the setup failed, or undefined. Only `sync` is a guarantee a run may rely on, so only a
   * `sync` request that is not observed fails.
   */
  async setUp(): Promise<string | undefined> {
    if (this.access.canSwitch) {
      const names = this.requested === "sync" ? REPLICA_NAME : "";
      try {
        await this.sql.unsafe(`alter system set synchronous_standby_names = '${names}'`);
        await this.sql`select pg_reload_conf()`;
      } catch (error) {
        if (this.requested === "sync") return `cannot set sync replication: ${(error as Error).message}`;
      }
    }
    const deadline = Date.now() + SETTLE_MS;
    let sample = await this.read();
    while (!matches(sample, this.requested) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      sample = await this.read();
    }
    this.atStart = sample;
    if (this.requested === "sync" && sample.syncState !== "sync") {
      return `replication: the experiment asked for sync, PostgreSQL reports ${describe(sample)} after ${SETTLE_MS / 1000} s`;
    }
    return undefined;
  }

  /** Samples every `everyMs` until `stop`. */
  start(everyMs = 1_000): void {
    const tick = async () => {
      this.samples.push(await this.read());
      this.timer = setTimeout(tick, everyMs);
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<ReplicationRecord> {
    clearTimeout(this.timer);
    await this.sql.end({ timeout: 1 }).catch(() => {});
    return { requested: this.requested, atStart: this.atStart, samples: this.samples };
  }

  private async read(): Promise<ReplicationSample> {
    const time = Math.round(this.clock());
    try {
      const rows = await this.sql<Omit<ReplicationSample, "time">[]>`
        select state, sync_state as "syncState",
               pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn)::float8 as "flushLagBytes",
               pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8 as "replayLagBytes",
               (extract(epoch from flush_lag) * 1000)::float8 as "flushLagMs",
               (extract(epoch from replay_lag) * 1000)::float8 as "replayLagMs"
          from pg_stat_replication
         order by backend_start desc
         limit 1`;
      const row = rows[0];
      if (!row) return { time, ...NO_STANDBY };
      return { time, ...row };
    } catch (error) {
      return { time, ...NOT_READ, error: (error as Error).message };
    }
  }
}

const NOT_READ = {
  state: null,
  syncState: null,
  flushLagBytes: null,
  replayLagBytes: null,
  flushLagMs: null,
  replayLagMs: null,
};
const NO_STANDBY = { ...NOT_READ, state: "none" };

function matches(sample: ReplicationSample, mode: ReplicationMode): boolean {
  return sample.state === "streaming" && sample.syncState === mode;
}

function describe(sample: ReplicationSample): string {
  if (sample.error) return `nothing (${sample.error})`;
  return `state=${sample.state ?? "unknown"} sync_state=${sample.syncState ?? "none"}`;
}

/** Run-level figures for `measurements`: the worst lag seen, and the share of samples in sync. */
export function replicationMeasurements(
  record: ReplicationRecord | undefined,
): Record<string, number | null> {
  const read = record?.samples.filter((s) => !s.error) ?? [];
  const max = (field: "flushLagBytes" | "replayLagBytes" | "replayLagMs") => {
    const values = read.map((s) => s[field]).filter((v): v is number => v !== null);
    return values.length > 0 ? Math.max(...values) : null;
  };
  return {
    replication_flush_lag_max_bytes: max("flushLagBytes"),
    replication_replay_lag_max_bytes: max("replayLagBytes"),
    replication_replay_lag_max_ms: max("replayLagMs"),
    replication_sync_share:
      read.length > 0 ? read.filter((s) => s.syncState === "sync").length / read.length : null,
  };
}
