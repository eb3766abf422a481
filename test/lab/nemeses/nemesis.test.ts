import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { FaultLink } from "../../../src/lab/faults/link.ts";
import { FaultController } from "../../../src/lab/nemeses/controller.ts";
import { KillNemesis } from "../../../src/lab/nemeses/kill.ts";
import { LinkNemesis } from "../../../src/lab/nemeses/link.ts";
import { resetConnections } from "../../../src/lab/nemeses/link-ops.ts";
import { NemesisLog } from "../../../src/lab/nemeses/log.ts";
import { BaseNemesis, NemesisError, type NemesisEvent } from "../../../src/lab/nemeses/nemesis.ts";
import { NemesisSpecError, parseDuration, parseNemesisSpec } from "../../../src/lab/nemeses/spec.ts";
import { sleep, startEchoServer, TestClient, type TestServer, tryConnect } from "../faults/support.ts";

/** A nemesis over an in-memory flag, recording what it was asked to do. */
class FlagNemesis extends BaseNemesis {
  readonly name: string;
  on = false;
  calls: string[] = [];
  failInject = false;
  failHeal = false;

  constructor(name: string, options: { stopAfterMs?: number } = {}) {
    super(options);
    this.name = name;
  }

  describe(): string {
    return `flag ${this.name}`;
  }

  protected async inject() {
    this.calls.push("inject");
    if (this.failInject) throw new Error("boom");
    this.on = true;
    return { on: true };
  }

  protected async heal() {
    this.calls.push("heal");
    if (this.failHeal) throw new Error("stuck");
    this.on = false;
    return { on: false };
  }
}

describe("BaseNemesis", () => {
  it("is idempotent: a second start or stop is a no-op that says so, and nothing is done twice", async () => {
    const nemesis = new FlagNemesis("a");
    const events: NemesisEvent[] = [];
    nemesis.onEvent((e) => events.push(e));
    const before = Date.now();
    const started = await nemesis.start();
    expect(started).toMatchObject({ nemesis: "a", action: "start", detail: { on: true } });
    expect(started.at).toBeGreaterThanOrEqual(before);
    expect(typeof started.detail.tookMs).toBe("number");
    expect((await nemesis.start()).detail).toMatchObject({ noop: true, reason: "already active" });
    expect(nemesis.active).toBe(true);
    await nemesis.stop();
    expect((await nemesis.stop()).detail).toMatchObject({ noop: true, reason: "not active" });
    expect(nemesis.calls).toEqual(["inject", "heal"]);
    expect(events.map((e) => `${e.action}${e.detail.noop ? "-noop" : ""}`)).toEqual([
      "start",
      "start-noop",
      "stop",
      "stop-noop",
    ]);
  });

  it("serialises concurrent actions in call order", async () => {
    const nemesis = new FlagNemesis("b");
    const results = await Promise.all([nemesis.start(), nemesis.stop(), nemesis.start(), nemesis.start()]);
    expect(results.map((e) => `${e.action}${e.detail.noop ? "-noop" : ""}`)).toEqual([
      "start",
      "stop",
      "start",
      "start-noop",
    ]);
    expect(nemesis.calls).toEqual(["inject", "heal", "inject"]);
    await nemesis.stop();
  });

  it("logs a failed start with the error, stays active, and lets stop undo it", async () => {
    const nemesis = new FlagNemesis("c");
    nemesis.failInject = true;
    const error = await nemesis.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NemesisError);
    expect((error as NemesisError).event).toMatchObject({ action: "start", detail: { error: "boom" } });
    expect(nemesis.active).toBe(true);
    await nemesis.stop();
    expect(nemesis.calls).toEqual(["inject", "heal"]);
    expect(nemesis.active).toBe(false);
  });

  it("stops itself after stopAfterMs, with an event saying the timer did it", async () => {
    const nemesis = new FlagNemesis("d", { stopAfterMs: 50 });
    const events: NemesisEvent[] = [];
    nemesis.onEvent((e) => events.push(e));
    await nemesis.start();
    await sleep(150);
    expect(nemesis.active).toBe(false);
    expect(events.at(-1)).toMatchObject({ action: "stop", detail: { trigger: "timer", on: false } });
    // A stop before the timer cancels it: no second heal.
    const early = new FlagNemesis("e", { stopAfterMs: 50 });
    await early.start();
    await early.stop();
    await sleep(100);
    expect(early.calls).toEqual(["inject", "heal"]);
  });
});

