import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClockOffsetNemesis } from "../../../src/lab/nemeses/clock-offset.ts";
import { CpuBurnNemesis } from "../../../src/lab/nemeses/cpu-burn.ts";
import { EventLoopBlockNemesis } from "../../../src/lab/nemeses/event-loop-block.ts";
import type { LabTarget } from "../../../src/lab/nemeses/lab-client.ts";
import type { NemesisEvent } from "../../../src/lab/nemeses/nemesis.ts";

const TOKEN = "lab-test-token";
const FIXTURE = fileURLToPath(new URL("./lab-app-fixture.ts", import.meta.url));
const ROOT = path.resolve(path.dirname(FIXTURE), "../../..");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Served {
  child: ChildProcess;
  url: string;
}

/** The lab endpoints on a small service in a child process: its event loop is not the test's. */
async function serve(token: string): Promise<Served> {
  const child = spawn(process.execPath, ["--import", "tsx", FIXTURE], {
    cwd: ROOT,
    env: { ...process.env, LAB_TOKEN: token },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (chunk) => {
      out += chunk;
      const line = out.split("\n")[0];
      if (out.includes("\n") && line) resolve((JSON.parse(line) as { port: number }).port);
    });
    child.once("exit", (code) => reject(new Error(`lab fixture exited (${code})`)));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

let url: string;
let enabled: Served;
let disabled: Served;

beforeAll(async () => {
  [enabled, disabled] = await Promise.all([serve(TOKEN), serve("")]);
  url = enabled.url;
});

afterAll(() => {
  for (const served of [enabled, disabled]) if (served?.child.exitCode === null) served.child.kill("SIGKILL");
});

async function clockOffset(): Promise<number> {
  const { stamp, now } = (await (await fetch(`${url}/stamp`)).json()) as {
    stamp: { wallMs: number };
    now: number;
  };
  return stamp.wallMs - now;
}

function call(method: string, path: string, body?: unknown, token: string | null = TOKEN, base = url) {
  return fetch(`${base}${path}`, {
    method,
    headers: {
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** Milliseconds a GET /ping takes. */
async function pingMs(): Promise<number> {
  const started = performance.now();
  const response = await fetch(`${url}/ping`);
  expect(response.status).toBe(200);
  return performance.now() - started;
}

describe("lab endpoints: access", () => {
  it("answers 403 on every route when no lab token is configured, even with a token", async () => {
    for (const [method, path] of [
      ["GET", "/lab"],
      ["POST", "/lab/block"],
      ["DELETE", "/lab/cpu-burn"],
      ["PUT", "/lab/clock"],
    ] as const) {
      const response = await call(
        method,
        path,
        method === "POST" || method === "PUT" ? { ms: 1 } : undefined,
        TOKEN,
        disabled.url,
      );
      expect(response.status).toBe(403);
      expect(await response.json()).toMatchObject({ error: "lab_disabled" });
    }
  });

  it("answers 401 for a missing or wrong token, before looking at the body", async () => {
    expect((await call("POST", "/lab/block", { ms: 50 }, null)).status).toBe(401);
    const wrong = await call("POST", "/lab/block", { nonsense: true }, "not-the-token");
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: "unauthorized" });
  });

  it.each([
    ["POST", "/lab/block", {}, "body.ms"],
    ["POST", "/lab/block", { ms: -5 }, "body.ms"],
    ["POST", "/lab/block", { ms: 10, sliceMs: "x" }, "body.sliceMs"],
    ["POST", "/lab/block", { ms: 10, extra: 1 }, "body.extra"],
    ["POST", "/lab/cpu-burn", { ms: 100, duty: 1.5 }, "body.duty"],
    ["POST", "/lab/cpu-burn", { ms: 100, mode: "loop", threads: 2 }, "body.threads"],
    ["PUT", "/lab/clock", { offsetMs: "soon" }, "body.offsetMs"],
  ])("%s %s %j → 400 naming %s", async (method, path, body, field) => {
    const response = await call(method, path, body);
    expect(response.status).toBe(400);
    const answer = (await response.json()) as { error: string; field: string; message: string };
    expect(answer).toMatchObject({ error: "invalid_request", field });
    expect(answer.message.startsWith(`${field}: `)).toBe(true);
  });
});

describe("lab endpoints: faults", () => {
  it("block answers first, then stalls the event loop: a concurrent request waits it out", async () => {
    expect(await pingMs()).toBeLessThan(150);
    const started = performance.now();
    const response = await call("POST", "/lab/block", { ms: 600 });
    const answeredMs = performance.now() - started;
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ ms: 600, sliceMs: 600 });
    expect(answeredMs).toBeLessThan(300); // the answer did not wait for the block
    const delayed = await pingMs();
    expect(delayed).toBeGreaterThanOrEqual(400);
    expect(await pingMs()).toBeLessThan(150);
  });

  it("a sliced block lets requests through between slices, and DELETE cancels the rest", async () => {
    expect((await call("POST", "/lab/block", { ms: 5_000, sliceMs: 100 })).status).toBe(202);
    const status = (await (await call("GET", "/lab")).json()) as { block: { sliceMs: number } | null };
    expect(status.block).toMatchObject({ ms: 5_000, sliceMs: 100 });
    const started = performance.now();
    const cancel = await call("DELETE", "/lab/block");
    expect(await cancel.json()).toEqual({ cancelled: true });
    expect(performance.now() - started).toBeLessThan(1_000);
    await sleep(150);
    expect(await pingMs()).toBeLessThan(150);
    expect(((await (await call("GET", "/lab")).json()) as { block: unknown }).block).toBeNull();
  });

  it("cpu-burn on the event loop slows requests; DELETE stops it; worker burns run and stop", async () => {
    expect(
      (await call("POST", "/lab/cpu-burn", { ms: 3_000, duty: 0.9, mode: "loop", periodMs: 300 })).status,
    ).toBe(202);
    expect((await call("POST", "/lab/cpu-burn", { ms: 100 })).status).toBe(409);
    let slowest = 0;
    for (let i = 0; i < 5; i++) {
      await sleep(70); // requests sent back to back would all land in the same idle part of a period
      slowest = Math.max(slowest, await pingMs());
    }
    expect(slowest).toBeGreaterThanOrEqual(100);
    expect(await (await call("DELETE", "/lab/cpu-burn")).json()).toEqual({ cancelled: true });
    await sleep(350);
    expect(await pingMs()).toBeLessThan(150);

    const worker = await call("POST", "/lab/cpu-burn", { ms: 5_000, duty: 0.5, threads: 2 });
    expect(worker.status).toBe(202);
    const status = (await (await call("GET", "/lab")).json()) as { cpuBurn: unknown };
    expect(status.cpuBurn).toMatchObject({ mode: "worker", threads: 2, duty: 0.5 });
    expect(await pingMs()).toBeLessThan(150); // the event loop is free
    expect(await (await call("DELETE", "/lab/cpu-burn")).json()).toEqual({ cancelled: true });
    expect(await (await call("DELETE", "/lab/cpu-burn")).json()).toEqual({ cancelled: false });
  });

  it("clock: PUT sets the hybrid clock's offset and stamps follow it", async () => {
    expect(Math.abs(await clockOffset())).toBeLessThan(1_000);
    const response = await call("PUT", "/lab/clock", { offsetMs: 60_000 });
    expect(await response.json()).toEqual({ offsetMs: 60_000, previousMs: 0 });
    expect(await clockOffset()).toBeGreaterThanOrEqual(59_000);
    expect(await (await call("GET", "/lab/clock")).json()).toEqual({ offsetMs: 60_000 });
    await call("PUT", "/lab/clock", { offsetMs: 0 });
    expect(await (await call("GET", "/lab/clock")).json()).toEqual({ offsetMs: 0 });
  });
});

describe("runtime nemeses through the lab endpoints", () => {
  const target = (): LabTarget => ({ name: "test/order", url, token: TOKEN });

  it("event-loop-block: starts a block and stops itself when it has run out", async () => {
    const nemesis = new EventLoopBlockNemesis(target(), { ms: 400 });
    const events: NemesisEvent[] = [];
    nemesis.onEvent((e) => events.push(e));
    expect((await nemesis.start()).detail).toMatchObject({ target: "test/order", ms: 400 });
    expect(await pingMs()).toBeGreaterThanOrEqual(250);
    await sleep(200);
    expect(nemesis.active).toBe(false);
    expect(events.at(-1)).toMatchObject({ action: "stop", detail: { trigger: "timer", cancelled: false } });
  });

  it("cpu-burn: start burns, stop cancels", async () => {
    const nemesis = new CpuBurnNemesis(target(), { ms: 10_000, duty: 0.3, threads: 1, mode: "worker" });
    await nemesis.start();
    expect(((await (await call("GET", "/lab")).json()) as { cpuBurn: unknown }).cpuBurn).not.toBeNull();
    expect((await nemesis.stop()).detail).toMatchObject({ cancelled: true });
    expect(((await (await call("GET", "/lab")).json()) as { cpuBurn: unknown }).cpuBurn).toBeNull();
  });

  it("clock-offset: start skews the clock, stop sets it back to 0; a wrong token fails the start", async () => {
    const nemesis = new ClockOffsetNemesis(target(), -5_000);
    expect((await nemesis.start()).detail).toMatchObject({ offsetMs: -5_000, previousMs: 0 });
    // (A clock set back does not move stamps back: the hybrid clock never goes backwards.)
    expect(await (await call("GET", "/lab/clock")).json()).toEqual({ offsetMs: -5_000 });
    await nemesis.stop();
    expect(await (await call("GET", "/lab/clock")).json()).toEqual({ offsetMs: 0 });
    const denied = new ClockOffsetNemesis({ ...target(), token: "wrong" }, 1_000);
    await expect(denied.start()).rejects.toThrow(/answered 401/);
    expect(await (await call("GET", "/lab/clock")).json()).toEqual({ offsetMs: 0 });
  });
});
