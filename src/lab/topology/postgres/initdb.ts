/** Creates the primary's data directory. */
import path from "node:path";
import { runCommand } from "./command.ts";
import { SUPERUSER, writeClusterConf } from "./conf.ts";
import type { RunAs } from "./os-user.ts";

export async function initPrimary(opts: {
  binDir: string;
  dataDir: string;
  major: number;
  runAs: RunAs | undefined;
  home: string;
  /** The superuser's password, one line (see credentials.ts). */
  passwordFile: string;
  signal?: AbortSignal;
}): Promise<void> {
  // --no-sync skips only initdb's final flush of the fresh files (seconds on a busy disk). The cluster is
  // throwaway and the lab's crashes are process kills, which keep the page cache; fsync stays on at run time.
  const args = [
    ...["-D", opts.dataDir, "-U", SUPERUSER, "--auth=scram-sha-256", `--pwfile=${opts.passwordFile}`],
    ...["-E", "UTF8", "--locale=C", "--no-sync"],
  ];
  if (opts.major >= 14) args.push("--no-instructions");
  await runCommand("initdb", path.join(opts.binDir, "initdb"), args, {
    runAs: opts.runAs,
    cwd: opts.home,
    signal: opts.signal,
  });
  writeClusterConf(opts.dataDir, opts.major);
}
