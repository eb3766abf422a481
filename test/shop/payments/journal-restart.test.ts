import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { appendFile, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readEnv } from "../../../src/shop/config.ts";
import type { RunningService } from "../../../src/shop/http/listen.ts";
import { paymentSimEnv } from "../../../src/shop/payments/config.ts";
import { startPaymentSimService } from "../../../src/shop/payments/service.ts";

const TOKEN = "journal-test-token";
const SERVICE_TOKEN = "journal-test-service-token";
let dir: string;
let journal: string;
const running: RunningService[] = [];
let child: ChildProcess | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "chaoscart-payment-journal-"));
  journal = join(dir, "payments.jsonl");
});

afterEach(async () => {
  child?.kill("SIGKILL");
  child = undefined;
  for (const service of running.splice(0)) await service.close();
  await rm(dir, { recursive: true, force: true });
});

const env = (extra: Record<string, string> = {}) => ({
  CHAOSCART_PORT: "0",
  CHAOSCART_ADMIN_TOKEN: TOKEN,
  CHAOSCART_SERVICE_TOKEN: SERVICE_TOKEN,
  CHAOSCART_LOG_LEVEL: "silent",
  CHAOSCART_PAYMENT_JOURNAL: journal,
  ...extra,
});

async function start(extra: Record<string, string> = {}) {
  const service = await startPaymentSimService(readEnv(paymentSimEnv, env(extra)));
  running.push(service);
  return service;
}

async function stop(service: RunningService) {
  running.splice(running.indexOf(service), 1);
  await service.close();
}

async function post(url: string, path: string, body?: unknown) {
  const response = await fetch(`${url}${path}`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${SERVICE_TOKEN}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function payments(url: string): Promise<Map<string, Record<string, unknown>>> {
  const response = await fetch(`${url}/admin/payments`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const body = (await response.json()) as { payments: Record<string, unknown>[] };
  return new Map(body.payments.map((p) => [String(p.orderId), p]));
}

describe("payment journal across restarts", () => {
  it("keeps every payment when the service restarts on the same journal", async () => {
    const first = await start();
    const authorized = await post(first.url, "/payments/j1/authorize", { amount: 1200 });
    await post(first.url, "/payments/j1/capture");
    await post(first.url, "/payments/j2/authorize", { amount: 300 });
    await post(first.url, "/payments/j2/void");
    await post(first.url, "/payments/j3/authorize", { amount: 50 });
    const before = await payments(first.url);
    await stop(first);

    const second = await start();
    expect(await payments(second.url)).toEqual(before);
    expect(await post(second.url, "/payments/j1/capture")).toMatchObject({
      status: 200,
      body: { state: "CAPTURED", captures: 1, replay: true, providerRef: authorized.body.providerRef },
    });
    expect(await post(second.url, "/payments/j2/capture")).toMatchObject({ status: 409 });
    expect(await post(second.url, "/payments/j3/capture")).toMatchObject({
      status: 200,
      body: { replay: false },
    });
    await stop(second);

    const third = await start();
    expect((await payments(third.url)).get("j3")).toMatchObject({ state: "CAPTURED", captures: 1 });
  });

  it("starts despite a truncated last line, keeping everything before it", async () => {
    const first = await start();
    await post(first.url, "/payments/t1/authorize", { amount: 100 });
    await post(first.url, "/payments/t1/capture");
    await stop(first);
    await appendFile(journal, '{"type":"authorized","orderId":"t2","amou');

    const second = await start();
    const after = await payments(second.url);
    expect(after.get("t1")).toMatchObject({ state: "CAPTURED", captures: 1 });
    expect(after.has("t2")).toBe(false);
    expect(await post(second.url, "/payments/t2/authorize", { amount: 100 })).toMatchObject({ status: 200 });
    await stop(second);

    const lines = (await readFile(journal, "utf8")).trimEnd().split("\n");
    expect(lines.map((line) => JSON.parse(line).type)).toEqual(["authorized", "captured", "authorized"]);
    const third = await start();
    expect((await payments(third.url)).get("t2")).toMatchObject({ state: "AUTHORIZED" });
  });

  it("refuses to start on a corrupt journal, with a clear error", async () => {
    await appendFile(journal, 'not json\n{"type":"captured","orderId":"x","at":"now"}\n');
    await expect(start()).rejects.toThrow(/cannot load the payment journal: .*line 1: unreadable/);
  });

  it("never forgets an acknowledged operation when killed with SIGKILL under load", async () => {
    const url = await spawnService();
    const acknowledged = new Map<string, string>();
    let killed = false;
    const worker = async (w: number) => {
      for (let i = 0; !killed; i++) {
        const orderId = `k${w}-${i}`;
        try {
          const auth = await post(url, `/payments/${orderId}/authorize`, { amount: 100 + i });
          if (auth.status === 200) acknowledged.set(orderId, "AUTHORIZED");
          const capture = await post(url, `/payments/${orderId}/capture`);
          if (capture.status === 200) acknowledged.set(orderId, "CAPTURED");
        } catch {
          return; // the connection died with the process
        }
      }
    };
    const workers = Array.from({ length: 16 }, (_, w) => worker(w));
    while (acknowledged.size < 200) await new Promise((resolve) => setTimeout(resolve, 10));
    const exited = child ? once(child, "exit") : Promise.resolve();
    killed = true;
    child?.kill("SIGKILL");
    await exited;
    await Promise.all(workers);

    const restarted = await start();
    const stored = await payments(restarted.url);
    for (const [orderId, state] of acknowledged) {
      const payment = stored.get(orderId);
      expect(payment, orderId).toBeDefined();
      if (state === "CAPTURED") expect(payment).toMatchObject({ state: "CAPTURED", captures: 1 });
    }
    for (const payment of stored.values()) expect(payment.captures).toBeLessThanOrEqual(1);
  });
});

/** The simulator in a child process (so it can be killed with SIGKILL), on the test's journal. */
async function spawnService(): Promise<string> {
  const module = (path: string) => pathToFileURL(join(import.meta.dirname, "../../../src/shop", path)).href;
  const script = `
    const { readEnv } = await import(${JSON.stringify(module("config.ts"))});
    const { paymentSimEnv } = await import(${JSON.stringify(module("payments/config.ts"))});
    const { startPaymentSimService } = await import(${JSON.stringify(module("payments/service.ts"))});
    const service = await startPaymentSimService(readEnv(paymentSimEnv));
    console.log(service.url);
  `;
  child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    env: { ...process.env, ...env() },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const [url] = (await Promise.race([
    once(lines, "line"),
    once(child, "exit").then(([code]) => {
      throw new Error(`payment simulator exited with ${code} before listening`);
    }),
  ])) as [string];
  return url;
}
