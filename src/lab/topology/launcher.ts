import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import type { BuiltInBug } from "../../shop/built-in-bugs.ts";
import { type FaultLink, LinkRegistry } from "../faults/index.ts";
import { type PgCluster, pgUrl, type ReplicationMode, startPgCluster } from "./postgres/index.ts";
import { ServiceProcess } from "./service-process.ts";

/**
 * The lab's topology launcher (docs/architecture.md §Lab): per region a PostgreSQL primary and streaming replica and
 * every shop service as a child process, with a fault link on every connection between them.
 *
 *   gateway ─► {r}/gateway->order ─► order ─► {r}/order->inventory ─► inventory
 *                                      ├────► {r}/order->payment ───► payment-sim
 *                                      ├────► {r}/order->primary ───► primary ◄── {r}/inventory->primary ◄── inventory
 *                                      └────► {r}/order->replica ───► replica ── {r}/replication ──► primary
 *
 * With several regions, each region also gets its own gateway, and the regions are joined over the
 * WAN, every cross-region connection through a link with the WAN profile (one-way latency ± jitter):
 *
 *   {r}/gateway ─► {r}/gateway->{p}-order ─► order of region p   (a unit homed in p)
 *   {r}/relay-{p} ─► {r}/relay->primary ─► r's primary            (r's outbox, read in commit order)
 *             └───► {r}/relay->{p}-primary ─► p's primary          (r's orders applied in p)
 *
 * A library first (the experiment runner calls it); `chaoscart lab up` is a thin command around it.
 */

/** One-way latency and jitter on every cross-region link (both directions). */
export interface WanProfile {
  latencyMs: number;
  jitterMs: number;
}

/** A continent apart, roughly: 20 ± 5 ms each way. */
export const DEFAULT_WAN: WanProfile = { latencyMs: 20, jitterMs: 5 };

export interface TopologyOptions {
  regions: string[];
  /** "none": a primary alone (no replica; the order service reads the primary). */
  replication: ReplicationMode | "none";
  /**
   * Default true: a fault link on every connection. False: services and PostgreSQL talk directly
   * (the bench measures the shop, not the links; nothing can be injected then).
   */
  links?: boolean;
  workDir: string;
  keep?: boolean;
  log?: (line: string) => void;
  /** Extra environment for every service (e.g. shorter leases in tests). */
  serviceEnv?: Record<string, string>;
  /** Extra environment for one role, over `serviceEnv` (e.g. a CPU profile file per service). */
  roleEnv?: Partial<Record<ServiceRole, Record<string, string>>>;
  /**
   * Launch the shop with this deliberate bug switched on (src/shop/built-in-bugs.ts): the lab's
   * regression guard. `stock-from-replica` also gives the inventory a link to the replica.
   */
  builtInBug?: BuiltInBug;
  /** The WAN between regions (ignored with one region, or without links); default DEFAULT_WAN. */
  wan?: WanProfile;
  /** A service died without the lab asking. The lab reports it and does not restart it. */
  onServiceExit?: (service: string, code: number | null, signal: NodeJS.Signals | null) => void;
}

export type ServiceRole = "inventory" | "payment-sim" | "order" | "gateway" | "relay";

export interface RegionTopology {
  name: string;
  code: number;
  cluster: PgCluster;
  services: Record<Exclude<ServiceRole, "gateway" | "relay">, ServiceProcess>;
  /** The region's own gateway (the first region's is also `Topology.gateway`). */
  gateway: ServiceProcess;
  /** One relay per peer region, by peer name: ships this region's changes there. */
  relays: Map<string, ServiceProcess>;
}

export interface ComponentRow {
  component: string;
  kind: "postgres" | "service" | "link" | "control";
  pid: number | null;
  address: string;
  detail: string;
}

