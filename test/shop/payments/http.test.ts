import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { readEnv } from "../../../src/shop/config.ts";
import type { RunningService } from "../../../src/shop/http/listen.ts";
import { paymentSimEnv } from "../../../src/shop/payments/config.ts";
import { NO_FAULTS } from "../../../src/shop/payments/faults.ts";
import { startPaymentSimService } from "../../../src/shop/payments/service.ts";

const TOKEN = "payment-test-token";
const AUTH = { authorization: `Bearer ${TOKEN}` };
const SERVICE_TOKEN = "payment-test-service-token";
const INTERNAL = { authorization: `Bearer ${SERVICE_TOKEN}` };
let dir: string;
let service: RunningService;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "chaoscart-payment-http-"));
  service = await startPaymentSimService(
    readEnv(paymentSimEnv, {
      CHAOSCART_PORT: "0",
      CHAOSCART_ADMIN_TOKEN: TOKEN,
      CHAOSCART_SERVICE_TOKEN: SERVICE_TOKEN,
      CHAOSCART_LOG_LEVEL: "silent",
      CHAOSCART_PAYMENT_JOURNAL: join(dir, "payments.jsonl"),
      CHAOSCART_PAYMENT_SEED: "1",
    }),
  );
});

afterAll(async () => {
  await service?.close();
  await rm(dir, { recursive: true, force: true });
});

afterEach(async () => {
  await setFaults(NO_FAULTS);
});

type Body = Record<string, unknown>;

