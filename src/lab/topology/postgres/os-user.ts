/** PostgreSQL refuses to run as root: when we are root, its processes run as an unprivileged OS user. */
import { execFileSync } from "node:child_process";
import { chownSync, lstatSync, readdirSync } from "node:fs";
import path from "node:path";

export interface RunAs {
  user: string;
  uid: number;
  gid: number;
}

/** undefined when we are not root (processes then run as ourselves). */
export function resolveRunAs(osUser?: string): RunAs | undefined {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return undefined;
  const wanted = osUser ?? process.env.CHAOSCART_PG_USER;
  if (wanted) {
    const found = lookupUser(wanted);
    if (!found)
      throw new Error(`OS user "${wanted}" (to run PostgreSQL as, since we are root) does not exist`);
    return found;
  }
  const found = lookupUser("postgres") ?? lookupUser("nobody");
  if (!found) {
    throw new Error(
      "running as root but neither a 'postgres' nor a 'nobody' user exists: set CHAOSCART_PG_USER",
    );
  }
  return found;
}

function lookupUser(user: string): RunAs | undefined {
  try {
    const uid = Number(
      execFileSync("id", ["-u", user], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }),
    );
    const gid = Number(
      execFileSync("id", ["-g", user], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }),
    );
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) return undefined;
    if (uid === 0) throw new Error(`OS user "${user}" is root; PostgreSQL refuses to run as root`);
    return { user, uid, gid };
  } catch (err) {
    if ((err as Error).message.includes("refuses")) throw err;
    return undefined;
  }
}

/** spawn() options that drop to the user. */
export function identity(runAs: RunAs | undefined): { uid?: number; gid?: number } {
  return runAs ? { uid: runAs.uid, gid: runAs.gid } : {};
}

/** chown -R (symlinks themselves, not their targets). */
export function chownTree(target: string, runAs: RunAs | undefined): void {
  if (!runAs) return;
  const stat = lstatSync(target);
  if (stat.isSymbolicLink()) return;
  chownSync(target, runAs.uid, runAs.gid);
  if (stat.isDirectory()) {
    for (const entry of readdirSync(target)) chownTree(path.join(target, entry), runAs);
  }
}
