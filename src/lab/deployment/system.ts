/**
 * An existing deployment as the system under test (`chaoscart verify --target <topology file>`).
 * Faults go through the lab control API the file names; without one, experiments with faults do not
 * run (their result says so) and fault-free experiments run as usual.
 */
import postgres from "postgres";
import type { SystemUnderTest } from "../experiments/system.ts";
import { controlApiFaults } from "./control-faults.ts";
import { type TopologyFile, TopologyFileError } from "./topology-file.ts";

export function targetSystem(topology: TopologyFile, file: string): SystemUnderTest {
  const [region] = topology.regions;
  if (!region) throw new TopologyFileError([`${file}: regions: expected one region`]);
  const { control } = topology;
  return {
    region: region.name,
    gatewayUrl: topology.gateway,
    inventory: region.inventory,
    payments: region.payments,
    databaseUrl: () => region.database,
    orderMetricsUrl: () => (region.order ? `${region.order.url}/metrics` : undefined),
    probeTargets: () => [
      { service: "gateway", url: topology.gateway },
      { service: `${region.name}/inventory`, url: region.inventory.url },
      { service: `${region.name}/payment-sim`, url: region.payments.url },
      ...(region.order ? [{ service: `${region.name}/order`, url: region.order.url }] : []),
    ],
    faults: control ? () => controlApiFaults(control) : undefined,
    noFaultsReason: `the topology file ${file} names no lab control API (control), so faults cannot be injected`,
    // The experiment's topology settings are not applied to a deployment: record what was verified.
    settings: {
      target: topology.gateway,
      replication: "as deployed",
      fsync: "as deployed",
      synchronous_commit: "as deployed",
      // A deliberately broken shop (`lab up` with a built-in bug): every report says so.
      ...(topology.builtInBug ? { builtInBug: topology.builtInBug } : {}),
    },
  };
}

/**
 * Checks, before anything runs, that every endpoint of the file answers (and the tokens that can be
 * checked without writing are accepted). Throws a TopologyFileError naming each field that is wrong.
 */
export async function checkTarget(topology: TopologyFile, file: string): Promise<void> {
  const probes: [field: string, url: string, check: () => Promise<void>][] = [];
  const http = (field: string, url: string, token?: string) =>
    probes.push([
      field,
      url,
      async () => {
        const response = await fetch(url, {
          headers: token ? { authorization: `Bearer ${token}` } : {},
          signal: AbortSignal.timeout(5_000),
        });
        await response.body?.cancel();
        if (!response.ok) throw new Error(`answered ${response.status}`);
      },
    ]);
  http("gateway", `${topology.gateway}/healthz`);
  for (const [i, region] of topology.regions.entries()) {
    const at = `regions[${i}]`;
    http(`${at}.inventory.url`, `${region.inventory.url}/readyz`);
    http(`${at}.payments`, `${region.payments.url}/admin/faults`, region.payments.token);
    if (region.order) http(`${at}.order.url`, `${region.order.url}/metrics`);
    probes.push([
      `${at}.database`,
      region.database.replace(/\/\/[^@/]*@/, "//…@"),
      async () => {
        const sql = postgres(region.database, { max: 1, onnotice: () => {}, connect_timeout: 5 });
        try {
          await sql`SELECT 1 FROM orders LIMIT 1`;
        } finally {
          await sql.end({ timeout: 1 });
        }
      },
    ]);
  }
  if (topology.control) http("control", `${topology.control.url}/status`, topology.control.token);
  const failures = await Promise.all(
    probes.map(async ([field, url, check]) => {
      try {
        await check();
        return undefined;
      } catch (error) {
        const cause = (error as Error & { cause?: Error }).cause?.message;
        return `${file}: ${field}: ${url}: ${(error as Error).message}${cause ? ` (${cause})` : ""}`;
      }
    }),
  );
  const problems = failures.filter((f): f is string => f !== undefined);
  if (problems.length > 0) throw new TopologyFileError(problems);
}
