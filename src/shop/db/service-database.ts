import type { FastifyBaseLogger } from "fastify";
import type { Sql } from "postgres";
import { createApp, refuseWritesWhileReadOnly, type ServiceApp } from "../http/app.ts";
import { migrate } from "./migrate.ts";
import { createPool } from "./pool.ts";
import { createSwitchablePool } from "./switchable-pool.ts";
import { WriteGuard } from "./write-guard.ts";

export interface ServiceDatabase {
  sql: Sql;
  guard: WriteGuard;
  /** Readiness: the write endpoint accepts writes and answers. */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A service's write connection: a re-resolvable pool behind a write guard, with migrations applied
 * whenever the endpoint (re)becomes writable. A read-only endpoint does not stop the service from
 * starting; it keeps it unready, says why, and re-checks.
 */
export async function openServiceDatabase(options: {
  url: string;
  poolMax: number;
  applicationName: string;
  setting: string;
  log: FastifyBaseLogger;
}): Promise<ServiceDatabase> {
  const pool = createSwitchablePool(() =>
    createPool(options.url, { max: options.poolMax, applicationName: options.applicationName }),
  );
  const guard = new WriteGuard(pool, options.setting, options.log);
  guard.onWritable(async () => {
    await migrate(pool.sql);
  });
  await guard.check();
  guard.start();
  return {
    sql: pool.sql,
    guard,
    async ready() {
      guard.assertWritable();
      await pool.sql`SELECT 1`;
    },
    async close() {
      guard.stop();
      await pool.end();
    },
  };
}

/**
 * The shared start of every database-backed service: the HTTP app whose readiness follows the
 * write endpoint, and the guarded database. The service's routes go in `registerDataRoutes`.
 */
export async function createDatabaseApp(options: {
  service: string;
  logLevel: string;
  url: string;
  poolMax: number;
}): Promise<{ app: ServiceApp; database: ServiceDatabase }> {
  let database: ServiceDatabase | undefined;
  const app = createApp({
    service: options.service,
    logLevel: options.logLevel,
    ready: async () => {
      if (!database) throw new Error("database not opened yet");
      await database.ready();
    },
    onServerError: (error) => database?.guard.noteError(error),
  });
  database = await openServiceDatabase({
    url: options.url,
    poolMax: options.poolMax,
    applicationName: `chaoscart-${options.service}`,
    setting: "CHAOSCART_DATABASE_URL",
    log: app.log,
  });
  return { app, database };
}

/**
 * Registers the service's own routes (every realm but the lab's) in one encapsulated context whose
 * write requests are refused at once while the database is read-only.
 */
export function registerDataRoutes(
  app: ServiceApp,
  database: ServiceDatabase,
  routes: (scope: ServiceApp) => void | Promise<void>,
): void {
  app.register(async (scope) => {
    const data = scope as ServiceApp; // a child context: it inherits `metrics` (see http/bearer-token.ts)
    refuseWritesWhileReadOnly(data, database);
    await routes(data);
  });
}
