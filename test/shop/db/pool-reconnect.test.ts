import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FaultLink } from "../../../src/lab/faults/index.ts";
import { resetConnections } from "../../../src/lab/nemeses/link-ops.ts";
import { createPool, type Db, reconnectBackoff } from "../../../src/shop/db/pool.ts";
import { startTestDatabase, type TestDatabase } from "../../support/postgres.ts";

let database: TestDatabase;

beforeAll(async () => {
  database = await startTestDatabase();
});

afterAll(async () => {
  await database?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A loopback port nothing listens on: connects to it are refused, like a crashed primary's. */
async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("service pool: reconnecting after a database blip", () => {
  it("caps postgres.js's pool-wide reconnect backoff at about a second", () => {
    for (const retries of [0, 1, 5, 10, 50]) {
      const seconds = reconnectBackoff(retries);
      expect(seconds).toBeGreaterThanOrEqual(0);
      expect(seconds).toBeLessThanOrEqual(1);
    }
  });

  it("serves every query within seconds of the write link coming back (no 20 s reconnect backoff)", async () => {
    const { port: pgPort } = new URL(database.url);
    const upstream = { host: "127.0.0.1", port: Number(pgPort) };
    const link = await FaultLink.start({ name: "test/order->primary", upstream });
    const url = new URL(database.url);
    url.port = String(link.port);
    const sql: Db = createPool(url.toString(), { max: 10, applicationName: "pool-reconnect-test" });
    const queries: { started: number; settled?: number }[] = [];
    let stop = false;
    try {
      await Promise.all(Array.from({ length: 10 }, () => sql`SELECT pg_sleep(0.01)`));
      // Service-like traffic: a query every 20 ms, whatever happens to the earlier ones.
      const traffic = (async () => {
        while (!stop) {
          const entry: { started: number; settled?: number } = { started: performance.now() };
          queries.push(entry);
          sql`SELECT 1`
            .catch(() => {})
            .finally(() => {
              entry.settled = performance.now();
            });
          await sleep(20);
        }
      })();
      await sleep(200);
      // The primary crashes: every open connection is reset, and connects fail for a while (the
      // failover's crash-to-promotion window, longer on a loaded machine) ...
      link.setUpstream({ host: "127.0.0.1", port: await deadPort() });
      await resetConnections(link);
      await sleep(1_000);
      // ... then the write link points at a server that accepts writes again.
      link.setUpstream(upstream);
      await resetConnections(link);
      const back = performance.now();
      await sleep(3_000);
      stop = true;
      await traffic;
      // Give stragglers time to show how long they really wait (postgres.js's default: up to ~20 s).
      const deadline = back + 25_000;
      while (queries.some((q) => q.settled === undefined) && performance.now() < deadline) await sleep(100);
      const lastSettled = Math.max(...queries.map((q) => q.settled ?? Number.POSITIVE_INFINITY));
      expect(lastSettled - back).toBeLessThan(4_000);
    } finally {
      stop = true;
      await sql.end({ timeout: 1 });
      await link.close();
    }
  }, 60_000);
});
