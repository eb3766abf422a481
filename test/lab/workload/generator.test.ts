import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import type { ClientOp, HistoryOp } from "../../../src/lab/history/op.ts";
import { HistoryWriter, readHistory } from "../../../src/lab/history/writer.ts";
import { CLIENT_OVERLOADED, runWorkload, type WorkloadOptions } from "../../../src/lab/workload/generator.ts";
import { type FakeGateway, order, startFakeGateway } from "./fake-gateway.ts";

/** One clock for the workload and the fake gateway, so server-side times line up with intended times. */
function testClock() {
  const origin = performance.now();
  return () => performance.now() - origin;
}

class MemoryHistory {
  readonly ops: HistoryOp[] = [];
  append(op: HistoryOp) {
    this.ops.push(op);
  }
  get client(): ClientOp[] {
    return this.ops.filter((op): op is ClientOp => op.process === "client");
  }
}

/** Every invoke has exactly one completion, with the same kind and phase, after it. */
function expectPaired(ops: ClientOp[]) {
  const invokes = new Map<number, ClientOp>();
  const completed = new Set<number>();
  for (const op of ops) {
    if (op.type === "invoke") {
      expect(invokes.has(op.id), `op ${op.id} invoked twice`).toBe(false);
      invokes.set(op.id, op);
      continue;
    }
    const invoke = invokes.get(op.id);
    expect(invoke, `completion of op ${op.id} without invoke`).toBeDefined();
    expect(completed.has(op.id), `op ${op.id} completed twice`).toBe(false);
    completed.add(op.id);
    expect(op.kind).toBe(invoke?.kind);
    expect(op.phase).toBe(invoke?.phase);
    expect(op.time).toBeGreaterThanOrEqual(invoke?.time ?? 0);
  }
  expect(completed.size).toBe(invokes.size);
}

function completionsOf(ops: ClientOp[]) {
  return ops.filter((op) => op.type !== "invoke");
}

