import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import { FaultLink } from "../../../src/lab/faults/link.ts";
import type { ToxicSpecInput } from "../../../src/lab/faults/spec.ts";
import { sleep, startEchoServer, TestClient, type TestServer } from "./support.ts";

let echo: TestServer;
let link: FaultLink;

beforeAll(async () => {
  echo = await startEchoServer();
  link = await FaultLink.start({ name: "property", upstream: { host: "127.0.0.1", port: echo.port } });
});
afterAll(async () => {
  await link.close();
  await echo.close();
});

const direction = fc.constantFrom("upstream" as const, "downstream" as const);
/** Toxics that hold or repackage bytes but never end the connection. */
const toxic: fc.Arbitrary<ToxicSpecInput> = fc.oneof(
  fc.record({
    type: fc.constant("latency" as const),
    direction,
    attributes: fc.record({
      latencyMs: fc.integer({ min: 0, max: 40 }),
      jitterMs: fc.integer({ min: 0, max: 20 }),
    }),
  }),
  fc.record({
    type: fc.constant("bandwidth" as const),
    direction,
    attributes: fc.record({ rateKBps: fc.integer({ min: 50, max: 5_000 }) }),
  }),
  fc.record({
    type: fc.constant("slicer" as const),
    direction,
    attributes: fc.record({
      averageSize: fc.integer({ min: 50, max: 2_000 }),
      delayUs: fc.integer({ min: 0, max: 3_000 }),
    }),
  }),
  fc.record({ type: fc.constant("timeout" as const), direction, attributes: fc.constant({ timeoutMs: 0 }) }),
);

/** A step: write some bytes, add a toxic, remove the oldest toxic still on, or wait a little. */
const step = fc.oneof(
  fc.record({ kind: fc.constant("write" as const), bytes: fc.integer({ min: 1, max: 40_000 }) }),
  fc.record({ kind: fc.constant("add" as const), spec: toxic }),
  fc.record({ kind: fc.constant("remove" as const), index: fc.nat() }),
  fc.record({ kind: fc.constant("wait" as const), ms: fc.integer({ min: 0, max: 30 }) }),
);

it("whatever toxics come and go, and in whatever order, the echo is exactly what was sent", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 5, maxLength: 30 }), async (steps) => {
      const client = await TestClient.connect(link.port);
      const sent: Buffer[] = [];
      let counter = 0;
      const ids: string[] = [];
      try {
        for (const s of steps) {
          if (s.kind === "write") {
            const data = Buffer.alloc(s.bytes);
            for (let i = 0; i < data.length; i++) data[i] = (counter++ * 31) & 0xff;
            sent.push(data);
            client.send(data);
          } else if (s.kind === "add") {
            ids.push(link.addToxic(s.spec));
          } else if (s.kind === "remove" && ids.length > 0) {
            const [id] = ids.splice(s.index % ids.length, 1);
            if (id) link.removeToxic(id);
          } else if (s.kind === "wait") {
            await sleep(s.ms);
          }
        }
        await link.heal();
        const expected = Buffer.concat(sent);
        await client.waitForBytes(expected.length, 20_000);
        await sleep(20);
        expect(client.received).toBe(expected.length);
        expect(client.data().equals(expected)).toBe(true);
      } finally {
        client.destroy();
        await link.heal();
      }
    }),
    { numRuns: 25 },
  );
});
