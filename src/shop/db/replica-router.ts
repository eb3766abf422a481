import type { FastifyBaseLogger } from "fastify";
import type { Sql } from "postgres";
import { Counter, Gauge, type Registry } from "prom-client";

export interface ReadRoute {
  sql: Sql;
  servedBy: "primary" | "replica";
  /** Upper bound on how old the replica's data may be; 0 on the primary. */
  stalenessMs: number;
}

export interface ReplicaRouterOptions {
  region: string;
  maxStalenessMs: number;
  heartbeatMs: number;
}

/**
 * Routes read-only queries to the replica while it is fresh enough (docs/architecture.md §Reads). Freshness comes
 * from a heartbeat row the primary rewrites every `heartbeatMs`: its age as seen on the replica
 * bounds the replica's staleness (from above, by at most one heartbeat). Reads that need
 * read-your-writes, or arrive while the replica is stale or unreachable, go to the primary.
 * Stock decisions never come through here: they are made on the primary, under a row lock.
 */
export class ReplicaRouter {
  private stalenessMs: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The heartbeat in flight: a tick that finds one skips, so a stalled primary gets one write, not a pile. */
  private ticking: Promise<void> | undefined;
  private readonly reads: Counter;

  constructor(
    private readonly primary: Sql,
    private readonly replica: Sql | undefined,
    private readonly options: ReplicaRouterOptions,
    private readonly log: FastifyBaseLogger,
    registry: Registry,
  ) {
    this.reads = new Counter({
      name: "chaoscart_reads_total",
      help: "Read queries by where they were served",
      labelNames: ["served_by"],
      registers: [registry],
    });
    const router = this;
    new Gauge({
      name: "chaoscart_replica_staleness_seconds",
      help: "Upper bound on replica staleness (heartbeat age on the replica); NaN when unknown",
      registers: [registry],
      collect() {
        this.set(router.stalenessMs === undefined ? Number.NaN : router.stalenessMs / 1000);
      },
    });
  }

  start(): void {
    if (!this.replica || this.timer) return;
    this.timer = setInterval(() => this.beat(), this.options.heartbeatMs);
    this.timer.unref();
    this.beat();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Where to run a read. `fresh` asks for read-your-writes. */
  route(fresh = false): ReadRoute {
    const staleness = this.stalenessMs;
    if (!fresh && this.replica && staleness !== undefined && staleness <= this.options.maxStalenessMs) {
      this.reads.inc({ served_by: "replica" });
      return { sql: this.replica, servedBy: "replica", stalenessMs: staleness };
    }
    this.reads.inc({ served_by: "primary" });
    return { sql: this.primary, servedBy: "primary", stalenessMs: 0 };
  }

  get currentStalenessMs(): number | undefined {
    return this.stalenessMs;
  }

  private beat(): void {
    if (this.ticking) return;
    this.ticking = this.tick().finally(() => {
      this.ticking = undefined;
    });
  }

  private async tick(): Promise<void> {
    const { region } = this.options;
    try {
      await this.primary`
        INSERT INTO replica_heartbeat (region, at) VALUES (${region}, clock_timestamp())
        ON CONFLICT (region) DO UPDATE SET at = EXCLUDED.at`;
    } catch (error) {
      this.log.debug({ err: error }, "heartbeat write failed");
    }
    try {
      const [row] = await (this.replica as Sql)<{ ageMs: number | null }[]>`
        SELECT (extract(epoch FROM clock_timestamp() - at) * 1000)::float8 AS "ageMs"
        FROM replica_heartbeat WHERE region = ${region}`;
      this.stalenessMs = row?.ageMs ?? undefined;
    } catch (error) {
      this.stalenessMs = undefined;
      this.log.debug(
        { err: error, fallback_source: "primary" },
        "replica unreachable; reading from the primary",
      );
    }
  }
}
