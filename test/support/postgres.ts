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