export interface Topology {
  workDir: string;
  token: string;
  /** CHAOSCART_SERVICE_TOKEN of every service, for a test that calls an internal route itself. */
  serviceToken: string;
  /** The deliberate bug the shop was launched with; undefined for the real shop. */
  builtInBug?: BuiltInBug;
  regions: RegionTopology[];
  /** The first region's gateway: where a single-region client sends its requests. */
  gateway: ServiceProcess;
  links: LinkRegistry;
  /**
   * Every service by `<region>/<role>` (relays as `<region>/relay-<peer>`), plus `gateway` (the
   * first region's); other regions' gateways are `<region>/gateway`.
   */
  services(): Map<string, ServiceProcess>;
  components(): ComponentRow[];
  stop(): Promise<void>;
}

const localhost = (port: number) => ({ host: "127.0.0.1", port });

export async function startTopology(options: TopologyOptions): Promise<Topology> {
  const log = options.log ?? (() => {});
  if (options.regions.length === 0) throw new Error("a topology needs at least one region");
  mkdirSync(options.workDir, { recursive: true, mode: 0o755 });
  const token = randomBytes(16).toString("hex");
  // What the services show each other (CHAOSCART_SERVICE_TOKEN): distinct from the admin and lab
  // token, which the lab's tools hold.
  const serviceToken = randomBytes(32).toString("hex");
  const links = new LinkRegistry();
  const regions: RegionTopology[] = [];
  const clusters: PgCluster[] = [];
  const started: ServiceProcess[] = [];
  let gateway: ServiceProcess | undefined;
  const bugEnv: Record<string, string> = options.builtInBug
    ? { CHAOSCART_BUILT_IN_BUG: options.builtInBug }
    : {};
  if (options.builtInBug) log(`BUILT-IN BUG "${options.builtInBug}": this shop is deliberately broken`);

  const stop = async () => {
    await Promise.allSettled(started.map((s) => s.stop()));
    await links.closeAll();
    await Promise.allSettled(clusters.map((c) => c.stop()));
    if (!options.keep) rmSync(options.workDir, { recursive: true, force: true });
  };

  const withLinks = options.links ?? true;
  const withReplica = options.replication !== "none";
  /** Where a service reaches `port`: through a new fault link `{region}/{name}`, or directly. */
  const via = async (region: string, name: string, port: number): Promise<{ port: number }> =>
    withLinks ? links.start({ name: `${region}/${name}`, upstream: localhost(port) }) : { port };
  const orderPorts = new Map<string, number>();
  const gateways = new Map<string, ServiceProcess>();
  const built: Omit<RegionTopology, "gateway" | "relays">[] = [];

  try {
    for (const [code, region] of options.regions.entries()) {
      log(
        `${region}: starting PostgreSQL primary${withReplica ? ` + replica (${options.replication})` : " alone"}`,
      );
      let replication: FaultLink | undefined;
      const cluster = await startPgCluster({
        workDir: path.join(options.workDir, `pg-${region}`),
        replication: options.replication === "sync" ? "sync" : "async",
        replica: withReplica,
        keep: options.keep,
        ...(withLinks
          ? {
              replicationUpstream: async (primaryPort: number) => {
                replication = await links.start({
                  name: `${region}/replication`,
                  upstream: localhost(primaryPort),
                });
                return localhost(replication.port);
              },
            }
          : {}),
        log: (line) => log(`${region}:   ${line}`),
      });
      clusters.push(cluster);
      const replicaPort = cluster.replica?.port;
      if (withReplica && !replicaPort) throw new Error(`${region}: the cluster has no replica`);

      // Through a link, with the cluster's password (scram-sha-256).
      const url = (port: number) => pgUrl(port, "chaoscart", cluster.password);
      const link = (name: string, port: number) => via(region, name, port);
      const inventoryPrimary = await link("inventory->primary", cluster.primary.port);
      const orderPrimary = await link("order->primary", cluster.primary.port);
      const orderReplica = replicaPort ? await link("order->replica", replicaPort) : undefined;

      const service = async (role: Exclude<ServiceRole, "gateway">, env: Record<string, string>) => {
        log(`${region}: starting ${role}`);
        const process = await ServiceProcess.start({
          role,
          logFile: path.join(options.workDir, `${region}-${role}.log`),
          onUnexpectedExit: (code, signal) => options.onServiceExit?.(`${region}/${role}`, code, signal),
          env: {
            CHAOSCART_REGION: region,
            CHAOSCART_ADMIN_TOKEN: token,
            CHAOSCART_LAB_TOKEN: token,
            CHAOSCART_SERVICE_TOKEN: serviceToken,
            CHAOSCART_LOG_LEVEL: "info",
            ...options.serviceEnv,
            ...options.roleEnv?.[role],
            ...bugEnv,
            ...env,
          },
        });
        started.push(process);
        return process;
      };
      // Only a shop built with the bug that reads it gets a path from the inventory to the replica.
      const inventoryReplica =
        options.builtInBug === "stock-from-replica" && replicaPort
          ? await link("inventory->replica", replicaPort)
          : undefined;
      const inventory = await service("inventory", {
        CHAOSCART_DATABASE_URL: url(inventoryPrimary.port),
        ...(inventoryReplica ? { CHAOSCART_REPLICA_URL: url(inventoryReplica.port) } : {}),
      });
      const paymentSim = await service("payment-sim", {
        CHAOSCART_PAYMENT_JOURNAL: path.join(options.workDir, `${region}-payments.jsonl`),
      });
      const orderInventory = await link("order->inventory", inventory.port);
      const orderPayment = await link("order->payment", paymentSim.port);
      const order = await service("order", {
        CHAOSCART_DATABASE_URL: url(orderPrimary.port),
        ...(orderReplica ? { CHAOSCART_REPLICA_URL: url(orderReplica.port) } : {}),
        CHAOSCART_REGION_CODE: String(code),
        CHAOSCART_DEPLOYMENT_REGIONS: options.regions.join(","),
        CHAOSCART_INVENTORY_URL: `http://127.0.0.1:${orderInventory.port}`,
        CHAOSCART_PAYMENT_URL: `http://127.0.0.1:${orderPayment.port}`,
      });
      orderPorts.set(region, order.port);
      built.push({ name: region, code, cluster, services: { inventory, "payment-sim": paymentSim, order } });
    }

    const wan = options.wan ?? DEFAULT_WAN;
    /** A cross-region link: the WAN profile both ways, on top of whatever an experiment injects. */
    const wanLink = async (region: string, name: string, port: number) => {
      const linked = await via(region, name, port);
      const link = links.get(`${region}/${name}`);
      if (link && wan.latencyMs + wan.jitterMs > 0) {
        for (const direction of ["upstream", "downstream"] as const) {
          link.addToxic({
            type: "latency",
            direction,
            attributes: { latencyMs: wan.latencyMs, jitterMs: wan.jitterMs },
          });
        }
      }
      return linked;
    };
    if (built.length > 1) log(`WAN between regions: ${wan.latencyMs} ± ${wan.jitterMs} ms each way`);

    for (const region of built) {
      const upstreams: string[] = [];
      for (const home of built) {
        const port = orderPorts.get(home.name) as number;
        const linked =
          home.name === region.name
            ? await via(region.name, "gateway->order", port)
            : await wanLink(region.name, `gateway->${home.name}-order`, port);
        upstreams.push(`${home.name}=http://127.0.0.1:${linked.port}`);
      }
      const name = region === built[0] ? "gateway" : `${region.name}/gateway`;
      log(`${region.name}: starting gateway`);
      const gateway = await ServiceProcess.start({
        role: "gateway",
        logFile: path.join(
          options.workDir,
          region === built[0] ? "gateway.log" : `${region.name}-gateway.log`,
        ),
        onUnexpectedExit: (code, signal) => options.onServiceExit?.(name, code, signal),
        env: {
          CHAOSCART_REGIONS: upstreams.join(","),
          CHAOSCART_REGION: region.name,
          CHAOSCART_ADMIN_TOKEN: token,
          CHAOSCART_SERVICE_TOKEN: serviceToken,
          CHAOSCART_LOG_LEVEL: "info",
          ...options.serviceEnv,
          ...options.roleEnv?.gateway,
          ...bugEnv,
        },
      });
      started.push(gateway);
      gateways.set(region.name, gateway);
    }

    for (const region of built) {
      const relays = new Map<string, ServiceProcess>();
      const password = region.cluster.password;
      const local =
        built.length > 1 ? await via(region.name, "relay->primary", region.cluster.primary.port) : undefined;
      for (const peer of built) {
        if (peer === region || !local) continue;
        const remote = await wanLink(region.name, `relay->${peer.name}-primary`, peer.cluster.primary.port);
        log(`${region.name}: starting relay to ${peer.name}`);
        const name = `${region.name}/relay-${peer.name}`;
        const relay = await ServiceProcess.start({
          role: "relay",
          logFile: path.join(options.workDir, `${region.name}-relay-${peer.name}.log`),
          onUnexpectedExit: (code, signal) => options.onServiceExit?.(name, code, signal),
          env: {
            CHAOSCART_REGION: region.name,
            CHAOSCART_PEER_REGION: peer.name,
            CHAOSCART_DATABASE_URL: pgUrl(local.port, "chaoscart", password),
            CHAOSCART_PEER_DATABASE_URL: pgUrl(remote.port, "chaoscart", peer.cluster.password),
            CHAOSCART_LAB_TOKEN: token,
            CHAOSCART_LOG_LEVEL: "info",
            ...options.serviceEnv,
            ...options.roleEnv?.relay,
            ...bugEnv,
          },
        });
        started.push(relay);
        relays.set(peer.name, relay);
      }
      regions.push({ ...region, gateway: gateways.get(region.name) as ServiceProcess, relays });
    }
    gateway = gateways.get(built[0]?.name ?? "");
    if (!gateway) throw new Error("no gateway started");
  } catch (error) {
    await stop();
    throw error;
  }

  const gatewayProcess = gateway;
  const services = () => {
    const all = new Map<string, ServiceProcess>();
    for (const region of regions) {
      for (const [role, process] of Object.entries(region.services))
        all.set(`${region.name}/${role}`, process);
      for (const [peer, process] of region.relays) all.set(`${region.name}/relay-${peer}`, process);
      if (region.gateway !== gatewayProcess) all.set(`${region.name}/gateway`, region.gateway);
    }
    all.set("gateway", gatewayProcess);
    return all;
  };
  return {
    workDir: options.workDir,
    token,
    serviceToken,
    ...(options.builtInBug ? { builtInBug: options.builtInBug } : {}),
    regions,
    gateway: gatewayProcess,
    links,
    services,
    components: () => componentTable(regions, services(), links),
    stop,
  };
}

