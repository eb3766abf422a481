/** What a run records about replication (written by experiments/replication.ts, kept in result.json). */

export type ReplicationMode = "sync" | "async";

/** One reading of the write endpoint's `pg_stat_replication` (its newest standby). */
export interface ReplicationSample {
  /** ms since the workload started (`atStart`: since the replication setup began). */
  time: number;
  /** `streaming`, `catchup`…; `none` when no standby is connected. */
  state: string | null;
  /** `sync`, `async`, `potential`, `quorum`; null without a standby. */
  syncState: string | null;
  /** WAL the standby has not flushed / replayed yet, in bytes. */
  flushLagBytes: number | null;
  replayLagBytes: number | null;
  /** PostgreSQL's own lag estimates (null when it has no recent sample, e.g. idle). */
  flushLagMs: number | null;
  replayLagMs: number | null;
  /** Why nothing was read (the endpoint was down, e.g. during a failover). */
  error?: string;
}

/** What `result.json` records about replication. */
export interface ReplicationRecord {
  requested: ReplicationMode;
  /** The first sample, taken once the mode was applied and before any load. */
  atStart: ReplicationSample | null;
  /** One sample a second through the run. */
  samples: ReplicationSample[];
}
