// `chaoscart verify --target` end to end: a lab (PostgreSQL primary + replica, every service a child
// process behind fault links) and its control API, described by the topology file `lab up` writes;
// then the verify CLI runs a short experiment against it, with one fault through the control API.
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startControlServer } from "../../../src/lab/control/server.ts";
import { checkTarget } from "../../../src/lab/deployment/system.ts";
import {
  labTopologyFile,
  type TopologyFileError,
  writeTopologyFile,
} from "../../../src/lab/deployment/topology-file.ts";
import { loadExperiment } from "../../../src/lab/experiments/loader.ts";
import { runExperiment } from "../../../src/lab/experiments/runner.ts";
import type { RunResult } from "../../../src/lab/run/result.ts";
import { startTopology, type Topology } from "../../../src/lab/topology/launcher.ts";

const CLI = fileURLToPath(new URL("../../../bin/chaoscart.js", import.meta.url));
let dir: string;
let topology: Topology;
let control: Awaited<ReturnType<typeof startControlServer>>;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "chaoscart-target-"));
  chmodSync(dir, 0o755); // PostgreSQL runs as another user and must reach its data dirs
  topology = await startTopology({
    regions: ["east"],
    replication: "async",
    workDir: path.join(dir, "lab"),
    serviceEnv: { CHAOSCART_LOG_LEVEL: "warn" },
  });
  control = await startControlServer(topology);
  writeTopologyFile(path.join(dir, "topology.yaml"), labTopologyFile(topology, control.url));
}, 120_000);

afterAll(async () => {
  await control?.close();
  await topology?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

it("verifies a running lab through its topology file: the fault goes through the control API", async () => {
  const experiment = path.join(dir, "short.yaml");
  writeFileSync(
    experiment,
    `name: target-latency
description: 10 orders/s for 8 s; 100 ms on the order service's link to the inventory for 2 s
workload: { rate: 10, duration: 8s, warmup: 1s, hotSkus: 2, coldSkus: 5, stockPerSku: 40, arrival: constant }
faults:
  - { at: 3s, action: latency, target: east/order->inventory, latencyMs: 100, duration: 2s }
checks: [no-oversell, conservation, no-lost-ack, no-phantom, no-duplicate, terminal-sagas, money]
settle: 2s
`,
  );
  const out = path.join(dir, "report");
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn(
      process.execPath,
      [CLI, "verify", "--target", path.join(dir, "topology.yaml"), "--experiment", experiment, "--out", out],
      { cwd: dir, stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("exit", (code) => resolve({ code, output }));
  });
  const result = JSON.parse(readFileSync(path.join(out, "result.json"), "utf8")) as RunResult;
  expect(result.aborted, output).toBeUndefined();
  expect(result.settings.target).toBe(topology.gateway.url);
  // The fault's start (from the POST) and its timed stop (done by the lab, picked up by polling).
  expect(result.faults.map((f) => [f.type, f.nemesis])).toEqual([
    ["start", expect.stringMatching(/east\/order->inventory/)],
    ["stop", expect.stringMatching(/east\/order->inventory/)],
  ]);
  expect(result.faults[1]?.detail.trigger).toBe("timer");
  const stopAfter = (result.faults[1]?.time ?? 0) - (result.faults[0]?.time ?? 0);
  expect(stopAfter).toBeGreaterThanOrEqual(1_900);
  expect(result.checks.map((c) => [c.name, c.status])).toEqual(result.checks.map((c) => [c.name, "pass"]));
  expect(result.checks).toHaveLength(7);
  const fault = result.slos.find((s) => s.phase === "fault");
  expect((fault?.ok ?? 0) + (fault?.fail ?? 0) + (fault?.info ?? 0)).toBeGreaterThan(0);
  expect(code, output).toBe(0); // no hypothesis: the verdict is the invariants'
  // Readiness and health of every service the file lists were sampled through the run.
  const sampled = new Set(result.probes?.map((p) => `${p.service} ${p.endpoint} ${p.status}`));
  for (const service of ["gateway", "east/inventory", "east/payment-sim", "east/order"])
    for (const endpoint of ["healthz", "readyz"]) expect(sampled).toContain(`${service} ${endpoint} up`);

  // Nothing was left in place on the lab.
  expect(topology.links.get("east/order->inventory")?.status().toxics).toEqual([]);
}, 90_000);

it("reports an experiment on two regions as not run: a topology file describes one region", async () => {
  const experiment = path.join(dir, "two-regions.yaml");
  writeFileSync(
    experiment,
    `name: target-two-regions
description: no fault, but two regions
topology: { regions: [east, west] }
workload: { rate: 5, duration: 4s, warmup: 1s, hotSkus: 1, coldSkus: 2, stockPerSku: 20, arrival: constant }
checks: [no-oversell, cross-region-converged]
`,
  );
  const out = path.join(dir, "report-two-regions");
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(
      process.execPath,
      [CLI, "verify", "--target", path.join(dir, "topology.yaml"), "--experiment", experiment, "--out", out],
      { cwd: dir, stdio: "ignore" },
    );
    child.on("exit", resolve);
  });
  const result = JSON.parse(readFileSync(path.join(out, "result.json"), "utf8")) as RunResult;
  expect(result.verdict).toBe("fail");
  expect(result.aborted?.reason).toBe(
    "not run: it needs east, west run as one system, and --target describes a single region",
  );
  expect(result.checks.map((c) => `${c.name}: ${c.status}`)).toEqual([
    "no-oversell: not-checked",
    "cross-region-converged: not-checked",
  ]);
  expect(code).toBe(1);
}, 60_000);

it("checks every endpoint of the file before running, naming the field that is wrong", async () => {
  const good = labTopologyFile(topology, control.url);
  await expect(checkTarget(good, "lab.yaml")).resolves.toBeUndefined();
  const [region] = good.regions;
  if (!region) throw new Error("no region");
  const bad = {
    ...good,
    regions: [{ ...region, payments: { ...region.payments, token: "wrong-token" } }],
    control: { url: control.url, token: "wrong-token" },
  };
  const problems = await checkTarget(bad, "lab.yaml").then(
    () => [],
    (error: TopologyFileError) => error.problems,
  );
  expect(problems).toEqual([
    expect.stringMatching(/^lab\.yaml: regions\[0\]\.payments: .* answered 401/),
    expect.stringMatching(/^lab\.yaml: control: .* answered 401/),
  ]);
});

it("fails a run whose fault cannot be injected, instead of passing an experiment that tested nothing", async () => {
  const file = path.join(dir, "bad-fault.yaml");
  writeFileSync(
    file,
    `name: bad-fault
description: a kill aimed at a service that does not exist
workload: { rate: 5, duration: 4s, warmup: 1s, hotSkus: 1, coldSkus: 2, stockPerSku: 20, arrival: constant }
faults:
  - { at: 2s, action: kill, target: east/nowhere }
checks: [no-oversell, conservation]
settle: 2s
`,
  );
  const lines: string[] = [];
  const result = await runExperiment(loadExperiment(file), {
    topology,
    runDir: path.join(dir, "bad-fault"),
    log: (line) => lines.push(line),
  });
  expect(result.verdict).toBe("fail");
  expect(result.aborted?.reason).toMatch(/fault kill east\/nowhere could not be injected/);
}, 60_000);
