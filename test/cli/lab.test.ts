import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";
import { isAlive, readLabState } from "../../src/lab/control/state-file.ts";
import { LAB_SERVICE_ENV } from "../../src/lab/topology/service-env.ts";

const CLI = fileURLToPath(new URL("../../bin/chaoscart.js", import.meta.url));
const parent = mkdtempSync(path.join(tmpdir(), "chaoscart-labcli-"));
chmodSync(parent, 0o755); // PostgreSQL runs as an unprivileged user and must reach its data dir inside
const dir = path.join(parent, "lab");

afterAll(() => rmSync(parent, { recursive: true, force: true }));

function run(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("exit", (code) => resolve({ code, out }));
  });
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

it("lab up brings up a shop behind fault links, and lab down leaves no process and no port behind", async () => {
  const { CHAOSCART_BUILT_IN_BUG: _none, ...env } = process.env;
  const up = spawn(process.execPath, [CLI, "lab", "up", "--dir", dir, "--replication", "async"], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  up.stdout.on("data", (d) => (out += d));
  up.stderr.on("data", (d) => (out += d));
  const deadline = Date.now() + 150_000;
  while (!readLabState(dir) && Date.now() < deadline && up.exitCode === null)
    await new Promise((r) => setTimeout(r, 500));
  const state = readLabState(dir);
  expect(state, out).toBeDefined();
  if (!state) return;

  const status = await run(["lab", "status", "--dir", dir]);
  expect(status.code, status.out).toBe(0);
  for (const name of [
    "east/primary",
    "east/replica",
    "east/inventory",
    "east/order",
    "gateway",
    "east/replication",
    "east/order->primary",
  ]) {
    expect(status.out).toContain(name);
  }
  // Every service runs with the lab's settings, the ones `verify` launches its own lab with.
  const services = state.components.filter((c) => c.kind === "service");
  expect(services).toHaveLength(4);
  for (const service of services) {
    const environ = readFileSync(`/proc/${service.pid}/environ`, "utf8").split("\0");
    for (const [name, value] of Object.entries(LAB_SERVICE_ENV)) {
      expect(environ, `${service.component}: ${name}`).toContain(`${name}=${value}`);
    }
    expect(environ.some((e) => e.startsWith("CHAOSCART_BUILT_IN_BUG="))).toBe(false);
  }
  expect(status.out).not.toMatch(/BUILT-IN BUG/);

  // A real order through the gateway and every link.
  const gateway = state.components.find((c) => c.component === "gateway")?.address as string;
  const inventory = state.components.find((c) => c.component === "east/inventory")?.address as string;
  const seed = await fetch(`${inventory}/admin/skus`, {
    method: "POST",
    headers: { authorization: `Bearer ${state.token}`, "content-type": "application/json" },
    body: JSON.stringify({ skus: [{ id: "LAB-1", stock: 3 }] }),
  });
  expect(seed.status).toBe(201);
  const order = await fetch(`${gateway}/orders`, {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": "lab-cli-order-1" },
    body: JSON.stringify({ userId: "lab", items: [{ sku: "LAB-1", qty: 1 }] }),
  });
  expect(await order.json()).toMatchObject({ state: "CONFIRMED" });

  const fault = await run([
    "fault",
    "add",
    "east/order->primary",
    "latency",
    "-a",
    "latencyMs=50",
    "--dir",
    dir,
  ]);
  expect(fault.out).toMatch(/added latency/);
  expect((await run(["fault", "ls", "--dir", dir])).out).toMatch(
    /east\/order->primary .*latency\/downstream/,
  );

  const started = await run(["nemesis", "start", "payment", "east", "-p", "latencyMs=200", "--dir", dir]);
  expect(started.out).toMatch(/^n1: /m);
  expect((await run(["nemesis", "ls", "--dir", dir])).out).toMatch(/n1\s+active/);
  const badSpec = await run(["nemesis", "start", "kill", "east/nowhere", "--dir", dir]);
  expect(badSpec.code).not.toBe(0);
  expect(badSpec.out).toMatch(/target/);
  await run(["nemesis", "stop", "n1", "--dir", dir]);
  expect((await run(["nemesis", "ls", "--dir", dir])).out).toMatch(/n1\s+healed/);

  const pids = state.components.flatMap((c) => (c.pid ? [c.pid] : []));
  const ports = state.components.flatMap((c) => {
    const match = /127\.0\.0\.1:(\d+)/.exec(c.address);
    return match ? [Number(match[1])] : [];
  });
  ports.push(Number(new URL(state.controlUrl).port));
  expect(pids.length).toBeGreaterThanOrEqual(6);

  const down = await run(["lab", "down", "--dir", dir]);
  expect(down.code, down.out).toBe(0);
  expect(isAlive(state.pid)).toBe(false);
  for (const pid of pids) expect(isAlive(pid), `pid ${pid} survived`).toBe(false);
  for (const port of ports) expect(await listening(port), `port ${port} still listening`).toBe(false);
  expect(existsSync(dir)).toBe(false);
}, 240_000);
