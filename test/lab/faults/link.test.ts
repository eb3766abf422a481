import { createHash, randomBytes } from "node:crypto";
import net, { type Socket } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { FaultLink } from "../../../src/lab/faults/link.ts";
import type { ToxicSpecInput } from "../../../src/lab/faults/spec.ts";
import {
  eventually,
  sha256,
  sleep,
  startEchoServer,
  startServer,
  TestClient,
  type TestServer,
  tryConnect,
} from "./support.ts";

let echo: TestServer;
const links: FaultLink[] = [];
const clients: TestClient[] = [];

async function link(upstreamPort = echo.port): Promise<FaultLink> {
  const started = await FaultLink.start({
    name: "test",
    upstream: { host: "127.0.0.1", port: upstreamPort },
  });
  links.push(started);
  return started;
}

async function client(port: number): Promise<TestClient> {
  const connected = await TestClient.connect(port);
  clients.push(connected);
  return connected;
}

/** Sends `message` and waits for its echo; resolves with the round trip in ms. */
async function roundTrip(c: TestClient, message = "ping", timeoutMs = 5_000): Promise<number> {
  const started = performance.now();
  const before = c.received;
  c.send(message);
  await c.waitForBytes(before + Buffer.byteLength(message), timeoutMs);
  return performance.now() - started;
}

beforeAll(async () => {
  echo = await startEchoServer();
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await Promise.all(links.splice(0).map((l) => l.close()));
});
afterAll(async () => {
  await echo.close();
});

describe("no toxic", () => {
  it("echoes a few MB of random data byte for byte", async () => {
    const l = await link();
    const c = await client(l.port);
    const data = randomBytes(4 * 1024 * 1024);
    for (let offset = 0; offset < data.length; offset += 100_000)
      c.send(data.subarray(offset, offset + 100_000));
    await c.waitForBytes(data.length, 30_000);
    expect(c.received).toBe(data.length);
    expect(sha256(c.data())).toBe(sha256(data));
    const stats = l.stats();
    expect(stats.upstream.bytesWritten).toBe(data.length);
    expect(stats.downstream.bytesWritten).toBe(data.length);
    expect(stats.connections).toMatchObject({ open: 1, total: 1 });
  });

  it("carries independent streams both ways at once, then passes each half-close", async () => {
    const down = randomBytes(3 * 1024 * 1024);
    let serverHash = "";
    let serverBytes = 0;
    const server = await startServer((socket: Socket) => {
      const hash = createHash("sha256");
      socket.on("data", (chunk: Buffer) => {
        hash.update(chunk);
        serverBytes += chunk.length;
      });
      socket.on("end", () => {
        serverHash = hash.digest("hex");
        socket.end(down);
      });
    });
    try {
      const l = await link(server.port);
      const c = await TestClient.connect(l.port, { allowHalfOpen: true });
      clients.push(c);
      const up = randomBytes(3 * 1024 * 1024);
      c.socket.end(up);
      await c.waitEnded(30_000);
      expect(serverBytes).toBe(up.length);
      expect(serverHash).toBe(sha256(up));
      expect(sha256(c.data())).toBe(sha256(down));
      await eventually(() => l.stats().connections.open === 0, 5_000, "connection to close");
    } finally {
      await server.close();
    }
  });

  it("sends new connections to a repointed upstream and keeps open ones where they were", async () => {
    const other = await startServer((socket) => socket.on("data", (d: Buffer) => socket.write(`other:${d}`)));
    try {
      const l = await link();
      const before = await client(l.port);
      l.setUpstream({ host: "127.0.0.1", port: other.port });
      expect(l.upstream.port).toBe(other.port);
      const after = await client(l.port);
      await roundTrip(before, "a");
      after.send("b");
      await after.waitForBytes("other:b".length);
      expect(before.data().toString()).toBe("a");
      expect(after.data().toString()).toBe("other:b");
    } finally {
      await other.close();
    }
  });

  it("resets the client when the upstream refuses", async () => {
    const closed = await startEchoServer();
    const port = closed.port;
    await closed.close();
    const l = await link(port);
    const c = await client(l.port);
    await c.waitClosed();
    expect(c.error?.code).toBe("ECONNRESET");
    expect(l.stats().connections.upstreamErrors).toBe(1);
  });
});

