/**
 * The system under test, as the experiment runner sees it: where to seed SKUs, where the workload
 * goes, where the final state is read, and how faults are injected. Two kinds:
 *
 * - a topology the lab launched itself (`launchedSystem`): faults are in-process nemeses;
 * - an existing deployment described by a topology file (`src/lab/deployment`): faults go through the
 *   lab's control API when the file names one, and cannot be injected otherwise.
 */
import { FaultController } from "../nemeses/controller.ts";
import { createNemesis } from "../nemeses/factory.ts";
import type { NemesisEvent } from "../nemeses/nemesis.ts";
import type { RegionTopology, Topology } from "../topology/launcher.ts";
import { pgUrl } from "../topology/postgres/index.ts";
import type { ProbeTarget } from "./probes.ts";
import type { ReplicationAccess } from "./replication.ts";

export interface Endpoint {
  url: string;
  /** Bearer token of its admin (or lab) API. */
  token: string;
}

/** What the runner reaches in one region. */
export interface RegionAccess {
  name: string;
  /** The region's own gateway (any gateway routes a user to the user's home region). */
  gatewayUrl: string;
  inventory: Endpoint;
  payments: Endpoint;
  /** The region's primary as the shop writes it now. */
  databaseUrl(): string;
}

export interface SystemUnderTest {
  /** The region the experiment runs in (with several regions: the first). */
  region: string;
  /** Where the workload sends its requests. */
  gatewayUrl: string;
  /** The inventory service: `POST /admin/skus` seeds the experiment's SKUs. */
  inventory: Endpoint;
  /** The payment provider: `GET /admin/payments` for the money checker. */
  payments: Endpoint;
  /** The region's primary database as the shop writes it now (read only: settle and final state). */
  databaseUrl(): string;
  /** The order service's `/metrics` (catalog counters), when it can be scraped. */
  orderMetricsUrl(): string | undefined;
  /** With several regions: every relay's `/metrics` (relay-metrics.ts). */
  relayMetricsUrls?(): string[];
  /** Services whose `/healthz` and `/readyz` the lab samples through the run (probes.ts). */
  probeTargets(): ProbeTarget[];
  /** A fresh fault injector for one run; undefined when this system cannot inject faults. */
  faults: (() => FaultInjector) | undefined;
  /** Why `faults` is undefined, for the result. */
  noFaultsReason?: string;
  /** Where replication is observed (and, on a launched topology, switched); undefined: not observed. */
  replication?: ReplicationAccess;
  /** Settings the result records about this system (they override the experiment's). */
  settings: Record<string, string>;
  /**
   * Several regions run as one system (the fields above are then the first region's): the workload
   * goes through every region's gateway and each region is seeded, settled and read.
   */
  regions?: readonly RegionAccess[];
}

/** Every region of a system: its `regions`, or the one region its own fields describe. */
export function regionsOf(system: SystemUnderTest): readonly RegionAccess[] {
  if (system.regions && system.regions.length > 0) return system.regions;
  const { region: name, gatewayUrl, inventory, payments, databaseUrl } = system;
  return [{ name, gatewayUrl, inventory, payments, databaseUrl }];
}

export interface FaultInjector {
  /** Starts a fault of the nemesis catalogue (`{ action, target, ...params }`); resolves to its description. */
  start(spec: Record<string, unknown>): Promise<string>;
  /** Heals every fault this injector started (also those that failed part-way). */
  healAll(): Promise<void>;
  /** Every nemesis event from now on: starts, stops, timed stops, failures. Returns an unsubscribe. */
  subscribe(listener: (event: NemesisEvent) => void): () => void;
}

/** A topology the lab launched: nemeses run in this process, on its processes and links. */
export function launchedSystem(topology: Topology): SystemUnderTest {
  const region = topology.regions[0];
  if (!region) throw new Error("the topology has no region");
  // Through the write link, which a failover repoints.
  const databaseUrlOf = (r: RegionTopology) => () => {
    const link = topology.links.get(`${r.name}/order->primary`);
    if (!link) throw new Error(`no link ${r.name}/order->primary`);
    return pgUrl(link.port, "chaoscart", r.cluster.password);
  };
  const databaseUrl = databaseUrlOf(region);
  const regions: RegionAccess[] = topology.regions.map((r) => ({
    name: r.name,
    gatewayUrl: r.gateway.url,
    inventory: { url: r.services.inventory.url, token: topology.token },
    payments: { url: r.services["payment-sim"].url, token: topology.token },
    databaseUrl: databaseUrlOf(r),
  }));
  return {
    ...(regions.length > 1 ? { regions } : {}),
    region: region.name,
    gatewayUrl: topology.gateway.url,
    inventory: { url: region.services.inventory.url, token: topology.token },
    payments: { url: region.services["payment-sim"].url, token: topology.token },
    databaseUrl,
    replication: { databaseUrl, canSwitch: true },
    orderMetricsUrl: () => {
      const order = topology.services().get(`${region.name}/order`);
      return order?.pid ? `${order.url}/metrics` : undefined;
    },
    relayMetricsUrls: () =>
      topology.regions.flatMap((r) => [...r.relays.values()].map((p) => `${p.url}/metrics`)),
    probeTargets: () => [...topology.services()].map(([service, process]) => ({ service, url: process.url })),
    faults: () => {
      const controller = new FaultController();
      return {
        start: async (spec) => {
          const nemesis = createNemesis(topology, spec);
          await controller.start(nemesis);
          return nemesis.describe();
        },
        healAll: async () => {
          await controller.stopAll({ links: topology.links });
        },
        subscribe: (listener) => controller.log.subscribe(listener),
      };
    },
    settings: {
      // A report from a deliberately broken shop must never pass for a real run.
      ...(topology.builtInBug ? { builtInBug: topology.builtInBug } : {}),
      ...(regions.length > 1
        ? {
            regions: regions.map((r) => r.name).join(","),
            replicationObserved: `${region.name} only (each region runs its own primary and replica)`,
          }
        : {}),
    },
  };
}
