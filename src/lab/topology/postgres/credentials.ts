/**
 * The superuser's password: generated per cluster, kept in the work dir (mode 0600, owned by the
 * server's OS user) as a plain file (initdb --pwfile, the lab's connection URLs) and as a libpq
 * password file (pg_basebackup, and the standby's walreceiver through primary_conninfo's passfile).
 * Every connection, replication included, authenticates with scram-sha-256: a loopback port is
 * reachable by every user of the machine.
 */
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { SUPERUSER } from "./conf.ts";
import { chownTree, type RunAs } from "./os-user.ts";

export interface Credentials {
  password: string;
  /** The password alone, one line. */
  passwordFile: string;
  /** `*:*:*:<superuser>:<password>`, for libpq (PGPASSFILE, passfile=). */
  pgpassFile: string;
}

export function createCredentials(workDir: string, runAs: RunAs | undefined): Credentials {
  // base64url: no character that needs escaping in a URL, a pgpass line or a conninfo string.
  const password = randomBytes(24).toString("base64url");
  const passwordFile = path.join(workDir, "superuser.password");
  const pgpassFile = path.join(workDir, "pgpass");
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  writeFileSync(pgpassFile, `*:*:*:${SUPERUSER}:${password}\n`, { mode: 0o600 });
  chownTree(passwordFile, runAs);
  chownTree(pgpassFile, runAs);
  return { password, passwordFile, pgpassFile };
}
