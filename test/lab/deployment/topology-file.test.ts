// The topology file of `verify --target`: parsing, errors naming file, line and field, and what
// happens to an experiment with faults when the target has no lab control API.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { targetSystem } from "../../../src/lab/deployment/system.ts";
import {
  loadTopologyFile,
  parseTopologyFile,
  TopologyFileError,
  writeTopologyFile,
} from "../../../src/lab/deployment/topology-file.ts";
import { parseExperiment } from "../../../src/lab/experiments/loader.ts";
import { runExperiment } from "../../../src/lab/experiments/runner.ts";

const CLI = fileURLToPath(new URL("../../../bin/chaoscart.js", import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), "chaoscart-topology-file-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const valid = `gateway: http://127.0.0.1:7100/
regions:
  - name: east
    database: postgres://chaoscart@127.0.0.1:5432/chaoscart
    inventory: { url: http://127.0.0.1:7102, token: secret-token-1 }
    payments: { url: http://127.0.0.1:7104, token: secret-token-1 }
    order: { url: http://127.0.0.1:7101 }
control: { url: http://127.0.0.1:7300, token: secret-token-1 }
`;

function errorsOf(source: string): string[] {
  try {
    parseTopologyFile(source, "prod.yaml");
  } catch (error) {
    if (error instanceof TopologyFileError) return error.problems;
    throw error;
  }
  throw new Error("expected the topology file to be rejected");
}

describe("topology file", () => {
  it("parses a deployment; URLs lose their trailing slash; JSON is accepted too", () => {
    const topology = parseTopologyFile(valid, "prod.yaml");
    expect(topology.gateway).toBe("http://127.0.0.1:7100");
    expect(topology.regions[0]).toMatchObject({
      name: "east",
      inventory: { url: "http://127.0.0.1:7102", token: "secret-token-1" },
    });
    expect(parseTopologyFile(JSON.stringify(topology), "prod.json")).toEqual(topology);
    const { control: _control, ...withoutControl } = topology;
    expect(parseTopologyFile(JSON.stringify(withoutControl), "prod.json").control).toBeUndefined();
  });

  it("names file, line and field of every problem", () => {
    expect(errorsOf(valid.replace("http://127.0.0.1:7102", "127.0.0.1:7102"))).toEqual([
      expect.stringMatching(/^prod\.yaml:5:23: regions\[0\]\.inventory\.url: expected an http\(s\) URL/),
    ]);
    expect(errorsOf(valid.replace("postgres://", "mysql://"))).toEqual([
      expect.stringMatching(/^prod\.yaml:4:15: regions\[0\]\.database: expected a PostgreSQL URL/),
    ]);
    const payments = "payments: { url: http://127.0.0.1:7104, token: secret-token-1 }";
    expect(errorsOf(valid.replace(payments, "x: 1"))).toEqual([
      "prod.yaml:3:5: regions[0].payments: missing",
      "prod.yaml:3:5: regions[0]: unknown field(s) x",
    ]);
    expect(errorsOf(valid.replace(payments, payments.replace("secret-token-1", "short")))).toEqual([
      expect.stringMatching(/^prod\.yaml:6:52: regions\[0\]\.payments\.token: expected the bearer token/),
    ]);
    expect(errorsOf(valid.replace("gateway: http://127.0.0.1:7100/\n", ""))).toEqual([
      "prod.yaml:1:1: gateway: missing",
    ]);
    expect(errorsOf(`${valid}extra: true\n`)).toEqual([
      expect.stringMatching(/^prod\.yaml:1:1: \(top\): unknown field\(s\) extra/),
    ]);
  });

  it("takes one region, says so for more, and rejects what is not a topology file", () => {
    const two = valid.replace("regions:\n", "regions:\n  - { name: west }\n");
    expect(errorsOf(two).join("\n")).toMatch(/regions: only single-region deployments/);
    expect(errorsOf("gateway: [unclosed")).toEqual([expect.stringMatching(/^prod\.yaml:1:\d+: /)]);
    expect(errorsOf("- just\n- a list\n")).toEqual([
      expect.stringMatching(/expected a mapping with gateway/),
    ]);
    const labJson = JSON.stringify({ pid: 1, controlUrl: "http://127.0.0.1:1", token: "t", components: [] });
    expect(errorsOf(labJson)).toEqual([
      expect.stringMatching(/lab state file \(lab\.json\).*topology\.yaml/),
    ]);
  });

  it("is written privately, read back from the file or its directory, and names an unreadable file", () => {
    const file = path.join(dir, "topology.yaml");
    writeTopologyFile(file, parseTopologyFile(valid, "prod.yaml"));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(loadTopologyFile(dir)).toEqual({ file, topology: parseTopologyFile(valid, "prod.yaml") });
    expect(() => loadTopologyFile(path.join(dir, "nope.yaml"))).toThrow(/nope\.yaml: cannot read/);
  });
});

describe("a target without a lab control API", () => {
  const { control: _control, ...topology } = parseTopologyFile(valid, "prod.yaml");
  const system = targetSystem(topology, "prod.yaml");

  it("does not run an experiment with faults: it fails, every check and hypothesis not checked", async () => {
    const loaded = parseExperiment(
      `name: crash
description: kill the inventory
workload: { rate: 10, duration: 8s }
faults:
  - { at: 3s, action: kill, target: east/inventory, restartAfter: 1s }
hypothesis:
  - { metric: availability, phase: fault, min: 0.9 }
checks: [no-oversell, money]
`,
      "crash.yaml",
    );
    const runDir = path.join(dir, "crash");
    // Nothing listens on the file's URLs: the runner must not even try to reach them.
    const result = await runExperiment(loaded, { system, runDir, log: () => {} });
    expect(result.verdict).toBe("fail");
    expect(result.aborted?.reason).toMatch(/^not run: the topology file prod\.yaml names no lab control API/);
    expect(result.aborted?.reason).toMatch(/kill east\/inventory/);
    expect(result.checks.map((c) => c.status)).toEqual(["not-checked", "not-checked"]);
    expect(result.hypotheses.map((h) => h.status)).toEqual(["not-checked"]);
    expect(result.settings.target).toBe("http://127.0.0.1:7100");
    expect(existsSync(runDir)).toBe(false);
  });
});

it("verify --target with a wrong file names the problem and writes nothing", async () => {
  const cwd = mkdtempSync(path.join(dir, "cwd-"));
  const file = path.join(cwd, "prod.yaml");
  writeFileSync(file, valid.replace("http://127.0.0.1:7104", "localhost:7104"));
  const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(process.execPath, [CLI, "verify", "--target", file, "--scenario", "baseline"], {
      cwd,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("exit", (code) => resolve({ code, out }));
  });
  expect(code).not.toBe(0);
  expect(out).toMatch(/prod\.yaml:6:22: regions\[0\]\.payments\.url: expected an http\(s\) URL/);
  expect(readdirSync(cwd)).toEqual(["prod.yaml"]);
}, 30_000);
