/**
 * `primary-failover`: crash a region's primary (SIGKILL to the postmaster's process group: the server
 * and every backend die at once, as in a host crash), promote the replica (`pg_promote`), and repoint
 * the write links (`<region>/order->primary`, `<region>/inventory->primary`) to it, resetting their open
 * connections so clients reconnect there. `switchoverMs` runs from the kill to the first write that
 * succeeds through every repointed link (a read-write transaction creating a temp table).
 *
 * Not reversible: stop only reports. The region stays on the promoted node (without a replica) and the
 * old primary stays down; the PgCluster object still describes the old roles, so read the current
 * primary from the event (`newPrimary`) or from a write link's upstream.
 */
import { setTimeout as sleep } from "node:timers/promises";
import postgres from "postgres";
import type { FaultLink } from "../faults/index.ts";
import type { PgCluster, PgNode } from "../topology/postgres/index.ts";
import { isProcessAlive } from "../topology/postgres/postmaster.ts";
import { linkDetail, resetConnections } from "./link-ops.ts";
import { BaseNemesis, messageOf } from "./nemesis.ts";
import { within, withSql } from "./sql.ts";

export interface FailoverTarget {
  region: string;
  cluster: Pick<PgCluster, "primary" | "replica" | "replicaLag">;
  /** The links services write through: repointed to the promoted replica. */
  writeLinks: FaultLink[];
}

export interface FailoverOptions {
  /** Bound on each phase (crash, promotion, first write); default 60 s. */
  timeoutMs?: number;
}

const NOT_REVERSIBLE =
  "not reversible: the region stays on the promoted node; the old primary stays down and the new primary has no replica";

export class PrimaryFailoverNemesis extends BaseNemesis {
  readonly name: string;
  private promoted: PgNode | undefined;

  constructor(
    private readonly target: FailoverTarget,
    private readonly options: FailoverOptions = {},
  ) {
    super();
    this.name = `primary-failover ${target.region}`;
  }

  describe(): string {
    const links = this.target.writeLinks.map((l) => l.name).join(", ");
    return `crash ${this.target.region}'s primary, promote the replica, repoint ${links} (${NOT_REVERSIBLE})`;
  }

  protected async inject(): Promise<Record<string, unknown>> {
    if (this.promoted) {
      throw new Error(
        `${this.target.region} already failed over to port ${this.promoted.port}; ${NOT_REVERSIBLE}`,
      );
    }
    const { primary, replica } = this.target.cluster;
    if (!replica) throw new Error(`${this.target.region} has no replica to promote`);
    if (!isProcessAlive(primary.pid))
      throw new Error(`${this.target.region}'s primary (pid ${primary.pid}) is not running`);
    const timeoutMs = this.options.timeoutMs ?? 60_000;
    // What the replica had not replayed at the crash: an upper bound on what async replication loses.
    const lagAtCrash = await within(this.target.cluster.replicaLag(), 2_000, "replica lag")
      .then((lag) => ({ replicaLagBytesAtCrash: lag.bytes }))
      .catch((error) => ({ replicaLagUnknown: messageOf(error) }));

    const t0 = performance.now();
    crash(primary.pid);
    await waitUntil(() => !isProcessAlive(primary.pid), timeoutMs, `primary pid ${primary.pid} to exit`);
    const crashedMs = performance.now() - t0;

    const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
    const promoted = await withSql(replica.url, async (sql) => {
      const [row] = await sql.unsafe<{ promoted: boolean }[]>(
        `SELECT pg_promote(true, ${seconds}) AS promoted`,
      );
      return row?.promoted === true;
    });
    if (!promoted)
      throw new Error(`${this.target.region}'s replica did not finish promotion within ${seconds} s`);
    this.promoted = replica;
    const promotedMs = performance.now() - t0;

    for (const link of this.target.writeLinks) {
      link.setUpstream({ host: replica.host, port: replica.port });
      await resetConnections(link);
    }
    const deadline = performance.now() + timeoutMs;
    const writable = await Promise.all(
      this.target.writeLinks.map(
        async (link) => [link.name, (await firstWrite(replica, link, deadline)) - t0] as const,
      ),
    );
    const switchoverMs = Math.round(Math.max(promotedMs, ...writable.map(([, ms]) => ms)));
    return {
      region: this.target.region,
      oldPrimary: { port: primary.port, pid: primary.pid },
      // The URL without its password: this detail goes into the history and the report.
      newPrimary: {
        host: replica.host,
        port: replica.port,
        url: withoutPassword(replica.url),
        pid: replica.pid,
      },
      ...lagAtCrash,
      crashedMs: Math.round(crashedMs),
      promotedMs: Math.round(promotedMs),
      switchoverMs,
      writableAfterMs: Object.fromEntries(writable.map(([name, ms]) => [name, Math.round(ms)])),
      links: this.target.writeLinks.map(linkDetail),
      reversible: false,
    };
  }

  protected async heal(): Promise<Record<string, unknown>> {
    const now = this.promoted;
    return {
      region: this.target.region,
      reversible: false,
      note: NOT_REVERSIBLE,
      ...(now ? { primary: { host: now.host, port: now.port, url: now.url } } : {}),
    };
  }
}

/** SIGKILL the postmaster's process group, then the postmaster itself (in case it left its group). */
function crash(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

async function waitUntil(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** When the first read-write transaction through the link commits (performance.now() time). */
async function firstWrite(node: PgNode, link: FaultLink, deadline: number): Promise<number> {
  const url = new URL(node.url);
  url.hostname = link.host;
  url.port = String(link.port);
  const sql = postgres(url.toString(), {
    max: 1,
    connect_timeout: 2,
    idle_timeout: 1,
    fetch_types: false,
    onnotice: () => {},
    connection: { application_name: "chaoscart-nemesis" },
  });
  let last = "no attempt";
  try {
    while (performance.now() < deadline) {
      try {
        await sql.begin(
          "read write",
          (tx) => tx`CREATE TEMP TABLE chaoscart_failover_probe (x int) ON COMMIT DROP`,
        );
        return performance.now();
      } catch (error) {
        last = messageOf(error);
        await sleep(20);
      }
    }
  } finally {
    await sql.end({ timeout: 1 });
  }
  throw new Error(`no write succeeded through ${link.name} before the deadline (last error: ${last})`);
}

function withoutPassword(url: string): string {
  const shown = new URL(url);
  shown.password = "";
  return shown.toString();
}
