import postgres, { type Sql } from "postgres";
import {
  type PgCluster,
  type PgClusterOptions,
  startPgCluster,
} from "../../src/lab/topology/postgres/index.ts";
import { migrate } from "../../src/shop/db/migrate.ts";

export interface TestDatabase {
  cluster: PgCluster;
  url: string;
  sql: Sql;
  stop(): Promise<void>;
}

/** A real PostgreSQL (primary only unless asked) with the shop schema applied, for one test file. */
export async function startTestDatabase(options: PgClusterOptions = {}): Promise<TestDatabase> {
  const cluster = await startPgCluster({ replica: false, ...options });
  const url = cluster.primary.url;
  const sql = postgres(url, { max: 4, onnotice: () => {} });
  try {
    await migrate(sql);
  } catch (error) {
    await sql.end();
    await cluster.stop();
    throw error;
  }
  return {
    cluster,
    url,
    sql,
    async stop() {
      await sql.end({ timeout: 2 });
      await cluster.stop();
    },
  };
}

/** Two "regions" as two databases of one test cluster, each with the shop schema. */
export interface TwoRegionDatabases {
  database: TestDatabase;
  east: Sql;
  west: Sql;
  stop(): Promise<void>;
}

export async function startTwoRegionDatabases(): Promise<TwoRegionDatabases> {
  const database = await startTestDatabase();
  const east = database.sql;
  await east`CREATE DATABASE west`;
  const url = new URL(database.url);
  url.pathname = "/west";
  const west = postgres(url.toString(), { max: 4, onnotice: () => {} });
  await migrate(west);
  return {
    database,
    east,
    west,
    async stop() {
      await west.end({ timeout: 2 });
      await database.stop();
    },
  };
}

/**
 * Runs `work` in a transaction of its own and keeps that transaction open, with the locks it took
 * and the rows it wrote, until `commit` or `rollback` is called. For tests that force an
 * interleaving: a row held, a writer still running.
 */
export async function holdTransaction(
  sql: Sql,
  work: (tx: Sql) => Promise<unknown>,
): Promise<{ commit: () => Promise<void>; rollback: () => Promise<void> }> {
  let end!: (commit: boolean) => void;
  const ended = new Promise<boolean>((resolve) => {
    end = resolve;
  });
  let held!: () => void;
  const isHeld = new Promise<void>((resolve) => {
    held = resolve;
  });
  const transaction = sql
    .begin(async (tx) => {
      await work(tx as unknown as Sql);
      held();
      if (!(await ended)) throw new RolledBack();
    })
    .catch((error) => {
      if (!(error instanceof RolledBack)) throw error;
    });
  await Promise.race([isHeld, transaction]); // a failing `work` ends the transaction: say so
  return {
    commit: async () => {
      end(true);
      await transaction;
    },
    rollback: async () => {
      end(false);
      await transaction;
    },
  };
}

class RolledBack extends Error {}

/**
 * Sequential and index scans of `tables` so far, counting `session`'s own: its statistics are
 * flushed first (a backend reports them once idle, otherwise at most once a second). For tests that
 * hold a statement to finding its rows by index.
 */
export async function tableScans(
  session: Sql,
  tables: readonly string[],
): Promise<Record<string, { seq: number; idx: number }>> {
  await session`SELECT pg_stat_force_next_flush()`;
  await session`SELECT 1`; // idle in between: the counts reach the view
  const rows = await session<{ relname: string; seq: number; idx: number }[]>`
    SELECT relname, seq_scan::int AS seq, coalesce(idx_scan, 0)::int AS idx FROM pg_stat_user_tables
    WHERE relname IN ${session(tables as string[])}`;
  return Object.fromEntries(rows.map(({ relname, seq, idx }) => [relname, { seq, idx }]));
}

/**
 * How many other sessions are waiting for a lock while running a statement whose text contains
 * `fragment`. For tests that force an interleaving: "both writers are queued on the held row".
 */
export async function lockWaiters(sql: Sql, fragment: string): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM pg_stat_activity
    WHERE wait_event_type = 'Lock' AND query LIKE ${`%${fragment}%`} AND pid <> pg_backend_pid()`;
  return row?.n ?? 0;
}
