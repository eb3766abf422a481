import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { FaultLink } from "../../../src/lab/faults/link.ts";
import type { ToxicSpecInput } from "../../../src/lab/faults/spec.ts";
import { sleep, startEchoServer, TestClient, type TestServer, timed } from "./support.ts";

let echo: TestServer;
let link: FaultLink;
const clients: TestClient[] = [];

async function client(options: { allowHalfOpen?: boolean } = {}): Promise<TestClient> {
  const connected = await TestClient.connect(link.port, options);
  clients.push(connected);
  return connected;
}

/** Sends `message` and waits for its echo; resolves with the round trip in ms. */
async function roundTrip(c: TestClient, message = "ping", timeoutMs = 10_000): Promise<number> {
  const before = c.received;
  return timed(async () => {
    c.send(message);
    await c.waitForBytes(before + Buffer.byteLength(message), timeoutMs);
  });
}

const add = (spec: ToxicSpecInput) => link.addToxic(spec);

beforeAll(async () => {
  echo = await startEchoServer();
  link = await FaultLink.start({ name: "toxics", upstream: { host: "127.0.0.1", port: echo.port } });
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await link.heal();
});
afterAll(async () => {
  await link.close();
  await echo.close();
});

describe("latency", () => {
  it("adds at least the latency to every round trip, and not much more", async () => {
    const c = await client();
    const baseline = await roundTrip(c);
    add({ type: "latency", direction: "downstream", attributes: { latencyMs: 100 } });
    const c2 = await client();
    const trips = [];
    for (let i = 0; i < 5; i++) trips.push(await roundTrip(c2));
    for (const trip of trips) expect(trip).toBeGreaterThanOrEqual(100);
    expect(trips.sort((a, b) => a - b)[2]).toBeLessThan(400);
    // Applies to connections that were already open too.
    expect(await roundTrip(c)).toBeGreaterThanOrEqual(100);
    expect(baseline).toBeLessThan(100);
  });

  it("adds both directions' latency, within the jitter", async () => {
    add({ type: "latency", direction: "upstream", attributes: { latencyMs: 60, jitterMs: 20 } });
    add({ type: "latency", direction: "downstream", attributes: { latencyMs: 60, jitterMs: 20 } });
    const c = await client();
    for (let i = 0; i < 5; i++) expect(await roundTrip(c)).toBeGreaterThanOrEqual(80);
  });
});

describe("bandwidth", () => {
  it("50 KB/s makes 100 KB take at least 1.6 s", async () => {
    add({ type: "bandwidth", direction: "upstream", attributes: { rateKBps: 50 } });
    const c = await client();
    const elapsed = await roundTrip(c, "b".repeat(100_000), 20_000);
    expect(elapsed).toBeGreaterThanOrEqual(1_600);
    expect(elapsed).toBeLessThan(8_000);
    expect(c.data().toString()).toBe("b".repeat(100_000));
  });
});

describe("capacity", () => {
  it("shares 50 KB/s among connections: two sending 50 KB each take at least 1.6 s together", async () => {
    add({ type: "capacity", direction: "upstream", attributes: { rateKBps: 50 } });
    const [a, b] = await Promise.all([client(), client()]);
    if (!a || !b) throw new Error("no clients");
    const elapsed = await timed(() =>
      Promise.all([roundTrip(a, "a".repeat(50_000), 20_000), roundTrip(b, "b".repeat(50_000), 20_000)]),
    );
    expect(elapsed).toBeGreaterThanOrEqual(1_600);
    expect(elapsed).toBeLessThan(8_000);
    expect(a.data().toString()).toBe("a".repeat(50_000));
    expect(b.data().toString()).toBe("b".repeat(50_000));
  });

  it("does not slow one connection below the capacity", async () => {
    add({ type: "capacity", direction: "upstream", attributes: { rateKBps: 50 } });
    const c = await client();
    expect(await roundTrip(c, "c".repeat(10_000))).toBeLessThan(1_000);
  });
});

describe("timeout", () => {
  it("stalls, then closes the connection after timeoutMs", async () => {
    const c = await client();
    await roundTrip(c);
    const added = performance.now();
    add({ type: "timeout", direction: "upstream", attributes: { timeoutMs: 200 } });
    c.send("stalled");
    await c.waitClosed(5_000);
    const after = performance.now() - added;
    expect(after).toBeGreaterThanOrEqual(190);
    expect(after).toBeLessThan(3_000);
    expect(c.received).toBe(4);
    expect(c.error).toBeUndefined(); // a close (FIN), not a reset
  });

  it("with 0 stalls until removed, then delivers what it held and lets data flow", async () => {
    const c = await client();
    const id = add({ type: "timeout", direction: "upstream", attributes: { timeoutMs: 0 } });
    c.send("held,");
    await sleep(500);
    expect(c.received).toBe(0);
    expect(c.closed).toBe(false);
    link.removeToxic(id);
    await c.waitForBytes(5);
    await roundTrip(c, "flowing");
    expect(c.data().toString()).toBe("held,flowing");
  });
});