describe("NemesisLog and FaultController", () => {
  it("draws fault windows from start/stop pairs, ignoring no-ops", () => {
    const log = new NemesisLog();
    const ev = (nemesis: string, action: "start" | "stop", at: number, detail = {}) =>
      log.record({ nemesis, action, at, detail });
    ev("kill x", "start", 100);
    ev("kill x", "start", 150, { noop: true });
    ev("latency y", "start", 200);
    ev("kill x", "stop", 300);
    ev("kill x", "start", 400, { error: "boom" });
    expect(log.windows()).toEqual([
      { nemesis: "kill x", start: 100, end: 300, failed: false, startDetail: {}, stopDetail: {} },
      { nemesis: "latency y", start: 200, end: null, failed: false, startDetail: {}, stopDetail: null },
      {
        nemesis: "kill x",
        start: 400,
        end: null,
        failed: true,
        startDetail: { error: "boom" },
        stopDetail: null,
      },
    ]);
  });

  it("logs every event of its nemeses and stopAll stops the active ones, newest first, despite failures", async () => {
    const controller = new FaultController();
    const a = controller.add(new FlagNemesis("a"));
    const b = controller.add(new FlagNemesis("b"));
    const c = controller.add(new FlagNemesis("c"));
    const order: string[] = [];
    for (const n of [a, b, c]) n.onEvent((e) => e.action === "stop" && order.push(n.name));
    await controller.start(a);
    await controller.start(b);
    b.failHeal = true;
    expect(controller.active().map((n) => n.name)).toEqual(["a", "b"]);
    const error = await controller.stopAll().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AggregateError);
    expect((error as AggregateError).message).toMatch(/b: stop failed: stuck/);
    expect(order).toEqual(["b", "a"]);
    expect(a.on).toBe(false);
    b.failHeal = false;
    expect(await controller.stopAll()).toHaveLength(1);
    expect(controller.active()).toEqual([]);
    expect(controller.log.events().map((e) => `${e.nemesis}:${e.action}`)).toEqual([
      "a:start",
      "b:start",
      "b:stop",
      "a:stop",
      "b:stop",
    ]);
  });

  it("run() heals everything even when the body throws", async () => {
    const controller = new FaultController();
    const a = new FlagNemesis("a");
    await expect(
      controller.run(async (faults) => {
        await faults.start(a);
        throw new Error("experiment crashed");
      }),
    ).rejects.toThrow("experiment crashed");
    expect(a.on).toBe(false);
  });

  it("kill: restarts on stop, or by itself after restartAfterMs", async () => {
    let pid: number | undefined = 41;
    const process = {
      get pid() {
        return pid;
      },
      kill: async () => {
        pid = undefined;
      },
      restart: async () => {
        pid = 42;
      },
    };
    const kill = new KillNemesis({ name: "east/inventory", process }, { restartAfterMs: 30 });
    expect(kill.describe()).toBe("kill -9 east/inventory; restart it after 30 ms");
    expect((await kill.start()).detail).toMatchObject({ pid: 41, signal: "SIGKILL" });
    expect(pid).toBeUndefined();
    await sleep(100);
    expect(pid).toBe(42);
    expect(kill.active).toBe(false);
  });
});

