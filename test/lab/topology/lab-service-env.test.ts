// One lab service environment for `lab up` and `verify`, and a built-in bug that is never silent:
// not inherited from the shell by a service, and named by every surface of a topology that runs one.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { labStatusHeader } from "../../../src/cli/lab.ts";
import { targetSystem } from "../../../src/lab/deployment/system.ts";
import {
  loadTopologyFile,
  parseTopologyFile,
  writeTopologyFile,
} from "../../../src/lab/deployment/topology-file.ts";
import { builtInBugFromEnv, LAB_SERVICE_ENV } from "../../../src/lab/topology/service-env.ts";
import { childEnv } from "../../../src/lab/topology/service-process.ts";

const CLI = fileURLToPath(new URL("../../../bin/chaoscart.js", import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), "chaoscart-lab-env-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const topologyFile = {
  gateway: "http://127.0.0.1:7100",
  regions: [
    {
      name: "east",
      database: "postgres://chaoscart@127.0.0.1:5432/chaoscart",
      inventory: { url: "http://127.0.0.1:7102", token: "secret-token-1" },
      payments: { url: "http://127.0.0.1:7104", token: "secret-token-1" },
    },
  ],
};

describe("the lab's service environment", () => {
  it("keeps the reservation TTL the README names (30 s), the short lease and the admission limit", () => {
    expect(LAB_SERVICE_ENV).toMatchObject({
      CHAOSCART_RESERVATION_TTL_MS: "30000",
      CHAOSCART_ORDER_LEASE_MS: "3000",
      CHAOSCART_ORDER_MAX_IN_FLIGHT: "96",
      CHAOSCART_SOLD_OUT_TTL_MS: "1000",
    });
  });
});

describe("a built-in bug is never silent", () => {
  it("does not reach a service from the shell; only a launcher's explicit setting switches it on", () => {
    const shell = { PATH: "/usr/bin", CHAOSCART_BUILT_IN_BUG: "no-compensation" };
    const plain = childEnv(shell, { CHAOSCART_REGION: "east" }, 7100);
    expect(plain).toEqual({ PATH: "/usr/bin", CHAOSCART_REGION: "east", CHAOSCART_PORT: "7100" });
    expect(childEnv(shell, { CHAOSCART_BUILT_IN_BUG: "ack-before-commit" }, 1).CHAOSCART_BUILT_IN_BUG).toBe(
      "ack-before-commit",
    );
  });

  it("is taken from CHAOSCART_BUILT_IN_BUG by the lab's commands, and an unknown name is refused", () => {
    expect(builtInBugFromEnv({})).toBeUndefined();
    expect(builtInBugFromEnv({ CHAOSCART_BUILT_IN_BUG: "" })).toBeUndefined();
    expect(builtInBugFromEnv({ CHAOSCART_BUILT_IN_BUG: "no-compensation" })).toBe("no-compensation");
    expect(() => builtInBugFromEnv({ CHAOSCART_BUILT_IN_BUG: "oversell" })).toThrow(
      /CHAOSCART_BUILT_IN_BUG="oversell" in this shell is not a built-in bug; expected one of stock-from-replica, /,
    );
  });

  it("is named by `lab status`, topology.yaml, and the settings of every report verified against it", () => {
    const state = { pid: 42, startedAt: "2025-01-01T00:00:00Z", regions: ["east"], replication: "sync" };
    expect(labStatusHeader(state, undefined)).toEqual([
      "lab pid 42, up since 2025-01-01T00:00:00Z, east, sync replication",
    ]);
    expect(labStatusHeader({ ...state, regions: ["east", "west"] }, undefined)[1]).toBe(
      "WAN between regions: 20 ± 5 ms each way (latency toxics on the cross-region links below)",
    );
    expect(labStatusHeader(state, "no-compensation")[0]).toMatch(
      /^!!! BUILT-IN BUG "no-compensation" \(.*\): this is NOT the real shop !!!$/,
    );

    const file = path.join(dir, "topology.yaml");
    writeTopologyFile(file, { ...topologyFile, builtInBug: "no-compensation" });
    expect(readFileSync(file, "utf8")).toMatch(/^# BUILT-IN BUG "no-compensation" .*NOT the real shop$/m);
    const { topology } = loadTopologyFile(file);
    expect(topology.builtInBug).toBe("no-compensation");
    expect(targetSystem(topology, file).settings.builtInBug).toBe("no-compensation");
    expect(
      targetSystem(parseTopologyFile(JSON.stringify(topologyFile), "real.json"), "real.json").settings,
    ).not.toHaveProperty("builtInBug");
    expect(() =>
      parseTopologyFile(JSON.stringify({ ...topologyFile, builtInBug: "oversell" }), "t.json"),
    ).toThrow(/t\.json.*builtInBug: expected one of stock-from-replica/);
  });

  it("`lab up` refuses an unknown CHAOSCART_BUILT_IN_BUG before starting anything", async () => {
    const labDir = path.join(dir, "lab");
    const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, "lab", "up", "--dir", labDir], {
        env: { ...process.env, CHAOSCART_BUILT_IN_BUG: "oversell" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (out += d));
      child.on("exit", (code) => resolve({ code, out }));
    });
    expect(code).not.toBe(0);
    expect(out).toMatch(/CHAOSCART_BUILT_IN_BUG="oversell" in this shell is not a built-in bug/);
    expect(existsSync(labDir)).toBe(false);
  });
});
