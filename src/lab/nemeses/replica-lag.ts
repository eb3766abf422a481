/**
 * `replica-lag`: make a region's replica fall behind, one of two ways.
 * - `replay-pause`: `pg_wal_replay_pause()` on the replica (connected to directly, not through a link).
 *   WAL keeps arriving but is not applied, so the replica's data freezes while the primary moves on;
 *   stop calls `pg_wal_replay_resume()`.
 * - `link`: latency (± jitter) and/or a bandwidth cap on the WAL stream (`<region>/replication`,
 *   downstream: primary → replica). In sync replication this slows every commit too.
 */
import type { FaultLink } from "../faults/index.ts";
import type { PgCluster, PgNode } from "../topology/postgres/index.ts";
import { addToxics, removeToxics } from "./link-ops.ts";
import { BaseNemesis, messageOf } from "./nemesis.ts";
import { within, withSql } from "./sql.ts";

export type ReplicaLagMode =
  | { mode: "replay-pause" }
  | { mode: "link"; latencyMs?: number; jitterMs?: number; rateKBps?: number };

export interface ReplicaLagTarget {
  region: string;
  cluster: Pick<PgCluster, "replica" | "replicaLag">;
  /** The region's replication link; needed for mode "link". */
  replicationLink?: FaultLink;
}

export class ReplicaLagNemesis extends BaseNemesis {
  readonly name: string;
  private toxicIds: string[] = [];

  constructor(
    private readonly target: ReplicaLagTarget,
    private readonly options: ReplicaLagMode = { mode: "replay-pause" },
    base: { stopAfterMs?: number } = {},
  ) {
    super(base);
    this.name = `replica-lag ${target.region}`;
  }

  describe(): string {
    if (this.options.mode === "replay-pause") return `pause WAL replay on ${this.target.region}'s replica`;
    const { latencyMs, jitterMs, rateKBps } = this.options;
    const parts = [
      latencyMs !== undefined ? `${latencyMs}${jitterMs ? ` ± ${jitterMs}` : ""} ms latency` : "",
      rateKBps !== undefined ? `${rateKBps} KB/s` : "",
    ].filter(Boolean);
    return `slow ${this.target.region}'s replication link: ${parts.join(", ")}`;
  }

  protected async inject(): Promise<Record<string, unknown>> {
    const options = this.options;
    if (options.mode === "replay-pause") {
      const replica = this.replica();
      const paused = await withSql(replica.url, async (sql) => {
        await sql`SELECT pg_wal_replay_pause()`;
        const [row] = await sql<{ paused: boolean }[]>`SELECT pg_is_wal_replay_paused() AS paused`;
        return row?.paused === true;
      });
      if (!paused) throw new Error(`${this.target.region}'s replica did not report replay paused`);
      return { mode: options.mode, replica: `${replica.host}:${replica.port}`, ...(await this.lag()) };
    }
    const link = this.link();
    if (options.latencyMs !== undefined) {
      const attributes = { latencyMs: options.latencyMs, jitterMs: options.jitterMs ?? 0 };
      this.toxicIds.push(...addToxics(link, { type: "latency", direction: "downstream", attributes }));
    }
    if (options.rateKBps !== undefined) {
      const attributes = { rateKBps: options.rateKBps };
      this.toxicIds.push(...addToxics(link, { type: "bandwidth", direction: "downstream", attributes }));
    }
    return { ...options, link: link.name, toxics: [...this.toxicIds], ...(await this.lag()) };
  }

  protected async heal(): Promise<Record<string, unknown>> {
    if (this.options.mode === "replay-pause") {
      const before = await this.lag();
      await withSql(this.replica().url, (sql) => sql`SELECT pg_wal_replay_resume()`);
      return { mode: this.options.mode, ...before };
    }
    const before = await this.lag();
    const { removed, missing } = removeToxics(this.link(), this.toxicIds);
    this.toxicIds = [];
    return { mode: this.options.mode, removed, ...(missing.length > 0 ? { missing } : {}), ...before };
  }

  /** The lag right now, for the event (best effort: a dead primary cannot say). */
  private async lag(): Promise<Record<string, unknown>> {
    try {
      const lag = await within(this.target.cluster.replicaLag(), 2_000, "replica lag");
      return { lagBytes: lag.bytes, lagSeconds: lag.seconds };
    } catch (error) {
      return { lagUnknown: messageOf(error) };
    }
  }

  private replica(): PgNode {
    const replica = this.target.cluster.replica;
    if (!replica) throw new Error(`${this.target.region} has no replica`);
    return replica;
  }

  private link(): FaultLink {
    const link = this.target.replicationLink;
    if (!link) throw new Error(`${this.target.region} has no replication link`);
    return link;
  }
}