describe("reset_peer", () => {
  it("passes data, then resets the connection (ECONNRESET on the client)", async () => {
    add({ type: "reset_peer", direction: "downstream", attributes: { timeoutMs: 300 } });
    const started = performance.now();
    const c = await client();
    await roundTrip(c);
    await c.waitClosed(5_000);
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
    expect(c.error?.code).toBe("ECONNRESET");
  });
});

describe("limit_data", () => {
  it("closes the connection after the given number of bytes", async () => {
    add({ type: "limit_data", direction: "downstream", attributes: { bytes: 1000 } });
    const c = await client();
    c.send("x".repeat(3000));
    await c.waitClosed(5_000);
    expect(c.received).toBe(1000);
    expect(c.ended).toBe(true);
  });
});

describe("closing toxics followed by others", () => {
  it("limit_data then latency: the bytes before the limit still arrive, late, then the close", async () => {
    add({ type: "limit_data", direction: "downstream", attributes: { bytes: 1000 } });
    add({ type: "latency", direction: "downstream", attributes: { latencyMs: 200 } });
    const c = await client();
    const elapsed = await timed(async () => {
      c.send("y".repeat(3000));
      await c.waitClosed(5_000);
    });
    expect(c.received).toBe(1000);
    expect(c.ended).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(200);
  });
});

describe("slicer", () => {
  it("delivers the same bytes in more, smaller chunks", async () => {
    const data = Buffer.from(Array.from({ length: 20_000 }, (_, i) => i % 251));
    const plain = await client();
    plain.send(data);
    await plain.waitForBytes(data.length);
    add({
      type: "slicer",
      direction: "downstream",
      attributes: { averageSize: 100, sizeVariation: 50, delayUs: 1000 },
    });
    const sliced = await client();
    sliced.send(data);
    await sliced.waitForBytes(data.length);
    expect(sliced.data().equals(data)).toBe(true);
    expect(sliced.chunks.length).toBeGreaterThanOrEqual(20);
    expect(sliced.chunks.length).toBeGreaterThan(plain.chunks.length);
    expect(Math.max(...sliced.chunks.map((chunk) => chunk.length))).toBeLessThan(data.length);
  });
});

describe("slow_close", () => {
  it("forwards the FIN late", async () => {
    add({ type: "slow_close", direction: "downstream", attributes: { delayMs: 300 } });
    const c = await client({ allowHalfOpen: true });
    await roundTrip(c);
    const elapsed = await timed(async () => {
      c.socket.end();
      await c.waitEnded(5_000);
    });
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(3_000);
  });
});

describe("toxicity", () => {
  async function tripsWith(toxicity: number, connections: number): Promise<number[]> {
    add({ type: "latency", direction: "downstream", toxicity, attributes: { latencyMs: 200 } });
    const opened = await Promise.all(Array.from({ length: connections }, () => client()));
    return Promise.all(opened.map((c) => roundTrip(c)));
  }

  it("0 never applies", async () => {
    for (const trip of await tripsWith(0, 20)) expect(trip).toBeLessThan(200);
  });

  it("1 always applies", async () => {
    for (const trip of await tripsWith(1, 20)) expect(trip).toBeGreaterThanOrEqual(200);
  });

  it("in between applies to some connections and not others, decided once per connection", async () => {
    add({ type: "latency", direction: "downstream", toxicity: 0.5, attributes: { latencyMs: 600 } });
    const opened = await Promise.all(Array.from({ length: 40 }, () => client()));
    const first = await Promise.all(opened.map((c) => roundTrip(c)));
    const second = await Promise.all(opened.map((c) => roundTrip(c)));
    const slow = first.map((trip) => trip >= 600);
    expect(slow.filter(Boolean).length).toBeGreaterThan(0);
    expect(slow.filter((s) => !s).length).toBeGreaterThan(0);
    // The same connections are slow the second time: the decision is per connection, not per chunk.
    expect(second.map((trip) => trip >= 600)).toEqual(slow);
  });
});

describe("removing toxics", () => {
  it("lists toxics with their start times and removes them", async () => {
    const before = Date.now();
    const id = add({ type: "latency", direction: "upstream", attributes: { latencyMs: 10 } });
    const [listed] = link.toxics();
    expect(listed).toMatchObject({ id, type: "latency", direction: "upstream", toxicity: 1 });
    expect(listed?.attributes).toEqual({ latencyMs: 10, jitterMs: 0 });
    expect(listed?.startedAt).toBeGreaterThanOrEqual(before);
    expect(link.removeToxic(id)).toBe(true);
    expect(link.removeToxic(id)).toBe(false);
    expect(link.toxics()).toEqual([]);
  });

  it("a bandwidth toxic removed mid-transfer lets the rest through at once, intact", async () => {
    const id = add({ type: "bandwidth", direction: "upstream", attributes: { rateKBps: 10 } });
    const c = await client();
    const data = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7) % 256));
    c.send(data);
    await sleep(300);
    expect(c.received).toBeLessThan(20_000);
    link.removeToxic(id);
    await c.waitForBytes(data.length, 5_000);
    expect(c.data().equals(data)).toBe(true);
  });
});
