/**
 * Nemesis targets by name, resolved in a topology: services (`east/inventory`, `gateway`), PostgreSQL
 * nodes (`east/primary`, `east/replica`), links (`east/order->primary`) and regions (`east`). Errors
 * are `NemesisSpecError`s on the `target` field, listing what exists.
 */
import type { FaultLink } from "../faults/index.ts";
import type { RegionTopology, Topology } from "../topology/launcher.ts";
import type { PgNode } from "../topology/postgres/index.ts";
import type { ServiceProcess } from "../topology/service-process.ts";
import { NemesisSpecError } from "./spec.ts";

/** The launcher's link names for one region. */
export const linkNames = {
  replication: (region: string) => `${region}/replication`,
  /**
   * The links services write through: what a failover repoints. With several regions, the relays'
   * links to the region's primary too: its own relays read its outbox there, and every peer's relay
   * applies its changes there (over the WAN).
   */
  writes: (region: string, regions: readonly string[] = [region]) => [
    `${region}/order->primary`,
    `${region}/inventory->primary`,
    ...(regions.length > 1 ? [`${region}/relay->primary`] : []),
    ...regions.filter((peer) => peer !== region).map((peer) => `${peer}/relay->${region}-primary`),
  ],
  orderPrimary: (region: string) => `${region}/order->primary`,
};

export interface ServiceTarget {
  name: string;
  process: ServiceProcess;
}

export interface PgNodeTarget {
  name: string;
  node: PgNode;
}

export function resolveService(topology: Topology, target: string): ServiceTarget {
  const services = topology.services();
  const process = services.get(target);
  if (!process) throw unknown(target, "service", [...services.keys()]);
  return { name: target, process };
}

export function resolvePgNode(topology: Topology, target: string): PgNodeTarget | undefined {
  const [regionName, role, ...rest] = target.split("/");
  if (rest.length > 0 || (role !== "primary" && role !== "replica")) return undefined;
  const region = topology.regions.find((r) => r.name === regionName);
  const node = region?.cluster[role];
  return node ? { name: target, node } : undefined;
}

export function resolveLink(topology: Topology, target: string): FaultLink {
  const link = topology.links.get(target);
  if (!link)
    throw unknown(
      target,
      "link",
      topology.links.list().map((l) => l.name),
    );
  return link;
}

/** A region by its name, or by `<region>/<suffix>` when `suffix` is allowed (e.g. `east/replica`). */
export function resolveRegion(topology: Topology, target: string, suffixes: string[] = []): RegionTopology {
  const [name, suffix, ...rest] = target.split("/");
  const region = topology.regions.find((r) => r.name === name);
  const allowed = suffix === undefined || (suffixes.includes(suffix) && rest.length === 0);
  if (!region || !allowed) {
    const names = topology.regions.flatMap((r) => [r.name, ...suffixes.map((s) => `${r.name}/${s}`)]);
    throw unknown(target, "region", names);
  }
  return region;
}

/** The region a link or service name belongs to (`east/order->primary` → east). */
export function regionOf(topology: Topology, name: string): RegionTopology {
  const prefix = name.split("/")[0];
  const region = topology.regions.find((r) => r.name === prefix);
  if (!region) throw new NemesisSpecError("target", `"${name}" does not name a region's component`);
  return region;
}

function unknown(target: string, kind: string, known: string[]): NemesisSpecError {
  return new NemesisSpecError(
    "target",
    `no ${kind} "${target}" in the topology (known: ${known.join(", ")})`,
  );
}
