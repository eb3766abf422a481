import type { FastifyBaseLogger } from "fastify";
import type { Sql } from "postgres";
import { Counter } from "prom-client";
import type { BuiltInBug } from "../built-in-bugs.ts";
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
  builtInBug?: BuiltInBug;
}): Promise<ServiceDatabase> {
  const pool = createSwitchablePool(() =>
    createPool(options.url, { max: options.poolMax, applicationName: options.applicationName }),
  );
  const guard = new WriteGuard(pool, options.setting, options.log, undefined, options.builtInBug);
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
  builtInBug?: BuiltInBug;
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
    ...(options.builtInBug ? { builtInBug: options.builtInBug } : {}),
  });
  registerGuardMetrics(app, database.guard);
  return { app, database };
}

/** The write guard's read-only errors on `/metrics` (the lab's readonly-misconfig hypotheses read them). */
function registerGuardMetrics(app: ServiceApp, guard: WriteGuard): void {
  const reported = { first: 0, afterRefusal: 0 };
  new Counter({
    name: "chaoscart_write_guard_readonly_errors_total",
    help: "Writes the read-only write endpoint refused: when=first turned the guard read-only, when=after_refusal were sent while it already refused writes",
    labelNames: ["when"],
    registers: [app.metrics],
    collect() {
      const { first, afterRefusal } = guard.readOnlyErrors;
      this.inc({ when: "first" }, first - reported.first);
      this.inc({ when: "after_refusal" }, afterRefusal - reported.afterRefusal);
      Object.assign(reported, guard.readOnlyErrors);
    },
  });
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