async function call(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = INTERNAL,
) {
  const response = await fetch(`${service.url}${path}`, {
    method,
    headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Body };
}

const authorize = (orderId: string, amount: number, extra: Body = {}) =>
  call("POST", `/payments/${orderId}/authorize`, { amount, ...extra });
const operate = (orderId: string, op: "capture" | "void" | "refund") =>
  call("POST", `/payments/${orderId}/${op}`);
const payment = (orderId: string) => call("GET", `/payments/${orderId}`);

async function setFaults(knobs: Body) {
  const response = await call("PUT", "/admin/faults", knobs, AUTH);
  expect(response.status).toBe(200);
  return response.body;
}

/** Reads a payment past the fault knobs, as the lab's money checker does. */
async function stored(orderId: string) {
  const { body } = await call("GET", "/admin/payments", undefined, AUTH);
  return (body.payments as Body[]).find((p) => p.orderId === orderId);
}

describe("payment simulator HTTP API", () => {
  it("authorizes, and answers a replay with the same payment", async () => {
    const first = await authorize("h-auth", 1999, { currency: "EUR" });
    expect(first).toMatchObject({
      status: 200,
      body: { orderId: "h-auth", state: "AUTHORIZED", amount: 1999, currency: "EUR", replay: false },
    });
    expect(first.body.providerRef).toMatch(/^psim_[0-9a-f]{24}$/);
    const again = await authorize("h-auth", 1999);
    expect(again).toMatchObject({ status: 200, body: { providerRef: first.body.providerRef, replay: true } });
    expect(await payment("h-auth")).toMatchObject({
      status: 200,
      body: { state: "AUTHORIZED", captures: 0 },
    });
  });

  it("refuses an authorisation of a different amount with 409", async () => {
    await authorize("h-amount", 500);
    const response = await authorize("h-amount", 600);
    expect(response).toMatchObject({ status: 409, body: { error: "conflict" } });
    expect(response.body.message).toMatch(/500 EUR.*not 600/);
  });

  it("captures then refunds, replays each, and refuses invalid transitions naming the state", async () => {
    await authorize("h-flow", 700);
    expect(await operate("h-flow", "capture")).toMatchObject({
      status: 200,
      body: { state: "CAPTURED", captures: 1, replay: false },
    });
    expect(await operate("h-flow", "capture")).toMatchObject({ status: 200, body: { replay: true } });
    const voided = await operate("h-flow", "void");
    expect(voided).toMatchObject({ status: 409, body: { error: "conflict", state: "CAPTURED" } });
    expect(voided.body.message).toMatch(/CAPTURED/);
    expect(await operate("h-flow", "refund")).toMatchObject({ status: 200, body: { state: "REFUNDED" } });
    expect(await operate("h-flow", "refund")).toMatchObject({ status: 200, body: { replay: true } });
    const history = (await payment("h-flow")).body.history as Body[];
    expect(history.map((step) => step.state)).toEqual(["AUTHORIZED", "CAPTURED", "REFUNDED"]);

    await authorize("h-void", 300);
    expect(await operate("h-void", "void")).toMatchObject({ status: 200, body: { state: "VOIDED" } });
    expect(await operate("h-void", "void")).toMatchObject({ status: 200, body: { replay: true } });
    expect(await operate("h-void", "capture")).toMatchObject({ status: 409, body: { state: "VOIDED" } });
    expect(await operate("h-void", "refund")).toMatchObject({ status: 409, body: { state: "VOIDED" } });
  });

  it("answers 404 for an order it never authorised", async () => {
    for (const op of ["capture", "void", "refund"] as const) {
      expect(await operate("h-ghost", op)).toMatchObject({ status: 404, body: { error: "not_found" } });
    }
    expect(await payment("h-ghost")).toMatchObject({ status: 404, body: { error: "not_found" } });
  });

  it.each([
    ["a zero amount", "/payments/h-bad/authorize", { amount: 0 }, "body.amount"],
    ["a fractional amount", "/payments/h-bad/authorize", { amount: 1.5 }, "body.amount"],
    ["a missing amount", "/payments/h-bad/authorize", {}, "body.amount"],
    ["another currency", "/payments/h-bad/authorize", { amount: 1, currency: "USD" }, "body.currency"],
    ["a malformed order id", "/payments/bad%20id/authorize", { amount: 1 }, "params.orderId"],
  ])("rejects %s with a 400 naming the field, storing nothing", async (_name, path, body, field) => {
    const response = await call("POST", path, body);
    expect(response).toMatchObject({ status: 400, body: { error: "invalid_request", field } });
    expect(await stored("h-bad")).toBeUndefined();
  });

  it("captures at most once under 50 concurrent capture calls", async () => {
    await authorize("h-race", 4200);
    const responses = await Promise.all(Array.from({ length: 50 }, () => operate("h-race", "capture")));
    expect(responses.every((r) => r.status === 200 && r.body.state === "CAPTURED")).toBe(true);
    expect(responses.filter((r) => r.body.replay === false)).toHaveLength(1);
    expect(await stored("h-race")).toMatchObject({ state: "CAPTURED", captures: 1 });
  });

  it("lets only one of concurrent capture and void win", async () => {
    await authorize("h-race2", 100);
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => operate("h-race2", i % 2 ? "void" : "capture")),
    );
    const winner = (await stored("h-race2"))?.state;
    expect(["CAPTURED", "VOIDED"]).toContain(winner);
    for (const response of responses) {
      if (response.status === 200) expect(response.body.state).toBe(winner);
      else expect(response).toMatchObject({ status: 409, body: { state: winner } });
    }
  });

  it("declines with 402, stores the decline and replays it", async () => {
    await setFaults({ declineRate: 1 });
    const declined = await authorize("h-decline", 900);
    expect(declined).toMatchObject({ status: 402, body: { error: "card_declined", replay: false } });
    await setFaults({ declineRate: 0 });
    expect(await authorize("h-decline", 900)).toMatchObject({
      status: 402,
      body: { error: "card_declined", providerRef: declined.body.providerRef, replay: true },
    });
    expect(await payment("h-decline")).toMatchObject({ status: 200, body: { state: "DECLINED" } });
    expect(await operate("h-decline", "capture")).toMatchObject({ status: 409, body: { state: "DECLINED" } });
  });

  it("errorMode before: the call fails and nothing changes", async () => {
    await authorize("h-before", 100);
    await setFaults({ errorRate: 1, errorMode: "before", errorStatus: 503 });
    expect(await operate("h-before", "capture")).toEqual({
      status: 503,
      body: { error: "provider_error", message: "simulated provider failure" },
    });
    expect(await authorize("h-before-new", 100)).toMatchObject({ status: 503 });
    expect(await payment("h-before")).toMatchObject({ status: 503 });
    expect(await stored("h-before")).toMatchObject({ state: "AUTHORIZED", captures: 0 });
    expect(await stored("h-before-new")).toBeUndefined();
  });

  it("errorMode after: the call fails but the operation happened; a retry returns it", async () => {
    await authorize("h-after", 100);
    await setFaults({ errorRate: 1, errorMode: "after", errorStatus: 500 });
    expect(await operate("h-after", "capture")).toMatchObject({
      status: 500,
      body: { error: "provider_error" },
    });
    expect(await authorize("h-after-new", 250)).toMatchObject({ status: 500 });
    expect(await stored("h-after")).toMatchObject({ state: "CAPTURED", captures: 1 });
    expect(await stored("h-after-new")).toMatchObject({ state: "AUTHORIZED", amount: 250 });
    // Still failing: the retry is not applied twice either.
    expect(await operate("h-after", "capture")).toMatchObject({ status: 500 });
    expect(await stored("h-after")).toMatchObject({ captures: 1 });

    await setFaults({ errorRate: 0 });
    expect(await operate("h-after", "capture")).toMatchObject({
      status: 200,
      body: { state: "CAPTURED", captures: 1, replay: true },
    });
    expect(await authorize("h-after-new", 250)).toMatchObject({ status: 200, body: { replay: true } });
  });

  it("adds the configured latency to every /payments call", async () => {
    await authorize("h-slow", 100);
    await setFaults({ latencyMs: 300 });
    for (const request of [() => payment("h-slow"), () => operate("h-slow", "capture")]) {
      const started = performance.now();
      expect((await request()).status).toBe(200);
      expect(performance.now() - started).toBeGreaterThanOrEqual(295);
    }
  });

  it("protects the admin endpoints with the token", async () => {
    for (const [method, path] of [
      ["GET", "/admin/payments"],
      ["GET", "/admin/faults"],
      ["PUT", "/admin/faults"],
    ] as const) {
      const body = method === "PUT" ? { latencyMs: 1 } : undefined;
      expect(await call(method, path, body)).toMatchObject({ status: 401, body: { error: "unauthorized" } });
      expect(await call(method, path, body, { authorization: "Bearer wrong-token-x" })).toMatchObject({
        status: 401,
      });
    }
    expect((await call("GET", "/admin/faults", undefined, AUTH)).body).toEqual(NO_FAULTS);
  });

  it("lists every payment with its captures count", async () => {
    await authorize("h-list", 100);
    await operate("h-list", "capture");
    const { status, body } = await call("GET", "/admin/payments", undefined, AUTH);
    expect(status).toBe(200);
    expect(body.count).toBe((body.payments as Body[]).length);
    expect(await stored("h-list")).toMatchObject({ orderId: "h-list", state: "CAPTURED", captures: 1 });
  });

  it("updates fault knobs partially and refuses bad values with a 400 naming the field", async () => {
    expect(await setFaults({ latencyMs: 5, errorMode: "mixed" })).toEqual({
      ...NO_FAULTS,
      latencyMs: 5,
      errorMode: "mixed",
    });
    expect(await call("PUT", "/admin/faults", { errorRate: 2 }, AUTH)).toMatchObject({
      status: 400,
      body: { error: "invalid_request", field: "body.errorRate" },
    });
    expect(await call("PUT", "/admin/faults", { errorStatus: 502 }, AUTH)).toMatchObject({
      status: 400,
      body: { field: "body.errorStatus" },
    });
    const unknown = await call("PUT", "/admin/faults", { latency: 5 }, AUTH);
    expect(unknown).toMatchObject({ status: 400 });
    expect(unknown.body.message).toMatch(/latency/);
    expect((await call("GET", "/admin/faults", undefined, AUTH)).body).toMatchObject({ latencyMs: 5 });
  });

  it("serves health, readiness and Prometheus metrics", async () => {
    expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${service.url}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(/chaoscart_payment_operations_total\{operation="capture",result="applied"/);
    expect(metrics).toMatch(/chaoscart_payment_operations_total\{operation="authorize",result="declined"/);
    expect(metrics).toMatch(/chaoscart_payment_injected_errors_total\{operation="capture",when="after"/);
    expect(metrics).toMatch(/chaoscart_payment_captures_total\{service="payment-sim"\} \d+/);
    expect(metrics).toMatch(/chaoscart_payment_payments\{state="CAPTURED"/);
    expect(metrics).toMatch(/chaoscart_payment_fault_knob\{knob="latency_ms"/);
  });
});

describe("payment simulator without an admin token", () => {
  it("answers 403 on the admin endpoints", async () => {
    const open = await startPaymentSimService(
      readEnv(paymentSimEnv, {
        CHAOSCART_PORT: "0",
        CHAOSCART_LOG_LEVEL: "silent",
        CHAOSCART_SERVICE_TOKEN: SERVICE_TOKEN,
      }),
    );
    try {
      for (const path of ["/admin/payments", "/admin/faults"]) {
        const response = await fetch(`${open.url}${path}`, { headers: AUTH });
        expect(response.status).toBe(403);
        expect(await response.json()).toMatchObject({ error: "admin_disabled" });
      }
    } finally {
      await open.close();
    }
  });
});

describe("payment simulator configuration", () => {
  it("defaults to port 7104 with no faults, and names every bad variable", () => {
    expect(readEnv(paymentSimEnv, { CHAOSCART_SERVICE_TOKEN: SERVICE_TOKEN })).toMatchObject({
      CHAOSCART_HOST: "127.0.0.1",
      CHAOSCART_PORT: 7104,
      CHAOSCART_PAYMENT_LATENCY_MS: 0,
      CHAOSCART_PAYMENT_ERROR_RATE: 0,
      CHAOSCART_PAYMENT_DECLINE_RATE: 0,
    });
    expect(() =>
      readEnv(paymentSimEnv, {
        CHAOSCART_ADMIN_TOKEN: "short",
        CHAOSCART_PAYMENT_ERROR_RATE: "1.5",
        CHAOSCART_PAYMENT_LATENCY_MS: "-1",
      }),
    ).toThrow(
      /CHAOSCART_ADMIN_TOKEN[\s\S]*CHAOSCART_SERVICE_TOKEN: required[\s\S]*CHAOSCART_PAYMENT_LATENCY_MS[\s\S]*CHAOSCART_PAYMENT_ERROR_RATE/,
    );
  });
});

describe("payment simulator access", () => {
  it("answers the payment operations only to a caller with the service token", async () => {
    for (const [method, path, body] of [
      ["POST", "/payments/intruder/authorize", { amount: 100 }],
      ["POST", "/payments/intruder/capture"],
      ["POST", "/payments/intruder/void"],
      ["POST", "/payments/intruder/refund"],
      ["GET", "/payments/intruder"],
    ] as const) {
      for (const headers of [{}, AUTH, { authorization: "Bearer wrong" }]) {
        const response = await call(method, path, body, headers);
        expect({ path, method, status: response.status }).toEqual({ path, method, status: 401 });
        expect(response.body.error).toBe("unauthorized");
      }
    }
    expect((await payment("intruder")).status).toBe(404); // nothing was authorised
  });
});

describe("payment simulator capacity (a provider in a brown-out)", () => {
  it("sheds requests beyond its capacity with 503 and Retry-After, and counts every request received", async () => {
    await setFaults({ latencyMs: 300, capacity: 2, retryAfterMs: 1500 });
    const answers = await Promise.all(
      ["cap-1", "cap-2", "cap-3", "cap-4", "cap-5"].map((id) =>
        fetch(`${service.url}/payments/${id}/authorize`, {
          method: "POST",
          headers: { "content-type": "application/json", ...INTERNAL },
          body: JSON.stringify({ amount: 100 }),
        }),
      ),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([200, 200, 503, 503, 503]);
    const shed = answers.filter((a) => a.status === 503);
    expect(shed.map((a) => a.headers.get("retry-after"))).toEqual(["2", "2", "2"]);
    expect(await shed[0]?.json()).toMatchObject({ error: "overloaded" });
    // Shed requests were never applied.
    expect(
      (await Promise.all(["cap-1", "cap-2", "cap-3", "cap-4", "cap-5"].map(stored))).filter(Boolean),
    ).toHaveLength(2);
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(/chaoscart_payment_requests_total\{operation="authorize",result="shed"[^}]*\} 3/);
    // Served ones include the earlier tests' requests.
    expect(metrics).toMatch(/chaoscart_payment_requests_total\{operation="authorize",result="served"/);
  });

  it("counts a request repeated with the same x-request-id as a retry, and one without an id as a first", async () => {
    const send = (id: string, requestId?: string) =>
      call(
        "POST",
        `/payments/${id}/authorize`,
        { amount: 100 },
        {
          ...INTERNAL,
          ...(requestId ? { "x-request-id": requestId } : {}),
        },
      );
    const repeats = async () =>
      Number(
        (await (await fetch(`${service.url}/metrics`)).text())
          .split("\n")
          .filter(
            (line) =>
              line.startsWith("chaoscart_payment_requests_total{") && line.includes('attempt="repeat"'),
          )
          .reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0),
      );
    const before = await repeats();
    await send("rep-1", "req-a");
    await send("rep-1", "req-a"); // a retry of the same call
    await send("rep-1", "req-b"); // a later pass: a new call
    await send("rep-1");
    await send("rep-1");
    expect((await repeats()) - before).toBe(1);
  });

  it("has no capacity limit by default", async () => {
    await setFaults({ latencyMs: 50 });
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => authorize(`free-${i}`, 100)));
    expect(answers.every((a) => a.status === 200)).toBe(true);
  });
});
