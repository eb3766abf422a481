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
}): Promise<void> {
  const args = ["-D", opts.dataDir, "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--locale=C"];
  if (opts.major >= 14) args.push("--no-instructions");
  await runCommand("initdb", path.join(opts.binDir, "initdb"), args, { runAs: opts.runAs, cwd: opts.home });
  writeClusterConf(opts.dataDir, opts.major);
}
