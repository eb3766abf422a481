/** PostgreSQL for the lab: a primary and a streaming replica on loopback, owned by this process. */
export { findPgBinaries } from "./binaries.ts";
export { startPgCluster } from "./cluster.ts";
export { pgUrl } from "./sql.ts";
export type {
  PgBinaries,
  PgCluster,
  PgClusterOptions,
  PgNode,
  ReplicaLag,
  ReplicationMode,
  UpstreamAddress,
} from "./types.ts";
