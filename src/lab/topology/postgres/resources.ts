/** What one cluster has started (servers, client pools, its work dir), and how to tear all of it down. */
import { rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import type { Postmaster } from "./postmaster.ts";
import { type LiveCluster, track, untrack } from "./registry.ts";
import type { AdminSql } from "./sql.ts";

export class ClusterResources implements LiveCluster {
  private readonly postmasters: Postmaster[] = [];
  private readonly pools: AdminSql[] = [];
  private stopping: Promise<void> | undefined;
  private readonly abort = new AbortController();

  constructor(
    readonly workDir: string,
    private readonly keep: boolean,
    private readonly log: (msg: string) => void,
  ) {
    track(this);
  }

  /** Aborted when stop() begins: kills helper programs (initdb, pg_basebackup) still running. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Throws once stop() has begun, so a start-up interrupted by a signal does not start anything new. */
  assertActive(): void {
    if (this.stopping) throw new Error("PostgreSQL cluster start-up aborted: the cluster is being stopped");
  }

  addPostmaster(pm: Postmaster): void {
    this.postmasters.push(pm);
    if (this.stopping) {
      void pm.kill();
      this.assertActive();
    }
  }

  removePostmaster(pm: Postmaster): void {
    const i = this.postmasters.indexOf(pm);
    if (i >= 0) this.postmasters.splice(i, 1);
  }

  addPool<T extends AdminSql>(sql: T): T {
    this.pools.push(sql);
    return sql;
  }

  stop(): Promise<void> {
    this.abort.abort();
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  killSync(): void {
    for (const pm of this.postmasters) pm.killSync();
    if (!this.keep) rmSync(this.workDir, { recursive: true, force: true });
    untrack(this);
  }

  private async doStop(): Promise<void> {
    try {
      await Promise.allSettled(this.pools.map((sql) => sql.end({ timeout: 1 })));
      await Promise.all(this.postmasters.map((pm) => pm.stop()));
      const left = this.postmasters.filter((pm) => pm.running).map((pm) => pm.pid);
      if (left.length > 0) throw new Error(`PostgreSQL processes did not exit: ${left.join(", ")}`);
      if (this.keep) this.log(`kept ${this.workDir}`);
      else await rm(this.workDir, { recursive: true, force: true, maxRetries: 3 });
    } finally {
      untrack(this);
    }
  }
}