function componentTable(
  regions: RegionTopology[],
  services: Map<string, ServiceProcess>,
  links: LinkRegistry,
) {
  const rows: ComponentRow[] = [];
  for (const region of regions) {
    for (const node of [region.cluster.primary, region.cluster.replica]) {
      if (!node) continue;
      rows.push({
        component: `${region.name}/${node.role}`,
        kind: "postgres",
        pid: node.pid,
        address: `127.0.0.1:${node.port}`,
        detail: `${region.cluster.replication} replication, data ${node.dataDir}`,
      });
    }
  }
  for (const [name, service] of services) {
    rows.push({
      component: name,
      kind: "service",
      pid: service.pid ?? null,
      address: service.url,
      detail: service.pid ? "running" : "stopped",
    });
  }
  for (const link of links.list()) {
    const status = link.status();
    const faults = [
      status.down ? "down" : "",
      status.partition ? `partition(${status.partition.direction})` : "",
      ...status.toxics.map((t) => `${t.type}/${t.direction}`),
    ].filter(Boolean);
    rows.push({
      component: link.name,
      kind: "link",
      pid: null,
      address: `127.0.0.1:${link.port} → ${status.upstream.host}:${status.upstream.port}`,
      detail: faults.length > 0 ? faults.join(", ") : "clean",
    });
  }
  return rows;
}
