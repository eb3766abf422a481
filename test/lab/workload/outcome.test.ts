import { describe, expect, it } from "vitest";
import { parseRetryAfter, WorkloadClient } from "../../../src/lab/workload/client.ts";
import {
  classifyOrder,
  classifyRead,
  isGatedSoldOut,
  isRetryable,
  isSoldOutRefusal,
  pendingOrder,
  type Reply,
} from "../../../src/lab/workload/outcome.ts";

const response = (status: number, body?: Record<string, unknown>, extra: Partial<Reply> = {}): Reply =>
  ({ kind: "response", status, body, ...extra }) as Reply;
const timeout: Reply = { kind: "error", error: "timeout after 2000 ms", timeout: true, delivered: true };
const reset: Reply = { kind: "error", error: "ECONNRESET: socket hang up", timeout: false, delivered: true };
const refused: Reply = { kind: "error", error: "ECONNREFUSED: connect", timeout: false, delivered: false };
const confirmed = { id: "17", state: "CONFIRMED" };

describe("order outcome classification", () => {
  it("the sold-out gate's 409 sold_out: fail (nothing written), or info after an attempt that may have placed the order", () => {
    const gated = response(409, { error: "sold_out", sku: "HOT-1" });
    const first = classifyOrder([gated]);
    expect(first).toEqual({ type: "fail", value: { status: 409, error: "sold_out", attempts: 1 } });
    expect(isGatedSoldOut({ kind: "order", ...first })).toBe(true);
    expect(isSoldOutRefusal({ kind: "order", ...first })).toBe(true);
    const afterTimeout = classifyOrder([timeout, gated]);
    expect(afterTimeout.type).toBe("info");
    expect(isSoldOutRefusal({ kind: "order", ...afterTimeout })).toBe(true);
    expect(
      isGatedSoldOut({ kind: "order", ...classifyOrder([response(409, { error: "qty_mismatch" })]) }),
    ).toBe(false);
    const cancelled = classifyOrder([
      response(201, { id: "18", state: "CANCELLED", cancelReason: "sold_out" }),
    ]);
    expect(isSoldOutRefusal({ kind: "order", ...cancelled })).toBe(true);
    expect(isGatedSoldOut({ kind: "order", ...cancelled })).toBe(false);
  });

  it("ok: a terminal order, CONFIRMED or CANCELLED (sold out included), first try or after retries", () => {
    expect(classifyOrder([response(201, confirmed)])).toEqual({
      type: "ok",
      value: { orderId: "17", state: "CONFIRMED", status: 201, attempts: 1 },
    });
    expect(
      classifyOrder([response(201, { id: "18", state: "CANCELLED", cancelReason: "sold_out" })]),
    ).toMatchObject({
      type: "ok",
      value: { state: "CANCELLED", cancelReason: "sold_out" },
    });
    expect(classifyOrder([timeout, response(503), response(200, confirmed)])).toMatchObject({
      type: "ok",
      value: { status: 200, attempts: 3 },
    });
  });

  it("fail: only definite rejections with no attempt that may have taken effect", () => {
    expect(classifyOrder([response(400, { error: "invalid_request" })])).toEqual({
      type: "fail",
      value: { status: 400, error: "invalid_request", attempts: 1 },
    });
    expect(classifyOrder([response(422, { error: "unknown_sku" })]).type).toBe("fail");
    expect(classifyOrder([response(429), response(429), response(429), response(429)])).toEqual({
      type: "fail",
      value: { status: 429, error: "HTTP 429", attempts: 4, rateLimited: 4 },
    });
    expect(classifyOrder([refused, refused]).type).toBe("fail");
    expect(classifyOrder([refused, response(429, { error: "rate_limited" })]).type).toBe("fail");
  });

  it("info: unknown outcomes, and definite rejections after an attempt that may have placed the order", () => {
    expect(classifyOrder([timeout, timeout, timeout, timeout])).toEqual({
      type: "info",
      value: { error: "timeout after 2000 ms", attempts: 4 },
    });
    expect(classifyOrder([reset]).type).toBe("info");
    expect(classifyOrder([response(503), response(503, { error: "read_only_endpoint" })])).toEqual({
      type: "info",
      value: { status: 503, error: "read_only_endpoint", attempts: 2 },
    });
    expect(classifyOrder([response(504)]).type).toBe("info");
    expect(classifyOrder([response(502)]).type).toBe("info");
    expect(classifyOrder([timeout, response(429)]).type).toBe("info");
    expect(classifyOrder([response(500), response(422, { error: "unknown_sku" })]).type).toBe("info");
    expect(classifyOrder([response(201, { state: "CONFIRMED" })])).toMatchObject({
      type: "info",
      value: { error: "unreadable 201 answer (no order id)" },
    });
  });

  it("a 202 is ok once polled to a terminal state, info when polling gave up", () => {
    const accepted = response(202, { id: "19", state: "RESERVED" }, { location: "/orders/19" });
    expect(pendingOrder(accepted)).toEqual({ orderId: "19", state: "RESERVED" });
    expect(pendingOrder(response(201, confirmed))).toBeUndefined();
    expect(pendingOrder(response(503))).toBeUndefined();
    expect(pendingOrder(response(202, undefined, { location: "/orders/20" }))).toEqual({
      orderId: "20",
      state: undefined,
    });
    expect(
      classifyOrder([accepted], { state: "CONFIRMED", terminal: true, polls: 3, waitedMs: 700 }),
    ).toEqual({
      type: "ok",
      value: { orderId: "19", state: "CONFIRMED", status: 202, attempts: 1 },
    });
    const cancelled = {
      state: "CANCELLED",
      terminal: true,
      polls: 1,
      waitedMs: 200,
      cancelReason: "sold_out",
    };
    expect(classifyOrder([accepted], cancelled)).toMatchObject({
      type: "ok",
      value: { state: "CANCELLED", cancelReason: "sold_out" },
    });
    expect(classifyOrder([accepted], { state: "PAID", terminal: false, polls: 9, waitedMs: 15_000 })).toEqual(
      {
        type: "info",
        value: {
          orderId: "19",
          state: "PAID",
          status: 202,
          error: "202: order not terminal after 15000 ms of polling",
          attempts: 1,
        },
      },
    );
  });

  it("retries no answer, 408, 429 and 5xx; never another 4xx or a 2xx", () => {
    for (const reply of [
      timeout,
      reset,
      refused,
      response(408),
      response(429),
      response(500),
      response(503),
    ]) {
      expect(isRetryable(reply)).toBe(true);
    }
    for (const reply of [response(201), response(202), response(400), response(404), response(422)]) {
      expect(isRetryable(reply)).toBe(false);
    }
  });
});

