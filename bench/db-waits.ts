/**
 * What the services' database sessions are doing during a timed window, sampled from pg_stat_activity:
 * per application (chaoscart-order, chaoscart-inventory, …), the average number of sessions in each
 * state — running on the server ("CPU"), waiting for a lock ("Lock:tuple", "Lock:transactionid"), for
 * the WAL flush ("IO:WALSync") or the synchronous standby ("IPC:SyncRep"), idle inside a transaction
 * (the service is busy between statements), or idle in the pool.
 */
import type { Sql } from "postgres";

export interface DbWaits {
  samples: number;
  /** application → wait label → average sessions in that state over the samples. */
  byApplication: Record<string, Record<string, number>>;
}

interface Row {
  app: string;
  state: string | null;
  type: string | null;
  event: string | null;
}

function label(row: Row): string {
  if (row.state === "idle") return "idle";
  if (row.state === "idle in transaction") return "idle in transaction";
  if (row.state !== "active") return row.state ?? "unknown";
  // An active session's ClientRead wait is the client sending the rest of a pipelined request.
  return row.type ? `${row.type}:${row.event}` : "CPU";
}

export class DbWaitSampler {
  private readonly counts = new Map<string, Map<string, number>>();
  private samples = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly sql: Sql,
    private readonly intervalMs = 50,
  ) {}

  start(): void {
    const tick = () => {
      this.running = this.sample()
        .catch(() => {})
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.intervalMs);
        });
    };
    tick();
  }

  async stop(): Promise<DbWaits> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    const byApplication: DbWaits["byApplication"] = {};
    for (const [app, labels] of [...this.counts].sort()) {
      const row: Record<string, number> = {};
      for (const [name, n] of [...labels].sort((a, b) => b[1] - a[1])) {
        row[name] = this.samples > 0 ? n / this.samples : 0;
      }
      byApplication[app] = row;
    }
    return { samples: this.samples, byApplication };
  }

  private async sample(): Promise<void> {
    const rows = await this.sql<Row[]>`
      SELECT application_name AS app, state, wait_event_type AS type, wait_event AS event
      FROM pg_stat_activity
      WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND application_name LIKE 'chaoscart%'`;
    if (this.stopped) return;
    this.samples++;
    for (const row of rows) {
      const labels = this.counts.get(row.app) ?? new Map<string, number>();
      const name = label(row);
      labels.set(name, (labels.get(name) ?? 0) + 1);
      this.counts.set(row.app, labels);
    }
  }
}

/** "Lock:transactionid 6.1, IPC:SyncRep 1.9, idle 0.4 (of 10.0)": the states holding at least 0.05 sessions. */
export function formatWaits(waits: Record<string, number>): string {
  const total = Object.values(waits).reduce((sum, n) => sum + n, 0);
  const parts = Object.entries(waits)
    .filter(([, n]) => n >= 0.05)
    .map(([name, n]) => `${name} ${n.toFixed(1)}`);
  return `${parts.join(", ") || "-"} (of ${total.toFixed(1)})`;
}
