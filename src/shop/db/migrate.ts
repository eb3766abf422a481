import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Sql } from "postgres";

/** Set by the lab's service bundle (service-bundle.ts), whose import.meta.url is the bundle's, not this file's. */
declare const __CHAOSCART_MIGRATIONS_DIR__: string | undefined;
const MIGRATIONS_DIR =
  typeof __CHAOSCART_MIGRATIONS_DIR__ === "string"
    ? __CHAOSCART_MIGRATIONS_DIR__
    : fileURLToPath(new URL("./migrations/", import.meta.url));
/** Serialises migrators: services started together must not apply the same file twice. */
const MIGRATION_LOCK_KEY = 7_123_401;

export interface Migration {
  version: string;
  sql: string;
}

export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((file) => /^\d{3}_[a-z0-9_]+\.sql$/.test(file)).sort();
  return Promise.all(
    files.map(async (file) => ({
      version: path.basename(file, ".sql"),
      sql: await readFile(path.join(dir, file), "utf8"),
    })),
  );
}

/**
 * Applies pending migrations in order and records them, all in one transaction under an advisory lock,
 * so a failing file leaves nothing half-applied. Returns the versions applied now.
 */
export async function migrate(sql: Sql, migrations?: Migration[]): Promise<string[]> {
  const pending = migrations ?? (await loadMigrations());
  return sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`;
    await tx`CREATE TABLE IF NOT EXISTS schema_migrations (
      version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`;
    const done = new Set(
      (await tx<{ version: string }[]>`SELECT version FROM schema_migrations`).map((r) => r.version),
    );
    const applied: string[] = [];
    for (const migration of pending) {
      if (done.has(migration.version)) continue;
      await tx.savepoint(async (sp) => {
        await sp.unsafe(migration.sql);
        await sp`INSERT INTO schema_migrations (version) VALUES (${migration.version})`;
      });
      applied.push(migration.version);
    }
    return applied;
  });
}
