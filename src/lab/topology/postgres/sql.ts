/** Small postgres.js clients for the harness's own administrative queries. */
import postgres from "postgres";
import { SUPERUSER } from "./conf.ts";

export const HOST = "127.0.0.1";

export type AdminSql = postgres.Sql;

export function adminSql(
  port: number,
  database: string,
  opts: { max?: number; keepIdle?: boolean } = {},
): AdminSql {
  return postgres({
    host: HOST,
    port,
    user: SUPERUSER,
    database,
    max: opts.max ?? 1,
    connect_timeout: 5,
    // Idle connections close, so a forgotten cluster handle does not keep the process alive.
    idle_timeout: opts.keepIdle ? 0 : 5,
    fetch_types: false,
    onnotice: () => {},
    connection: { application_name: "chaoscart-lab" },
  });
}

/** One connection attempt and one query, for readiness probes. */
export async function probe(port: number, database: string, query = "select 1"): Promise<void> {
  const sql = adminSql(port, database);
  try {
    await sql.unsafe(query);
  } finally {
    await sql.end({ timeout: 0 });
  }
}

export function pgUrl(port: number, database: string): string {
  return `postgres://${SUPERUSER}@${HOST}:${port}/${encodeURIComponent(database)}`;
}