/** The intended send time of a completed op (latency is measured from it). */
function intended(op: ClientOp): number {
  return op.time - (op.latencyMs ?? 0);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

const servers: FakeGateway[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function gateway(options: Parameters<typeof startFakeGateway>[0]) {
  const server = await startFakeGateway(options);
  servers.push(server);
  return server;
}

function workload(
  server: FakeGateway,
  clock: () => number,
  history: WorkloadOptions["history"],
  overrides: Partial<WorkloadOptions>,
): Promise<Awaited<ReturnType<typeof runWorkload>>> {
  return runWorkload({
    gatewayUrl: server.url,
    rate: 100,
    arrival: "constant",
    durationMs: 1000,
    users: 50,
    hotSkus: ["HOT-1", "HOT-2"],
    coldSkus: ["COLD-1", "COLD-2", "COLD-3"],
    mix: { order: 1, "order-read": 0, "catalog-read": 0 },
    history,
    clock,
    seed: 42,
    client: { backoffBaseMs: 10, backoffMaxMs: 50 },
    ...overrides,
  });
}

describe("runWorkload against a fake gateway", () => {
  it("constant arrivals: exactly rate × duration ops, each completed once, the file equals memory", async () => {
    const clock = testClock();
    const server = await gateway({ clock });
    const dir = await mkdtemp(join(tmpdir(), "chaoscart-workload-"));
    try {
      const history = await HistoryWriter.open(dir, { flushIntervalMs: 50 });
      const reports: number[] = [];
      const result = await workload(server, clock, history, {
        durationMs: 1500,
        mix: { order: 2, "order-read": 1, "catalog-read": 1 },
        progressIntervalMs: 200,
        onProgress: (progress) => reports.push(progress.completed),
        phaseAt: (time) => (time < 750 ? "baseline" : "fault"),
      });
      await history.close();
      const ops = history.clientOps();
      expectPaired(ops);
      const invokes = ops.filter((op) => op.type === "invoke");
      expect(invokes).toHaveLength(150);
      expect(result.progress).toMatchObject({
        arrivals: 150,
        completed: 150,
        ok: 150,
        errors: 0,
        outstanding: 0,
      });
      expect(reports.length).toBeGreaterThanOrEqual(5);
      expect(reports.at(-1)).toBe(150);
      // Every kind ran, and each op answered what it should.
      for (const kind of ["order", "order-read", "catalog-read"] as const) {
        expect(invokes.some((op) => op.kind === kind)).toBe(true);
      }
      for (const op of completionsOf(ops)) {
        expect(op.type).toBe("ok");
        expect(op.value.attempts).toBe(1);
        expect(op.latencyMs).toBeGreaterThanOrEqual(0);
        if (op.kind === "order") expect(op.value).toMatchObject({ state: "CONFIRMED", status: 201 });
      }
      // Order reads read orders this client created.
      const created = new Set(
        completionsOf(ops).flatMap((op) => (op.kind === "order" ? [op.value.orderId] : [])),
      );
      for (const read of invokes.filter((op) => op.kind === "order-read")) {
        expect(created.has(read.value.orderId)).toBe(true);
      }
      // The phase comes from the intended time.
      for (const op of completionsOf(ops)) expect(op.phase).toBe(intended(op) < 750 ? "baseline" : "fault");
      expect(new Set(invokes.map((op) => op.phase))).toEqual(new Set(["baseline", "fault"]));
      // Idempotency keys are unique per order.
      const keys = invokes.flatMap((op) => (op.kind === "order" ? [op.value.idempotencyKey] : []));
      expect(new Set(keys).size).toBe(keys.length);
      expect(await readHistory(history.path)).toEqual(history.ops());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("poisson arrivals: count within 4 standard deviations of rate × duration, every op completed", async () => {
    const clock = testClock();
    const server = await gateway({ clock });
    const history = new MemoryHistory();
    const result = await workload(server, clock, history, {
      arrival: "poisson",
      rate: 300,
      durationMs: 2000,
      seed: 7,
    });
    const invokes = history.client.filter((op) => op.type === "invoke");
    // Expected 600, standard deviation √600 ≈ 24.5.
    expect(Math.abs(invokes.length - 600)).toBeLessThan(4 * Math.sqrt(600));
    expect(result.progress.arrivals).toBe(invokes.length);
    expectPaired(history.client);
    // Gaps are irregular (not a constant schedule in disguise).
    const gaps = invokes.slice(1).map((op, i) => op.time - (invokes[i]?.time ?? 0));
    expect(Math.max(...gaps)).toBeGreaterThan(10);
  });

  it("a 503 with Retry-After is retried after the wait with the same Idempotency-Key", async () => {
    const clock = testClock();
    const server = await gateway({
      clock,
      onOrder: (attempt, reply, id) =>
        attempt.attempt === 1
          ? reply.code(503).header("retry-after", "1").send({ error: "read_only_endpoint" })
          : reply.code(201).send(order(id, attempt.userId, "CONFIRMED")),
    });
    const history = new MemoryHistory();
    await workload(server, clock, history, { rate: 20, durationMs: 500 });
    expectPaired(history.client);
    const done = completionsOf(history.client);
    expect(done).toHaveLength(10);
    for (const op of done) {
      expect(op.type).toBe("ok");
      expect(op.value).toMatchObject({ state: "CONFIRMED", status: 201, attempts: 2 });
      expect(op.latencyMs).toBeGreaterThanOrEqual(990);
      const times = server.keys.get(op.value.idempotencyKey ?? "");
      expect(times, "the server saw the op's key").toHaveLength(2);
      const [first = 0, second = 0] = times ?? [];
      expect(second - first).toBeGreaterThanOrEqual(990); // Retry-After: 1 honoured
    }
    expect(server.keys.size).toBe(10);
  });

  it("a 503 on every attempt ends as info after the retries, all attempts with one key", async () => {
    const clock = testClock();
    const server = await gateway({
      clock,
      onOrder: (_attempt, reply) =>
        reply.code(503).header("retry-after", "0").send({ error: "upstream_unavailable" }),
    });
    const history = new MemoryHistory();
    await workload(server, clock, history, { rate: 20, durationMs: 250 });
    expectPaired(history.client);
    for (const op of completionsOf(history.client)) {
      expect(op.type).toBe("info");
      expect(op.value).toMatchObject({ status: 503, error: "upstream_unavailable", attempts: 4 });
      expect(server.keys.get(op.value.idempotencyKey ?? "")).toHaveLength(4);
    }
  });

  it("a server that stalls longer than the timeout gives info (never fail), retried with the same key", async () => {
    const clock = testClock();
    const server = await gateway({
      clock,
      onOrder: async (attempt, reply, id) => {
        await sleep(1000);
        return reply.code(201).send(order(id, attempt.userId, "CONFIRMED"));
      },
    });
    const history = new MemoryHistory();
    await workload(server, clock, history, {
      rate: 20,
      durationMs: 250,
      timeoutMs: 200,
      client: { maxRetries: 1, backoffBaseMs: 10, backoffMaxMs: 20 },
    });
    expectPaired(history.client);
    const done = completionsOf(history.client);
    expect(done).toHaveLength(5);
    for (const op of done) {
      expect(op.type).toBe("info");
      expect(op.value.error).toMatch(/timeout after 200 ms/);
      expect(op.value.attempts).toBe(2);
      expect(op.latencyMs).toBeGreaterThanOrEqual(400);
      expect(server.keys.get(op.value.idempotencyKey ?? "")).toHaveLength(2);
    }
  });

  it("definite rejections fail; a rejection after an attempt that may have taken effect is info", async () => {
    const clock = testClock();
    const server = await gateway({
      clock,
      onOrder: async (attempt, reply) => {
        const sku = attempt.items[0]?.sku;
        if (sku === "HOT-1")
          return reply.code(429).header("retry-after", "0").send({ error: "rate_limited" });
        if (sku === "HOT-2") return reply.code(422).send({ error: "unknown_sku" });
        // COLD-*: the first attempt times out (it may have created the order), then 429s.
        if (attempt.attempt === 1) await sleep(400);
        return reply.code(429).header("retry-after", "0").send({ error: "rate_limited" });
      },
    });
    const history = new MemoryHistory();
    await workload(server, clock, history, {
      rate: 40,
      durationMs: 1000,
      timeoutMs: 150,
      shape: { hotShare: 0.6, multiItemShare: 0 },
      client: { maxRetries: 2, backoffBaseMs: 10, backoffMaxMs: 20 },
    });
    expectPaired(history.client);
    const invokes = new Map(history.client.filter((op) => op.type === "invoke").map((op) => [op.id, op]));
    const bySku = new Map<string, ClientOp[]>();
    for (const op of completionsOf(history.client)) {
      const sku = invokes.get(op.id)?.value.items?.[0]?.sku ?? "";
      const group = sku.startsWith("COLD") ? "COLD" : sku;
      bySku.set(group, [...(bySku.get(group) ?? []), op]);
    }
    expect(bySku.get("HOT-1")?.length).toBeGreaterThan(0);
    expect(bySku.get("HOT-2")?.length).toBeGreaterThan(0);
    expect(bySku.get("COLD")?.length).toBeGreaterThan(0);
    for (const op of bySku.get("HOT-1") ?? []) {
      expect(op).toMatchObject({ type: "fail", value: { status: 429, error: "rate_limited", attempts: 3 } });
    }
    for (const op of bySku.get("HOT-2") ?? []) {
      expect(op).toMatchObject({ type: "fail", value: { status: 422, error: "unknown_sku", attempts: 1 } });
    }
    for (const op of bySku.get("COLD") ?? []) {
      expect(op).toMatchObject({ type: "info", value: { status: 429, attempts: 3 } });
    }
  });

  it("a 202 is polled until the order is CONFIRMED; one that never resolves is info", async () => {
    const clock = testClock();
    const server = await gateway({
      clock,
      onOrder: (attempt, reply, id) =>
        reply
          .code(202)
          .header("location", `/orders/${id}`)
          .send({ ...order(id, attempt.userId, "RESERVED"), location: `/orders/${id}` }),
      // Odd ids resolve on the third poll; even ids never do.
      stateOnPoll: (id, poll) => (Number(id) % 2 === 1 && poll >= 3 ? "CONFIRMED" : "PAID"),
    });
    const history = new MemoryHistory();
    await workload(server, clock, history, {
      rate: 20,
      durationMs: 500,
      client: { pollIntervalMs: 50, pollGiveUpMs: 800 },
    });
    expectPaired(history.client);
    const done = completionsOf(history.client);
    expect(done).toHaveLength(10);
    for (const op of done) {
      const id = op.value.orderId ?? "";
      if (Number(id) % 2 === 1) {
        expect(op).toMatchObject({
          type: "ok",
          value: { orderId: id, state: "CONFIRMED", status: 202, attempts: 1 },
        });
        expect(server.polls.get(id)).toBe(3);
      } else {
        expect(op).toMatchObject({ type: "info", value: { orderId: id, state: "PAID", status: 202 } });
        expect(op.value.error).toMatch(/not terminal after \d+ ms of polling/);
        expect(op.latencyMs).toBeGreaterThanOrEqual(790);
      }
    }
  });

  it("latency counts from the intended time: requests sent into a 1 s server stall show the remaining stall", async () => {
    const clock = testClock();
    const stall = { start: 500, end: 1500 };
    const server = await gateway({
      clock,
      onOrder: async (attempt, reply, id) => {
        // Requests arriving during the stall are held until it ends, then answered at once.
        if (attempt.at >= stall.start && attempt.at < stall.end) await sleep(stall.end - clock());
        return reply.code(201).send(order(id, attempt.userId, "CONFIRMED"));
      },
    });
    const history = new MemoryHistory();
    await workload(server, clock, history, { rate: 100, durationMs: 2000 });
    expectPaired(history.client);
    const done = completionsOf(history.client);
    expect(done).toHaveLength(200);
    // The lower bound per op is the no-coordinated-omission property. The upper bounds are loose (and
    // on the median), as test machines are shared: answering the burst at the stall's end takes time.
    const during = done.filter((op) => intended(op) > stall.start + 20 && intended(op) < stall.end - 20);
    expect(during.length).toBeGreaterThanOrEqual(90);
    for (const op of during) {
      const remaining = stall.end - intended(op);
      expect(op.latencyMs).toBeGreaterThanOrEqual(remaining - 5);
      expect(op.latencyMs).toBeLessThan(remaining + 2000);
    }
    expect(median(during.map((op) => (op.latencyMs ?? 0) - (stall.end - intended(op))))).toBeLessThan(300);
    const outside = done.filter((op) => intended(op) < stall.start - 50 || intended(op) > stall.end + 300);
    expect(median(outside.map((op) => op.latencyMs ?? 0))).toBeLessThan(100);
  });

  it("latency counts from the intended time even when the client process itself stalls (no coordinated omission)", async () => {
    const clock = testClock();
    const stall = { start: Number.NaN, end: Number.NaN };
    const server = await gateway({
      clock,
      onOrder: (attempt, reply, id) => {
        if (Number.isNaN(stall.start) && attempt.at >= 500) {
          // A 1 s stop-the-world in this process (server and generator alike, like a GC pause or
          // SIGSTOP): nothing can be sent during it.
          stall.start = clock();
          while (clock() < stall.start + 1000) {
            // busy
          }
          stall.end = clock();
        }
        return reply.code(201).send(order(id, attempt.userId, "CONFIRMED"));
      },
    });
    const history = new MemoryHistory();
    await workload(server, clock, history, { rate: 100, durationMs: 2000 });
    expectPaired(history.client);
    const done = completionsOf(history.client);
    // The schedule did not bend: no arrival was skipped or postponed out of existence.
    expect(done).toHaveLength(200);
    const during = done.filter((op) => intended(op) > stall.start + 10 && intended(op) < stall.end - 10);
    expect(during.length).toBeGreaterThanOrEqual(90);
    const sentAt = new Map(history.client.filter((op) => op.type === "invoke").map((op) => [op.id, op.time]));
    for (const op of during) {
      // Nothing could be sent during the stall (a client timing from the send would see only the
      // burst's service time), yet each op is charged from when it should have gone out.
      const remaining = stall.end - intended(op);
      expect(sentAt.get(op.id)).toBeGreaterThanOrEqual(stall.end - 1);
      expect(op.latencyMs).toBeGreaterThanOrEqual(remaining - 5);
      expect(op.latencyMs).toBeLessThan(remaining + 2000);
    }
  });

  it("beyond maxOutstanding an arrival is recorded as info 'client overloaded', neither dropped nor queued", async () => {
    const clock = testClock();
    const server = await gateway({
      clock,
      onOrder: async (attempt, reply, id) => {
        await sleep(300);
        return reply.code(201).send(order(id, attempt.userId, "CONFIRMED"));
      },
    });
    const history = new MemoryHistory();
    const result = await workload(server, clock, history, { rate: 100, durationMs: 500, maxOutstanding: 5 });
    expectPaired(history.client);
    const done = completionsOf(history.client);
    expect(done).toHaveLength(50);
    const overloaded = done.filter((op) => op.value.error === CLIENT_OVERLOADED);
    expect(overloaded.length).toBeGreaterThanOrEqual(30);
    for (const op of overloaded) {
      expect(op.type).toBe("info");
      expect(op.latencyMs).toBeUndefined();
      expect(op.value.attempts).toBe(0);
    }
    expect(server.attempts.length).toBe(50 - overloaded.length);
    expect(result.progress.overloaded).toBe(overloaded.length);
    for (const op of done.filter((op) => op.value.error !== CLIENT_OVERLOADED)) expect(op.type).toBe("ok");
  });

  it("two workloads sharing a history (an overload burst beside the main one) never reuse an op id or key", async () => {
    const clock = testClock();
    const server = await gateway({ clock });
    const history = new MemoryHistory();
    await Promise.all([
      workload(server, clock, history, { rate: 50, durationMs: 400, keyPrefix: "same" }),
      workload(server, clock, history, { rate: 50, durationMs: 400, keyPrefix: "same", seed: 43 }),
    ]);
    expectPaired(history.client);
    const invokes = history.client.filter((op) => op.type === "invoke");
    expect(invokes).toHaveLength(40);
    expect(new Set(invokes.map((op) => op.value.idempotencyKey)).size).toBe(40);
    expect(server.keys.size).toBe(40);
  });

  it("a refused connection is a definite failure for orders and unknown for reads", async () => {
    const clock = testClock();
    const closed = await startFakeGateway({ clock });
    await closed.close(); // its port now refuses connections
    const history = new MemoryHistory();
    await workload(closed, clock, history, {
      rate: 40,
      durationMs: 500,
      mix: { order: 1, "order-read": 0, "catalog-read": 1 },
      client: { maxRetries: 1, backoffBaseMs: 5, backoffMaxMs: 5 },
    });
    expectPaired(history.client);
    for (const op of completionsOf(history.client)) {
      expect(op.value.error).toMatch(/ECONNREFUSED/);
      expect(op.value.attempts).toBe(2);
      expect(op.type).toBe(op.kind === "order" ? "fail" : "info");
    }
  });
});