describe("partition", () => {
  it("passes no bytes either way while connections stay open; heal restores new and idle connections", async () => {
    const l = await link();
    const idle = await client(l.port);
    const busy = await client(l.port);
    await roundTrip(busy, "before");
    l.partition({ direction: "both" });
    const fresh = await client(l.port);
    busy.send("lost");
    fresh.send("lost too");
    await sleep(300);
    expect(busy.received).toBe("before".length);
    expect(fresh.received).toBe(0);
    expect(busy.closed || fresh.closed || idle.closed).toBe(false);
    expect(l.stats().upstream.bytesDropped).toBe("lost".length + "lost too".length);
    expect(l.status().partition?.direction).toBe("both");

    await l.heal();
    expect(l.status().partition).toBeNull();
    // Connections that lost bytes are reset (a stream with a hole is not TCP); idle ones carry on.
    await busy.waitClosed();
    await fresh.waitClosed();
    expect(busy.error?.code).toBe("ECONNRESET");
    await roundTrip(idle, "still here");
    await roundTrip(await client(l.port), "new");
  });

  it("one way blocks only that direction", async () => {
    const l = await link();
    const c = await client(l.port);
    l.partition({ direction: "downstream" });
    c.send("x".repeat(1000));
    await eventually(() => l.stats().upstream.bytesWritten === 1000, 5_000, "upstream bytes to pass");
    await sleep(200);
    expect(c.received).toBe(0);
    expect(l.stats().downstream.bytesDropped).toBe(1000);

    l.partition({ direction: "upstream" });
    const server = await startServer((socket) => socket.write("hello from the server"));
    try {
      l.setUpstream({ host: "127.0.0.1", port: server.port });
      const d = await client(l.port);
      await d.waitForBytes("hello from the server".length);
      const before = l.stats().upstream.bytesWritten;
      d.send("swallowed");
      await sleep(200);
      expect(l.stats().upstream.bytesWritten).toBe(before);
      expect(l.stats().upstream.bytesDropped).toBe("swallowed".length);
      expect(d.closed).toBe(false);
    } finally {
      await server.close();
    }
  });
});

describe("down", () => {
  it("refuses new connections and cuts open ones; heal listens again on the same port", async () => {
    const l = await link();
    const port = l.port;
    const c = await client(port);
    await roundTrip(c);
    await l.down();
    await c.waitClosed();
    expect(c.error?.code).toBe("ECONNRESET");
    expect(await tryConnect(port)).toBe("ECONNREFUSED");
    expect(l.status().down).not.toBeNull();

    await l.heal();
    expect(l.port).toBe(port);
    expect(l.status().down).toBeNull();
    await roundTrip(await client(port));
  });
});

describe("down, while something else holds the port", () => {
  it("heal waits for the port to come free rather than moving the link", async () => {
    const l = await link();
    const port = l.port;
    await l.down();
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(port, "127.0.0.1", resolve));
    setTimeout(() => squatter.close(), 300);
    await l.heal();
    expect(l.port).toBe(port);
    await roundTrip(await client(port));
  });
});

describe("switching between the fast path and toxics on a live connection", () => {
  it("loses and reorders nothing while toxics come and go mid-stream", async () => {
    const l = await link();
    const c = await client(l.port);
    const data = randomBytes(6 * 1024 * 1024);
    let sent = 0;
    const pump = async () => {
      while (sent < data.length) {
        const piece = data.subarray(sent, sent + 32 * 1024);
        sent += piece.length;
        if (!c.socket.write(piece)) await new Promise((resolve) => c.socket.once("drain", resolve));
        // Paced, so the stream spans many churn rounds however fast the machine is.
        if (sent % (256 * 1024) === 0) await sleep(10);
      }
    };
    const churn = async () => {
      const specs: ToxicSpecInput[] = [
        { type: "latency", direction: "upstream", attributes: { latencyMs: 5, jitterMs: 5 } },
        { type: "latency", direction: "downstream", attributes: { latencyMs: 10 } },
        { type: "slicer", direction: "downstream", attributes: { averageSize: 700, sizeVariation: 300 } },
        { type: "bandwidth", direction: "upstream", attributes: { rateKBps: 20_000 } },
        { type: "timeout", direction: "upstream", attributes: { timeoutMs: 0 } },
      ];
      let i = 0;
      while (c.received < data.length) {
        const pick = (k: number) => specs[k % specs.length] as ToxicSpecInput;
        const ids = [l.addToxic(pick(i)), l.addToxic(pick(i + 2))];
        await sleep(15);
        for (const id of ids) l.removeToxic(id);
        await sleep(5);
        i += 1;
      }
      return i;
    };
    const [, rounds] = await Promise.all([pump(), churn(), c.waitForBytes(data.length, 60_000)]);
    expect(rounds).toBeGreaterThan(3);
    expect(c.received).toBe(data.length);
    expect(sha256(c.data())).toBe(sha256(data));
  });

  it("delivers in order what a removed latency toxic still held", async () => {
    const l = await link();
    const c = await client(l.port);
    const id = l.addToxic({ type: "latency", direction: "downstream", attributes: { latencyMs: 10_000 } });
    for (let i = 0; i < 50; i++) c.send(`${i.toString().padStart(3, "0")},`);
    await eventually(() => l.stats().downstream.bytesRead === 200, 5_000, "echo to reach the link");
    expect(c.received).toBe(0);
    l.removeToxic(id);
    c.send("tail");
    await c.waitForBytes(204);
    const expected = `${Array.from({ length: 50 }, (_, i) => `${i.toString().padStart(3, "0")},`).join("")}tail`;
    expect(c.data().toString()).toBe(expected);
  });
});
