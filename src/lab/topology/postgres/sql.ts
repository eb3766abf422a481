/** Small postgres.js clients for the harness's own administrative queries. */
import postgres from "postgres";
import { SUPERUSER } from "./conf.ts";

export const HOST = "127.0.0.1";

export type AdminSql = postgres.Sql;

export function adminSql(
  port: number,
  database: string,
  password: string,
  opts: { max?: number; keepIdle?: boolean } = {},
): AdminSql {
  return postgres({
    host: HOST,
    port,
    user: SUPERUSER,
    password,
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
export async function probe(port: number, database: string, password: string): Promise<void> {
  const sql = adminSql(port, database, password);
  try {
    await sql`select 1`;
  } finally {
    await sql.end({ timeout: 0 });
  }
}

/** The superuser's connection URL, password included. */
export function pgUrl(port: number, database: string, password: string): string {
  return `postgres://${SUPERUSER}:${encodeURIComponent(password)}@${HOST}:${port}/${encodeURIComponent(database)}`;
}