describe("read outcome classification", () => {
  it("order reads: 200 ok with the state; 404 and other 4xx fail; no answer or 5xx info", () => {
    expect(classifyRead([response(200, { id: "1", state: "PAID" })])).toEqual({
      type: "ok",
      value: { state: "PAID", status: 200, attempts: 1 },
    });
    expect(classifyRead([response(404, { error: "not_found" })])).toMatchObject({
      type: "fail",
      value: { status: 404 },
    });
    expect(classifyRead([response(429), response(429)]).type).toBe("fail");
    // Shed, then served on a retry: still counted as met by the rate limit.
    expect(classifyRead([response(429), response(200)]).value).toMatchObject({ status: 200, rateLimited: 1 });
    expect(classifyRead([response(200)]).value.rateLimited).toBeUndefined();
    expect(classifyRead([timeout, timeout]).type).toBe("info");
    expect(classifyRead([response(504)]).type).toBe("info");
  });

  it("catalog reads of a missing SKU: 404 is the right answer", () => {
    expect(classifyRead([response(404, { error: "unknown_sku" })], true)).toEqual({
      type: "ok",
      value: { status: 404, attempts: 1 },
    });
    expect(classifyRead([response(200, { id: "X" })], true).type).toBe("fail");
    expect(classifyRead([response(200, { id: "X" })], false).type).toBe("ok");
  });
});

describe("client retry timing", () => {
  it("parses Retry-After as seconds or an HTTP date", () => {
    expect(parseRetryAfter("2")).toBe(2000);
    expect(parseRetryAfter("0.5")).toBe(500);
    expect(parseRetryAfter(["1", "3"])).toBe(1000);
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter("soon")).toBeUndefined();
    const inFive = parseRetryAfter(new Date(Date.now() + 5000).toUTCString()) ?? 0;
    expect(inFive).toBeGreaterThan(3000);
    expect(inFive).toBeLessThanOrEqual(5000);
  });

  it("backs off exponentially with jitter and never waits less than Retry-After (capped)", async () => {
    const draws = [0, 0.999];
    for (const random of draws) {
      const client = new WorkloadClient("http://127.0.0.1:9", {
        backoffBaseMs: 100,
        backoffMaxMs: 1000,
        maxRetryAfterMs: 5000,
        random: () => random,
      });
      for (const [retry, ceiling] of [
        [1, 100],
        [2, 200],
        [3, 400],
        [5, 1000],
      ] as const) {
        const delay = client.retryDelayMs(retry, timeout);
        expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
        expect(delay).toBeLessThanOrEqual(ceiling);
      }
      expect(client.retryDelayMs(1, response(429, undefined, { retryAfterMs: 1000 }))).toBe(1000);
      expect(client.retryDelayMs(1, response(503, undefined, { retryAfterMs: 60_000 }))).toBe(5000);
      await client.close();
    }
  });
});
