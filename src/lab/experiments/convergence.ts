import { setTimeout as sleep } from "node:timers/promises";
import postgres, { type Sql } from "postgres";
import { compareTable, ORDERS_DIGEST, PAYMENTS_DIGEST } from "../../shop/relay/digest.ts";

/**
 * How long the regions take to converge once the faults healed (docs/architecture.md §Regions):
 * from the end of the workload, the regions' digests of orders and payments are compared every
 * `intervalMs` (the relay's own digests, digest.ts: only differing buckets are read row by row).
 * The regions converged at the first equal look after the last unequal one. Sagas still ending
 * write new versions, so the watch goes on until the caller's settle is over, then at most
 * `boundMs` longer for the regions to agree.
 */

export interface ConvergenceRecord {
  /** From the watch's start until the regions agreed for good; Infinity: not within the bound. */
  convergedAfterMs: number;
  /** Rows that differed at the last look (0 once converged). */
  differingRows: number;
  /** Looks taken, and how many found the regions different. */
  looks: number;
  unequalLooks: number;
  boundMs: number;
}

interface Look {
  at: number;
  differing: number;
}

export class ConvergenceWatch {
  private readonly dbs: Sql[];
  private readonly looks: Look[] = [];
  private readonly started = performance.now();
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(
    databaseUrls: readonly string[],
    private readonly options: { intervalMs?: number; boundMs: number },
  ) {
    this.dbs = databaseUrls.map((url) => postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10 }));
    this.loop = this.watch();
  }

  private async watch(): Promise<void> {
    while (!this.stopped) {
      const differing = await this.differingRows().catch(() => Number.POSITIVE_INFINITY);
      this.looks.push({ at: performance.now() - this.started, differing });
      await sleep(this.options.intervalMs ?? 500);
    }
  }

  /** Rows of orders and payments in which some region differs from the first. */
  private async differingRows(): Promise<number> {
    const [first, ...others] = this.dbs;
    if (!first) return 0;
    let rows = 0;
    for (const other of others) {
      for (const spec of [ORDERS_DIGEST, PAYMENTS_DIGEST]) {
        const { rows: diff } = await compareTable(first, other, spec, 16);
        rows += diff.missingAtTarget.length + diff.unknownAtSource.length + diff.differing.length;
      }
    }
    return rows;
  }

  /** Once the sagas ended: waits up to the bound for an equal look, stops watching and says how it went. */
  async finish(): Promise<ConvergenceRecord> {
    const deadline = performance.now() + this.options.boundMs;
    const settledAt = performance.now() - this.started;
    while (performance.now() < deadline) {
      const last = this.looks.at(-1);
      if (last && last.at >= settledAt && last.differing === 0) break;
      await sleep(100);
    }
    await this.stop();
    return convergenceOf(this.looks, this.options.boundMs);
  }

  /** Stops watching and closes the connections; idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await Promise.allSettled(this.dbs.map((db) => db.end({ timeout: 2 })));
  }
}

/** Pure: the record of a series of looks. */
export function convergenceOf(looks: readonly Look[], boundMs: number): ConvergenceRecord {
  let lastUnequal = -1;
  for (const [i, look] of looks.entries()) if (look.differing !== 0) lastUnequal = i;
  const agreed = looks[lastUnequal + 1];
  const last = looks.at(-1);
  return {
    convergedAfterMs: agreed ? Math.round(agreed.at) : Number.POSITIVE_INFINITY,
    differingRows: last ? last.differing : 0,
    looks: looks.length,
    unequalLooks: looks.filter((l) => l.differing !== 0).length,
    boundMs,
  };
}
