import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startTopology, type Topology } from "../../src/lab/topology/launcher.ts";
import { LAB_SERVICE_ENV } from "../../src/lab/topology/service-env.ts";
import type { BuiltInBug } from "../../src/shop/built-in-bugs.ts";

export interface TestLab {
  topology: Topology;
  /** The temporary directory holding the lab (and whatever a test writes beside it). */
  dir: string;
  /** Stops the lab and removes its directory. */
  stop(): Promise<void>;
}

export interface TestLabOptions {
  builtInBug?: BuiltInBug;
  /** Default: one region, "east". */
  regions?: string[];
}

/**
 * A lab as `chaoscart verify` launches it (sync replica, fault links, the lab's service settings),
 * in a fresh temporary directory, optionally with a built-in bug or several regions.
 */
export async function launchTestLab(prefix: string, options: TestLabOptions = {}): Promise<TestLab> {
  const { builtInBug } = options;
  const dir = mkdtempSync(path.join(tmpdir(), `chaoscart-${prefix}-`));
  chmodSync(dir, 0o755); // PostgreSQL runs as another user and must reach its data dirs
  try {
    const topology = await startTopology({
      regions: options.regions ?? ["east"],
      replication: "sync",
      workDir: path.join(dir, "lab"),
      serviceEnv: { ...LAB_SERVICE_ENV, CHAOSCART_LOG_LEVEL: "warn" },
      ...(builtInBug ? { builtInBug } : {}),
    });
    return {
      topology,
      dir,
      async stop() {
        await topology.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
