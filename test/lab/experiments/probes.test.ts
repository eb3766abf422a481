// The lab's readiness prober against real HTTP servers: ready, unready, unreachable, and a hung one.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startProber } from "../../../src/lab/experiments/probes.ts";
import type { ProbeOp } from "../../../src/lab/history/op.ts";

const servers: Server[] = [];
async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

let unready: string;
let hung: string;
beforeAll(async () => {
  unready = await serve((request, response) => {
    response.statusCode = request.url === "/readyz" ? 503 : 200;
    response.end("{}");
  });
  hung = await serve(() => {}); // never answers
});
afterAll(() => {
  for (const server of servers) server.closeAllConnections();
  for (const server of servers) server.close();
});

it("samples /healthz and /readyz of every target, and does not pile up probes on a hung one", async () => {
  const ops: ProbeOp[] = [];
  const t0 = performance.now();
  const stop = startProber({
    targets: [
      { service: "east/order", url: unready },
      { service: "east/inventory", url: hung },
      { service: "gateway", url: "http://127.0.0.1:9" }, // nothing listens: refused
    ],
    record: (op) => ops.push(op),
    clock: () => performance.now() - t0,
    intervalMs: 50,
    timeoutMs: 300,
  });
  await new Promise((resolve) => setTimeout(resolve, 500));
  await stop();
  const seen = (service: string, endpoint: string) =>
    ops.filter((op) => op.service === service && op.endpoint === endpoint);
  expect(new Set(seen("east/order", "healthz").map((op) => op.status))).toEqual(new Set(["up"]));
  expect(seen("east/order", "readyz").every((op) => op.status === "down" && op.httpStatus === 503)).toBe(
    true,
  );
  expect(seen("east/order", "readyz").length).toBeGreaterThanOrEqual(5);
  expect(seen("gateway", "readyz").every((op) => op.status === "unreachable")).toBe(true);
  // One probe per timeout, not one per tick.
  const stuck = seen("east/inventory", "readyz");
  expect(stuck.every((op) => op.status === "unreachable")).toBe(true);
  expect(stuck.length).toBeGreaterThanOrEqual(1);
  expect(stuck.length).toBeLessThanOrEqual(3);
  const count = ops.length;
  await new Promise((resolve) => setTimeout(resolve, 150));
  expect(ops.length).toBe(count); // stopped
});
