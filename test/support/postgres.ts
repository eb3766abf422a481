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
