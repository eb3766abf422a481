// The launcher as the bench uses it: no fault links, a primary alone.
import { chmodSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { startTopology, type Topology } from "../../../src/lab/topology/launcher.ts";

let topology: Topology | undefined;
const workDir = mkdtempSync(path.join(tmpdir(), "chaoscart-direct-"));
chmodSync(workDir, 0o755); // PostgreSQL may run as an unprivileged user and must reach its dir
afterAll(() => topology?.stop());

it("starts the shop without fault links and without a replica when asked to", async () => {
  topology = await startTopology({
    regions: ["east"],
    replication: "none",
    links: false,
    workDir,
    serviceEnv: { CHAOSCART_LOG_LEVEL: "warn" },
    roleEnv: { order: { CHAOSCART_ORDER_MAX_IN_FLIGHT: "7" } },
  });
  const [region] = topology.regions;
  expect(region?.cluster.replica).toBeUndefined();
  expect(topology.links.list()).toEqual([]);
  expect(topology.components().filter((c) => c.kind === "link")).toEqual([]);
  expect(region?.services.order.spec.env).toMatchObject({ CHAOSCART_ORDER_MAX_IN_FLIGHT: "7" });
  expect(region?.services.order.spec.env.CHAOSCART_REPLICA_URL).toBeUndefined();
  expect(region?.services.inventory.spec.env.CHAOSCART_ORDER_MAX_IN_FLIGHT).toBeUndefined();
  // The gateway reaches the order service directly, and the whole path answers.
  const ready = await fetch(`${topology.gateway.url}/readyz`);
  expect(ready.status).toBe(200);
});