describe("nemesis specs", () => {
  it("parses durations", () => {
    expect(parseDuration("5s")).toBe(5_000);
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("1.5m")).toBe(90_000);
    expect(parseDuration(40)).toBe(40);
    expect(parseDuration("soon")).toBeUndefined();
    expect(parseDuration(-1)).toBeUndefined();
  });

  it("accepts an experiment file's fault entry as it is, durations in ms, defaults filled in", () => {
    expect(
      parseNemesisSpec({ at: "10s", action: "kill", target: "east/inventory", restartAfter: "5s" }),
    ).toEqual({
      at: 10_000,
      action: "kill",
      target: "east/inventory",
      restartAfter: 5_000,
    });
    expect(
      parseNemesisSpec({ action: "latency", target: "east/order->primary", latencyMs: 100 }),
    ).toMatchObject({
      latencyMs: 100,
      jitterMs: 0,
      direction: "downstream",
      toxicity: 1,
    });
    expect(parseNemesisSpec({ action: "replica-lag", target: "east" })).toMatchObject({
      mode: "replay-pause",
    });
  });

  it.each([
    [{ action: "explode", target: "east" }, "action"],
    [{ action: "kill" }, "target"],
    [{ action: "kill", target: "east/inventory", restartAfter: "soon" }, "restartAfter"],
    [{ action: "kill", target: "east/inventory", restartAftr: "5s" }, "restartAftr"],
    [{ action: "kill", target: "east/inventory", restartAfter: "5s", duration: "5s" }, "restartAfter"],
    [{ action: "latency", target: "east/order->primary" }, "latencyMs"],
    [{ action: "latency", target: "east/order->primary", latencyMs: 5, direction: "sideways" }, "direction"],
    [
      { action: "toxic", target: "l", type: "latency", direction: "both", attributes: { latencyMs: -1 } },
      "attributes.latencyMs",
    ],
    [{ action: "replica-lag", target: "east", mode: "link" }, "latencyMs"],
    [{ action: "replica-lag", target: "east", rateKBps: 10 }, "rateKBps"],
    [{ action: "payment", target: "east" }, "spec"],
    [{ action: "payment", target: "east", errorRate: 2 }, "errorRate"],
    [{ action: "cpu-burn", target: "east/order", duty: 0.5 }, "duration"],
    [{ action: "cpu-burn", target: "east/order", duration: "1s", duty: 0 }, "duty"],
    [{ action: "clock-offset", target: "east/order", offsetMs: 1.5 }, "offsetMs"],
  ])("rejects %j naming %s", (spec, field) => {
    const error = (() => {
      try {
        parseNemesisSpec(spec);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(NemesisSpecError);
    expect((error as NemesisSpecError).field).toBe(field);
    expect((error as NemesisSpecError).message.startsWith(`${field}: `)).toBe(true);
  });
});

describe("link nemeses on a real fault link", () => {
  let echo: TestServer;
  let link: FaultLink;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    echo = await startEchoServer();
    link = await FaultLink.start({
      name: "east/order->primary",
      upstream: { host: "127.0.0.1", port: echo.port },
    });
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await link.heal();
  });
  afterAll(async () => {
    await link.close();
    await echo.close();
  });

  async function roundTrip(c: TestClient): Promise<number> {
    const started = performance.now();
    const before = c.received;
    c.send("ping");
    await c.waitForBytes(before + 4, 5_000);
    return performance.now() - started;
  }

  async function client(): Promise<TestClient> {
    const c = await TestClient.connect(link.port);
    clients.push(c);
    return c;
  }

  it("latency: start adds exactly its toxic, stop removes exactly it", async () => {
    const other = link.addToxic({ type: "latency", direction: "upstream", attributes: { latencyMs: 1 } });
    const latency = new LinkNemesis(link, {
      kind: "toxic",
      toxic: { type: "latency", direction: "downstream", attributes: { latencyMs: 150 } },
    });
    const c = await client();
    expect(await roundTrip(c)).toBeLessThan(100);
    await latency.start();
    expect(link.toxics()).toHaveLength(2);
    expect(await roundTrip(c)).toBeGreaterThanOrEqual(140);
    await latency.stop();
    expect(link.toxics().map((t) => t.id)).toEqual([other]);
    expect(await roundTrip(c)).toBeLessThan(100);
  });

  it("partition and down: stop heals only that fault and keeps another nemesis' toxic (which it can still remove)", async () => {
    const slow = new LinkNemesis(link, {
      kind: "toxic",
      toxic: { type: "latency", direction: "both", attributes: { latencyMs: 20 } },
    });
    const partition = new LinkNemesis(link, { kind: "partition", direction: "both" });
    const down = new LinkNemesis(link, { kind: "down" });
    await slow.start();
    await partition.start();
    expect(link.status().partition?.direction).toBe("both");
    await partition.stop();
    expect(link.status().partition).toBeNull();
    expect(link.toxics()).toHaveLength(2);

    await down.start();
    expect(await tryConnect(link.port)).toBe("ECONNREFUSED");
    await down.stop();
    expect(await tryConnect(link.port)).toBe("connected");
    expect(link.toxics()).toHaveLength(2);

    // The toxics were re-added under new ids; the owner's stop still finds them.
    const stopped = await slow.stop();
    expect(stopped.detail).toMatchObject({ removed: expect.any(Array) });
    expect(stopped.detail.missing).toBeUndefined();
    expect(link.toxics()).toEqual([]);
  });

  it("resetConnections cuts open connections so clients reconnect to the current upstream", async () => {
    const second = await startEchoServer();
    try {
      const c = await client();
      await roundTrip(c);
      link.setUpstream({ host: "127.0.0.1", port: second.port });
      await roundTrip(c); // setUpstream alone leaves the open connection where it was
      expect(second.accepted).toBe(0);
      expect((await resetConnections(link)).reset).toBe(1);
      await c.waitClosed();
      await roundTrip(await client());
      expect(second.accepted).toBe(1);
    } finally {
      link.setUpstream({ host: "127.0.0.1", port: echo.port });
      await second.close();
    }
  });
});
